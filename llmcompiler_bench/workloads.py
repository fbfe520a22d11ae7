"""Workloads of docs/benchmark.md: each data item as a gold plan with simulated results.

`hotpotqa` (2 parallel searches), `movie` (8), `parallelqa` (a search and a math per branch,
then math over the branches), `nestful` (the gold call DAG, `$varN.field$` written as our
field access `$N.field`), the generated 1,000-task `stress-wide` / `stress-deep`, and
`pairwise` (ParallelQA questions planned naively, one pair at a time, so the first entity is
searched once per pair: the workload of common-call elimination).
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from llmcompiler_bench.accuracy import as_number
from llmcompiler_bench.datasets import load
from llmcompiler_bench.plans import (
    GoldTask,
    PlanText,
    Ref,
    Text,
    references,
    render_plan,
    results_of,
)
from llmcompiler_bench.tools import MATH, SEARCH, Latency, ToolSpec

SEARCH_RESULT_CHARS = 600
"""Length of a simulated search result, about a short encyclopedia introduction."""
_FILLER = (
    " It gives the dates, places, people and figures a reader would look up about this "
    "topic, in the plain style of an encyclopedia introduction."
)
STRESS_TASKS = 1000


@dataclass(frozen=True)
class Item:
    """One question: its gold plan (tasks), the tools it needs, and the expected answer;
    `final` names the task whose result is the whole answer, if one is."""

    workload: str
    id: str
    question: str
    answer: str
    tasks: tuple[GoldTask, ...]
    tools: tuple[ToolSpec, ...]
    final: int | None = None

    @cached_property
    def plan(self) -> PlanText:
        return render_plan(self.tasks, self.final)

    @property
    def uses_field_access(self) -> bool:
        return any(task.uses_field_access for task in self.tasks)

    @cached_property
    def duplicate_calls(self) -> int:
        """Tasks repeating an earlier task's call (tool and resolved arguments) of a pure tool:
        what common-call elimination saves."""
        pure = {spec.name for spec in self.tools if spec.pure}
        results = results_of(self.tasks)
        calls = [
            json.dumps([t.tool, t.resolved_args(results)], sort_keys=True, default=str)
            for t in self.tasks
            if t.tool in pure
        ]
        return len(calls) - len(set(calls))

    @property
    def cacheable_calls(self) -> int:
        """Tasks calling a pure tool: the result-cache runs give those a TTL."""
        pure = {spec.name for spec in self.tools if spec.pure}
        return sum(t.tool in pure for t in self.tasks)


@dataclass(frozen=True)
class Workload:
    """A named set of items. `stress`: 1,000 zero-latency tasks, instant models, no ReAct.
    `optimizations_only`: run only in the compiler-optimizations view (a naive plan made to
    exercise an optimization, not a fair plan to race the baselines with)."""

    name: str
    build: Callable[[int], list[Item]] = field(repr=False)
    stress: bool = False
    optimizations_only: bool = False


def search_task(idx: int, query: str, item_id: str) -> GoldTask:
    head = f"{query}: simulated encyclopedia passage (item {item_id}, search {idx})."
    text = head
    while len(text) < SEARCH_RESULT_CHARS:
        text += _FILLER
    text = text[:SEARCH_RESULT_CHARS].rsplit(" ", 1)[0].rstrip(",.") + "."
    return GoldTask(idx, SEARCH.name, {"query": query}, text, head, positional=1, quote=head)


def math_task(idx: int, problem: str, context: Sequence[int], value: float) -> GoldTask:
    args = {"problem": problem, "context": [Ref(i) for i in context]}
    return GoldTask(idx, MATH.name, args, value, repr(value), positional=1)


def _search_items(workload: str, queries: str) -> Callable[[int], list[Item]]:
    """Items whose gold plan is one search per entry of the row's `queries`, all parallel."""

    def build(n: int) -> list[Item]:
        return [
            Item(
                workload,
                row["id"],
                row["question"],
                row["answer"],
                tuple(search_task(i, q, row["id"]) for i, q in enumerate(row[queries], 1)),
                (SEARCH,),
            )
            for row in load("llmcompiler", workload)[:n]
        ]

    return build


hotpotqa = _search_items("hotpotqa", "entities")
movie = _search_items("movie", "titles")


def parallelqa(n: int) -> list[Item]:
    """Per branch a search and a math on it; a last math compares the branches."""
    items = []
    for row in load("llmcompiler", "parallelqa")[:n]:
        entities: list[str] = row["entities"]
        branches = len(entities)
        rng = random.Random(f"parallelqa/{row['id']}")
        tasks = [search_task(i, e, row["id"]) for i, e in enumerate(entities, 1)]
        tasks += [
            math_task(
                branches + i,
                f"{e} after the change the question describes",
                [i],
                round(rng.uniform(10, 10_000), 2),
            )
            for i, e in enumerate(entities, 1)
        ]
        items.append(
            _answered(
                "parallelqa",
                row,
                tasks,
                rng,
                "compare the changed values to answer the question",
                range(branches + 1, 2 * branches + 1),
            )
        )
    return items


