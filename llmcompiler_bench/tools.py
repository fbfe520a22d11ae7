"""Simulated tools: the gold results after a seeded latency (docs/benchmark.md, "Tools").

A call is recognised by its tool name and resolved arguments, so LLMCompiler (which resolves
`$N` itself) and ReAct (whose scripted model writes the values) get the same result after the
same latency for the same call. An unknown call raises, which the run then reports. A call
the gold plan makes more than once (a repeated search) returns the same result each time, and
each execution takes the latency drawn for its own task, in call order: a repeated web lookup
pays its own round trip unless the engine reuses the first.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langchain_core.utils.function_calling import convert_to_openai_tool

from llmcompiler_bench.plans import GoldTask, results_of
from tools.corpus_search import search as shipped_search
from tools.math import build_math_tool

SEARCH_MEDIAN_S = 0.6
SEARCH_P95_S = 1.5
MATH_S = 0.02
_Z95 = 1.6448536269514722  # standard normal 95th percentile


class Latency(Enum):
    """Latency distributions: a web lookup, a local computation, and none at all."""

    SEARCH = "search"
    MATH = "math"
    ZERO = "zero"

    def sample(self, rng: random.Random) -> float:
        """Nominal seconds (before `--time-scale`): log-normal median 0.6 s, p95 1.5 s; 20 ms."""
        if self is Latency.SEARCH:
            sigma = math.log(SEARCH_P95_S / SEARCH_MEDIAN_S) / _Z95
            return rng.lognormvariate(math.log(SEARCH_MEDIAN_S), sigma)
        return MATH_S if self is Latency.MATH else 0.0


@dataclass(frozen=True)
class ToolSpec:
    """What a model sees of a tool (name, description, JSON schema) and how long it takes."""

    name: str
    description: str
    parameters: dict[str, Any]
    latency: Latency
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """What the engine reads of the tool: `pure` (deduplicable), `cache_ttl_s` (cacheable)."""

    @property
    def pure(self) -> bool:
        return bool(self.metadata.get("pure"))


def _spec_like(tool: BaseTool, latency: Latency) -> ToolSpec:
    """The shipped tool's surface (prompt-facing and the `pure`/`cache_ttl_s` metadata the
    engine reads), so prompts weigh what production's weigh and the optimizations apply where
    they would in production."""
    parameters = convert_to_openai_tool(tool)["function"]["parameters"]
    return ToolSpec(tool.name, tool.description, parameters, latency, dict(tool.metadata or {}))


SEARCH = _spec_like(shipped_search, Latency.SEARCH)
MATH = _spec_like(build_math_tool(), Latency.MATH)
CACHE_TTL_S = 3600.0
"""TTL given to pure tools for the result-cache runs (the shipped `wikipedia_search`'s)."""


def call_key(tool: str, args: Mapping[str, Any]) -> str:
    return json.dumps([tool, args], sort_keys=True, ensure_ascii=False, default=str)


def sample_latencies(
    tasks: Sequence[GoldTask], specs: Sequence[ToolSpec], seed: str
) -> dict[int, float]:
    """Each task's nominal latency, drawn in plan order from a generator seeded by `seed`."""
    rng = random.Random(seed)
    by_name = {spec.name: spec.latency for spec in specs}
    return {task.idx: by_name[task.tool].sample(rng) for task in tasks}


def call_table(tasks: Sequence[GoldTask]) -> dict[str, GoldTask]:
    """Gold tasks by the key of the calls that run them: with the arguments resolved as the
    engine does (whole results) and as a ReAct model writes them (quoting what it needs)."""
    table: dict[str, GoldTask] = {}
    for quoted in (False, True):
        results = results_of(tasks, quoted=quoted)
        for task in tasks:
            table.setdefault(call_key(task.tool, task.resolved_args(results)), task)
    return table


def call_occurrences(tasks: Sequence[GoldTask]) -> dict[str, list[GoldTask]]:
    """Per call key, every gold task making that call, in plan order (repeats of one call)."""
    occurrences: dict[str, list[GoldTask]] = {}
    for quoted in (False, True):
        results = results_of(tasks, quoted=quoted)
        for task in tasks:
            same = occurrences.setdefault(call_key(task.tool, task.resolved_args(results)), [])
            if task not in same:
                same.append(task)
    return occurrences


def tool_metadata(spec: ToolSpec, *, cacheable: bool = False) -> dict[str, Any]:
    """The metadata the simulated tool carries; `cacheable` gives pure tools a cache TTL."""
    metadata = dict(spec.metadata)
    if cacheable and spec.pure:
        metadata.setdefault("cache_ttl_s", CACHE_TTL_S)
    return metadata


def build_tools(
    specs: Sequence[ToolSpec],
    tasks: Sequence[GoldTask],
    latencies: Mapping[int, float],
    time_scale: float,
    *,
    cacheable: bool = False,
) -> list[BaseTool]:
    """LangChain tools that answer the gold calls after their (scaled) latency; the n-th
    execution of a call takes the latency of the n-th gold task making it. Fresh per run."""
    occurrences = call_occurrences(tasks)
    executed: dict[str, int] = {}

    def make(spec: ToolSpec) -> BaseTool:
        async def call(**kwargs: Any) -> Any:
            key = call_key(spec.name, kwargs)
            same = occurrences.get(key)
            if not same:
                raise ToolException(f"no simulated result for {spec.name}({kwargs})")
            count = executed.get(key, 0)
            executed[key] = count + 1
            task = same[min(count, len(same) - 1)]
            delay = latencies[task.idx] * time_scale
            if delay > 0:
                await asyncio.sleep(delay)
            return task.result

        return StructuredTool.from_function(
            coroutine=call,
            name=spec.name,
            description=spec.description,
            args_schema=spec.parameters,  # a JSON schema: arguments pass through unvalidated
            metadata=tool_metadata(spec, cacheable=cacheable),
        )

    return [make(spec) for spec in specs]
