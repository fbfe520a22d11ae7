"""Simulated tools: the gold results after a seeded latency (BENCHMARK.md, "Tools").

A call is recognised by its tool name and resolved arguments, so LLMCompiler (which resolves
`$N` itself) and ReAct (whose scripted model writes the values) get the same result after the
same latency for the same call. An unknown call raises, which the run then reports.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langchain_core.utils.function_calling import convert_to_openai_tool

from agent.bench.plans import GoldTask, results_of
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


def _spec_like(tool: BaseTool, latency: Latency) -> ToolSpec:
    """The shipped tool's prompt-facing surface, so prompts weigh what production's weigh."""
    parameters = convert_to_openai_tool(tool)["function"]["parameters"]
    return ToolSpec(tool.name, tool.description, parameters, latency)


SEARCH = _spec_like(shipped_search, Latency.SEARCH)
MATH = _spec_like(build_math_tool(), Latency.MATH)


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


def build_tools(
    specs: Sequence[ToolSpec],
    tasks: Sequence[GoldTask],
    latencies: Mapping[int, float],
    time_scale: float,
) -> list[BaseTool]:
    """LangChain tools that answer the gold calls after their (scaled) latency."""
    table = call_table(tasks)

    def make(spec: ToolSpec) -> BaseTool:
        async def call(**kwargs: Any) -> Any:
            task = table.get(call_key(spec.name, kwargs))
            if task is None:
                raise ToolException(f"no simulated result for {spec.name}({kwargs})")
            delay = latencies[task.idx] * time_scale
            if delay > 0:
                await asyncio.sleep(delay)
            return task.result

        return StructuredTool.from_function(
            coroutine=call,
            name=spec.name,
            description=spec.description,
            args_schema=spec.parameters,  # a JSON schema: arguments pass through unvalidated
        )

    return [make(spec) for spec in specs]