def _answered(
    workload: str,
    row: dict[str, Any],
    tasks: list[GoldTask],
    rng: random.Random,
    problem: str,
    inputs: Sequence[int],
) -> Item:
    """The item, once a last math over `inputs` answers the question: with the item's answer
    when it is a number (so the plan ends `join(final=…)`), else a seeded stand-in and the
    joiner puts the comparison in words."""
    number = as_number(row["answer"])
    result = number if number is not None else round(rng.uniform(10, 10_000), 2)
    tasks.append(math_task(len(tasks) + 1, problem, inputs, result))
    final = None if number is None else len(tasks)
    return Item(
        workload,
        row["id"],
        row["question"],
        row["answer"],
        tuple(tasks),
        (SEARCH, MATH),
        final=final,
    )


def pairwise(n: int) -> list[Item]:
    """ParallelQA questions over three or more entities, planned naively one pair at a time.

    The plan compares the first entity with each of the others in turn: per pair a search of
    each side and a math comparing them, then a math over the pairs. The first entity is
    searched once per pair (the same call, the same result), which is the waste common-call
    elimination removes; with two entities there is one pair and no repeat, so those items are
    left out. Questions, entities and answers are the shipped ParallelQA items; as in
    `parallelqa`, intermediate math results are seeded stand-ins and a numeric answer is the
    last math's result (`join(final=…)`).
    """
    items = []
    rows = [row for row in load("llmcompiler", "parallelqa") if len(row["entities"]) >= 3]
    for row in rows[:n]:
        first, *others = row["entities"]
        rng = random.Random(f"pairwise/{row['id']}")
        tasks: list[GoldTask] = []
        searched: dict[str, GoldTask] = {}
        comparisons = []
        for other in others:
            sides = []
            for entity in (first, other):
                idx = len(tasks) + 1
                earlier = searched.get(entity)
                task = search_task(idx, entity, row["id"])
                if earlier is not None:  # the same call returns the same passage
                    task = replace(
                        task, result=earlier.result, evidence=earlier.evidence, quote=earlier.quote
                    )
                searched.setdefault(entity, task)
                tasks.append(task)
                sides.append(idx)
            comparisons.append(len(tasks) + 1)
            tasks.append(
                math_task(
                    len(tasks) + 1,
                    f"compare {first} with {other} after the changes the question describes",
                    sides,
                    round(rng.uniform(10, 10_000), 2),
                )
            )
        problem = "combine the pairwise comparisons to answer the question"
        items.append(_answered("pairwise", row, tasks, rng, problem, comparisons))
    return items


# NESTFUL: `$var3$`, `$var1.skyId$`, `$var1.author[0].id$`, `$var1.Exchange Rate$`.
_NESTFUL_REF = re.compile(r"\$var(\d+)((?:\.[^$.\[]+|\[\d+\])*)\$")
_NESTFUL_STEP = re.compile(r"\.([^$.\[]+)|\[(\d+)\]")
_JSON_TYPES = {"string", "number", "integer", "boolean", "array", "object"}


def tool_name(name: str) -> str:
    """A NESTFUL API name as a valid tool name (OpenAI allows letters, digits, `_` and `-`)."""
    return re.sub(r"[^\w-]", "_", name)


def _nestful_ref(match: re.Match[str], labels: Mapping[str, int]) -> Ref:
    path = tuple(key if key else int(index) for key, index in _NESTFUL_STEP.findall(match[2]))
    return Ref(labels[f"var{match[1]}"], path)


def _nestful_value(value: Any, labels: Mapping[str, int]) -> Any:
    """A gold argument with its `$varN…$` references as `Ref`s (or a `Text` around them)."""
    if isinstance(value, list):
        return [_nestful_value(v, labels) for v in value]
    if isinstance(value, dict):
        return {k: _nestful_value(v, labels) for k, v in value.items()}
    if not isinstance(value, str) or not _NESTFUL_REF.search(value):
        return value
    whole = _NESTFUL_REF.fullmatch(value)
    if whole:
        return _nestful_ref(whole, labels)
    parts: list[str | Ref] = []
    end = 0
    for match in _NESTFUL_REF.finditer(value):
        parts += [value[end : match.start()], _nestful_ref(match, labels)]
        end = match.end()
    parts.append(value[end:])
    return Text(tuple(p for p in parts if p != ""))


def _put(target: Any, step: str | int, value: Any) -> None:
    """Set `target[step]` unless something is there already (lists grow as needed)."""
    if isinstance(target, list):
        assert isinstance(step, int)
        target.extend([None] * (step + 1 - len(target)))
        if target[step] is None:
            target[step] = value
    else:
        target.setdefault(step, value)


