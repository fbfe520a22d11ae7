"""Gold plans: tool calls whose arguments may reference earlier results, in two renderings.

A gold task's arguments hold `Ref`s (a result, maybe projected into a field) and `Text`s (a
string with references inside). The planner *writes* them in the plan language (`"$1"`,
`"$1.skyId"`, `"${1}['Exchange Rate']"`); a ReAct model, having read the results, passes the
*resolved* values. Both renderings come from one structure, so the two systems issue exactly
the same tool calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Ref:
    """Task `idx`'s result, projected by `path` (keys and list indices; empty: the whole)."""

    idx: int
    path: tuple[str | int, ...] = ()

    def written(self, *, braced: bool = False) -> str:
        """The plan-language form: `$N`, `$N.name`, `${N}['key']`, `$N[0]`."""
        text = f"${{{self.idx}}}" if braced else f"${self.idx}"
        for step in self.path:
            if isinstance(step, int):
                text += f"[{step}]"
            elif _IDENTIFIER.fullmatch(step):
                text += f".{step}"
            else:
                text += f"[{step!r}]"
        return text

    def resolve(self, results: Mapping[int, Any]) -> Any:
        value = results[self.idx]
        for step in self.path:
            value = value[step]
        return value


@dataclass(frozen=True)
class Text:
    """A string with references inside it; each becomes its result's text when resolved."""

    parts: tuple[str | Ref, ...]

    def written(self) -> str:
        return "".join(p if isinstance(p, str) else p.written(braced=True) for p in self.parts)

    def resolve(self, results: Mapping[int, Any]) -> str:
        return "".join(p if isinstance(p, str) else as_text(p.resolve(results)) for p in self.parts)


def as_text(value: Any) -> str:
    """A value as a model reads it inside text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def references(value: Any) -> Iterator[Ref]:
    """Every `Ref` inside an argument value, in order."""
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, Text):
        yield from (p for p in value.parts if isinstance(p, Ref))
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from references(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from references(inner)


def resolve(value: Any, results: Mapping[int, Any]) -> Any:
    """`value` with every reference replaced by what it refers to."""
    if isinstance(value, Ref | Text):
        return value.resolve(results)
    if isinstance(value, Mapping):
        return {key: resolve(inner, results) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(inner, results) for inner in value]
    return value


def literal(value: Any) -> str:
    """A value as a Python literal in the plan, strings double-quoted as models write them."""
    if isinstance(value, Ref | Text):
        return literal(value.written())
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(inner) for inner in value) + "]"
    return repr(value)


@dataclass(frozen=True)
class GoldTask:
    """One tool call of a gold plan and the result the simulated tool gives it.

    `evidence` is text that reaches a model's prompt only through this result; the scripted
    joiner and ReAct answer correctly only when every task's evidence is in their prompt.
    `quote` is what a model copies of the result when it passes it to a later call itself
    (ReAct), e.g. the one sentence of a passage it needs; None means the whole result. The
    first `positional` arguments are written without their names.
    """

    idx: int
    tool: str
    args: dict[str, Any]
    result: Any
    evidence: str
    positional: int = 0
    quote: Any = None
    deps: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "deps", tuple(sorted({r.idx for r in references(self.args)})))

    @property
    def uses_field_access(self) -> bool:
        return any(r.path for r in references(self.args))

    def written(self) -> str:
        """The task's plan line without its index: `tool(args)`."""
        rendered = [literal(v) for v in list(self.args.values())[: self.positional]]
        rendered += [f"{k}={literal(v)}" for k, v in list(self.args.items())[self.positional :]]
        return f"{self.tool}({', '.join(rendered)})"

    def resolved_args(self, results: Mapping[int, Any]) -> dict[str, Any]:
        return {name: resolve(value, results) for name, value in self.args.items()}


@dataclass(frozen=True)
class PlanText:
    """A rendered plan and, per task (join included), the offset of its closing paren."""

    text: str
    closes: dict[int, int]
    join_idx: int


def render_plan(tasks: Sequence[GoldTask], final: int | None = None) -> PlanText:
    """The plan the scripted planner streams: one line per task, then `join()` (the planner
    prompt asks for nothing after it).

    With `final`, the plan ends `join(final="$K")`: task K's result is the whole answer, so
    the engine skips the joiner call (the planner prompt asks for this when it applies).
    """
    lines: list[str] = []
    closes: dict[int, int] = {}
    offset = 0
    join_idx = max((t.idx for t in tasks), default=0) + 1
    join = "join()" if final is None else f"join(final={literal(Ref(final))})"
    for idx, body in [*((t.idx, t.written()) for t in tasks), (join_idx, join)]:
        line = f"{idx}. {body}"
        closes[idx] = offset + len(line) - 1
        lines.append(line)
        offset += len(line) + 1
    return PlanText("\n".join(lines), closes, join_idx)


def results_of(tasks: Sequence[GoldTask], *, quoted: bool = False) -> dict[int, Any]:
    """Each task's result, or (`quoted`) what a model copies of it into a later call."""
    return {t.idx: t.quote if quoted and t.quote is not None else t.result for t in tasks}


def layers(tasks: Sequence[GoldTask]) -> list[list[GoldTask]]:
    """Tasks grouped by depth: each layer's tasks depend only on earlier layers."""
    depth: dict[int, int] = {}
    for task in sorted(tasks, key=lambda t: t.idx):
        depth[task.idx] = 1 + max((depth[d] for d in task.deps), default=-1)
    grouped: dict[int, list[GoldTask]] = {}
    for task in tasks:
        grouped.setdefault(depth[task.idx], []).append(task)
    return [grouped[level] for level in sorted(grouped)]
