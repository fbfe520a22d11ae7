"""Per-workload figures: medians with min–max over items × repeats, ratios paired per run.

A ratio (speedup, token ratio) is taken within one item and repeat, where every system saw
the same tool latencies, and only then summarised; a ratio of medians would mix items.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.systems import LLMCOMPILER, PLAN_FIRST, REACT, REACT_PARALLEL, SQLITE


@dataclass(frozen=True)
class Stat:
    median: float
    low: float
    high: float
    n: int


def stat(values: Iterable[float | None]) -> Stat | None:
    """Median, min and max of the values given (None values skipped); None if there are none."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    return Stat(statistics.median(present), min(present), max(present), len(present))


@dataclass(frozen=True)
class WorkloadSummary:
    """Every figure of one workload; per-system figures are keyed by system name."""

    workload: str
    items: int
    latency: dict[str, Stat]
    first_answer: dict[str, Stat]
    """Time to first answer token (the final answer's first text in the `messages` stream)."""
    llm_calls: dict[str, Stat]
    input_tokens: dict[str, Stat]
    output_tokens: dict[str, Stat]
    cost_usd: dict[str, Stat]
    overhead_ms: dict[str, Stat]
    correct: dict[str, tuple[int, int]]
    speedup_react: Stat | None
    speedup_parallel: Stat | None
    ceiling_react: Stat | None
    """ReAct latency / T*: the speedup a perfect LLMCompiler run would reach."""
    ceiling_parallel: Stat | None
    """Parallel-call ReAct latency / T*."""
    streaming_gain: Stat | None
    """plan-then-run latency / streaming latency (the paper's "streaming planner" gain)."""
    bound_s: Stat | None
    bound_ratio: Stat | None
    input_ratio: Stat | None
    """LLMCompiler input tokens / sequential ReAct's."""
    cost_ratio: Stat | None
    """Sequential ReAct cost / LLMCompiler's (the paper's "cost reduction")."""
    field_access_items: int
    """Items whose gold plan reads fields of earlier results (`$N.field`)."""
    notes: tuple[str, ...]


def _per_system(
    records: Sequence[RunRecord], value: Callable[[RunRecord], float | None]
) -> dict[str, Stat]:
    systems = dict.fromkeys(r.system for r in records)
    found = {s: stat(value(r) for r in records if r.system == s) for s in systems}
    return {s: v for s, v in found.items() if v is not None}


Figure = tuple[str, Callable[[RunRecord], float | None]]
"""A system and what to read off its record."""


def _latency(system: str) -> Figure:
    return system, lambda r: r.latency_s


def _paired(records: Sequence[RunRecord], top: Figure, bottom: Figure) -> Stat | None:
    """Median of top / bottom over the runs (item, repeat) that have both."""
    runs: dict[tuple[str, int], dict[str, RunRecord]] = {}
    for r in records:
        runs.setdefault((r.item, r.repeat), {})[r.system] = r
    ratios = []
    for run in runs.values():
        if top[0] in run and bottom[0] in run:
            numerator, denominator = top[1](run[top[0]]), bottom[1](run[bottom[0]])
            if numerator is not None and denominator:
                ratios.append(numerator / denominator)
    return stat(ratios)


def _notes(records: Sequence[RunRecord]) -> tuple[str, ...]:
    """Runs that raised and tasks that failed, each distinct reason once."""
    notes: dict[str, None] = {}
    for r in records:
        if r.error:
            notes[f"{r.system} run failed on item {r.item}: {r.error}"] = None
        for idx, reason in r.failed.items():
            notes[f"{r.system}: task ${idx} of item {r.item} failed: {reason}"] = None
    return tuple(notes)


def summarize(
    workload: str, records: Sequence[RunRecord], *, field_access_items: int = 0
) -> WorkloadSummary:
    """The figures of one workload's records."""
    mine = [r for r in records if r.workload == workload]
    compiler = [r for r in mine if r.system == LLMCOMPILER.name]
    bound: Figure = (LLMCOMPILER.name, lambda r: r.bound_s)
    correct = {
        s: (sum(r.correct for r in mine if r.system == s), sum(r.system == s for r in mine))
        for s in dict.fromkeys(r.system for r in mine)
    }
    return WorkloadSummary(
        workload=workload,
        items=len({r.item for r in mine}),
        latency=_per_system(mine, lambda r: r.latency_s),
        first_answer=_per_system(mine, lambda r: r.first_answer_s),
        llm_calls=_per_system(mine, lambda r: r.llm_calls),
        input_tokens=_per_system(mine, lambda r: r.input_tokens),
        output_tokens=_per_system(mine, lambda r: r.output_tokens),
        cost_usd=_per_system(mine, lambda r: r.cost_usd),
        overhead_ms=_per_system(
            [r for r in mine if r.system in (LLMCOMPILER.name, SQLITE.name)],
            lambda r: r.overhead_ms_per_task,
        ),
        correct=correct,
        speedup_react=_paired(mine, _latency(REACT.name), _latency(LLMCOMPILER.name)),
        speedup_parallel=_paired(mine, _latency(REACT_PARALLEL.name), _latency(LLMCOMPILER.name)),
        ceiling_react=_paired(mine, _latency(REACT.name), bound),
        ceiling_parallel=_paired(mine, _latency(REACT_PARALLEL.name), bound),
        streaming_gain=_paired(mine, _latency(PLAN_FIRST.name), _latency(LLMCOMPILER.name)),
        bound_s=stat(r.bound_s for r in compiler),
        bound_ratio=stat(r.bound_ratio for r in compiler),
        input_ratio=_paired(
            mine,
            (LLMCOMPILER.name, lambda r: r.input_tokens),
            (REACT.name, lambda r: r.input_tokens),
        ),
        cost_ratio=_paired(
            mine, (REACT.name, lambda r: r.cost_usd), (LLMCOMPILER.name, lambda r: r.cost_usd)
        ),
        field_access_items=field_access_items,
        notes=_notes(mine),
    )