def _set_path(target: Any, path: Sequence[str | int], value: Any) -> None:
    """Create `path` in nested dicts and lists (as each next step needs) ending in `value`."""
    for step, following in itertools.pairwise(path):
        _put(target, step, [] if isinstance(following, int) else {})
        target = target[step]
    _put(target, path[-1], value)


def _nestful_result(
    idx: int, tool: str, item_id: str, paths: Sequence[tuple[str | int, ...]]
) -> dict[str, Any]:
    """A structured result holding every field later calls read, plus a unique `ref`."""
    result: dict[str, Any] = {"ref": f"{tool} result {item_id}/{idx}"}
    for path in sorted(paths, key=len, reverse=True):  # containers before shorter leaves
        _set_path(result, path, f"var{idx}-" + "-".join(str(s) for s in path).replace(" ", "_"))
    return result


def _nestful_spec(api: Mapping[str, Any], used: set[str]) -> ToolSpec:
    """The API's JSON schema, reconciled with the gold calls that use it: NESTFUL's spec and
    gold data disagree for a few tools (TripadvisorSearchRestaurants requires `locationId`;
    its gold call passes `geoId`), so arguments the gold calls pass are added (untyped) and a
    required argument they omit is not required. The gold DAG then runs as given."""
    properties: dict[str, Any] = {}
    required = []
    for name, parameter in api["parameters"].items():
        kind = str(parameter.get("type", "")).lower()
        schema: dict[str, Any] = {"type": kind} if kind in _JSON_TYPES else {}
        if kind == "array":
            schema["items"] = {}
        if parameter.get("description"):
            schema["description"] = parameter["description"]
        if parameter.get("enum"):
            schema["enum"] = parameter["enum"]
        properties[name] = schema
        if parameter.get("required") and name in used:
            required.append(name)
    for name in sorted(used - properties.keys()):
        properties[name] = {}
    parameters = {"type": "object", "properties": properties, "required": required}
    return ToolSpec(tool_name(api["name"]), api["description"], parameters, Latency.SEARCH)


def nestful(n: int) -> list[Item]:
    """The gold call DAGs; `var_result` (the item's output) becomes the joiner's answer."""
    apis = {api["name"]: api for api in load("nestful", "spec")}
    items = []
    for row in load("nestful", "executable")[:n]:
        calls = [c for c in row["output"] if c["name"] != "var_result"]
        final = next(c for c in row["output"] if c["name"] == "var_result")
        labels = {call["label"]: i for i, call in enumerate(calls, 1)}
        args = [_nestful_value(call["arguments"], labels) for call in calls]
        read: dict[int, list[tuple[str | int, ...]]] = {i: [] for i in labels.values()}
        for ref in references([*args, _nestful_value(final["arguments"], labels)]):
            if ref.path:
                read[ref.idx].append(ref.path)
        tasks = []
        for i, (call, call_args) in enumerate(zip(calls, args, strict=True), 1):
            name = tool_name(call["name"])
            result = _nestful_result(i, name, row["id"], read[i])
            tasks.append(GoldTask(i, name, call_args, result, result["ref"]))
        used: dict[str, set[str]] = {}
        for call in calls:
            used.setdefault(call["name"], set()).update(call["arguments"])
        tools = tuple(_nestful_spec(apis[name], names) for name, names in used.items())
        answer = "Found the " + ", ".join(final["arguments"])
        items.append(Item("nestful", row["id"], row["input"], answer, tuple(tasks), tools))
    return items


STEP = ToolSpec(
    "step",
    "Do one unit of work (no latency); returns a note that step `n` is done.",
    {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "after": {"description": "An earlier step's result, to run after it."},
        },
        "required": ["n"],
    },
    Latency.ZERO,
)


def stress(shape: str) -> Callable[[int], list[Item]]:
    """1,000 zero-latency steps: all independent (`wide`) or each after the last (`deep`)."""

    def build(n: int) -> list[Item]:
        tasks = tuple(
            GoldTask(
                k,
                STEP.name,
                {"n": k} if shape == "wide" or k == 1 else {"n": k, "after": Ref(k - 1)},
                f"step {k} done",
                f"step {k} done",
                positional=1,
            )
            for k in range(1, STRESS_TASKS + 1)
        )
        question = f"Run all {STRESS_TASKS} steps."
        answer = f"All {STRESS_TASKS} steps are done."
        return [
            Item(f"stress-{shape}", f"{shape}-{STRESS_TASKS}", question, answer, tasks, (STEP,))
        ]

    return build


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("hotpotqa", hotpotqa),
        Workload("movie", movie),
        Workload("parallelqa", parallelqa),
        Workload("nestful", nestful),
        Workload("pairwise", pairwise, optimizations_only=True),
        Workload("stress-wide", stress("wide"), stress=True),
        Workload("stress-deep", stress("deep"), stress=True),
    )
}
