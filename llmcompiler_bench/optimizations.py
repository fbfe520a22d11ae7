"""The compiler-optimizations view: LLMCompiler with each optimization off, then on.

Each optimization is measured on the items of a workload where it can act, with the tool
latencies of the main comparison (same seed per item and repeat), one run right after the
other:

- common-call elimination: `Context(dedupe_calls=False)`, then the default; items whose gold
  plan repeats a call of a pure tool (the `pairwise` workload);
- result cache: the same question twice, on two threads sharing one `InMemoryStore`, with the
  pure tools given a cache TTL: the first run fills the cache, the second is measured against
  it (a repeated question);
- direct answers: `Context(direct_answers=False)`, then the default; items whose plan ends
  `join(final="$K")` (numeric ParallelQA answers): the joiner call, then none.

The figures are what each saves: latency, time to first answer token, LLM calls, tool calls
executed; each saving is paired within an item and repeat before it is summarised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from langgraph.store.memory import InMemoryStore

from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.runner import INSTANT, Settings, Variant, latencies_of, run_item
from llmcompiler_bench.summary import Stat, stat
from llmcompiler_bench.systems import LLMCOMPILER
from llmcompiler_bench.workloads import WORKLOADS, Item, Workload

EVERY_ITEM = 1_000_000
"""`Workload.build(EVERY_ITEM)`: every shipped item (builders take the first n)."""


@dataclass(frozen=True)
class Optimization:
    """One optimization: the Context field it is, how the two runs are told apart, and
    which items it can act on. `sides` name the runs without and with it."""

    field: str
    label: str
    sides: tuple[str, str]
    applies: Callable[[Item], bool]
    what: str
    """What the two runs are, for the table's header."""


DEDUP = Optimization(
    "dedupe_calls",
    "common-call elimination",
    ("off", "on"),
    lambda item: item.duplicate_calls > 0,
    "dedupe_calls off → on",
)
CACHE = Optimization(
    "cache_results",
    "result cache",
    ("cold", "warm"),
    lambda item: item.cacheable_calls > 0,
    "1st run → same question again",
)
DIRECT = Optimization(
    "direct_answers",
    "direct answer (no joiner)",
    ("off", "on"),
    lambda item: item.final is not None,
    "direct_answers off → on",
)
OPTIMIZATIONS = (DEDUP, CACHE, DIRECT)


def items_for(workload: Workload, optimization: Optimization, n: int) -> list[Item]:
    """The first `n` items of the workload (dataset order) the optimization can act on."""
    if workload.stress:
        return []
    return [item for item in workload.build(EVERY_ITEM) if optimization.applies(item)][:n]


def variants(optimization: Optimization) -> tuple[Variant, Variant]:
    """The run without the optimization and the run with it (fresh store per pair)."""
    off, on = (f"{optimization.field}:{side}" for side in optimization.sides)
    if optimization is CACHE:
        store = InMemoryStore()
        first = Variant(off, store=store, thread_id="first")
        return first, Variant(on, store=store, thread_id="second")
    return Variant(off, context={optimization.field: False}), Variant(on)


async def run_pair(
    item: Item,
    optimization: Optimization,
    repeat: int,
    settings: Settings,
    on_record: Callable[[RunRecord], None] = lambda _record: None,
) -> tuple[RunRecord, RunRecord]:
    """The run without the optimization, then the run with it, on the same tool latencies."""
    workload = WORKLOADS[item.workload]
    latencies = latencies_of(item, repeat, settings)
    off, on = [
        await run_item(workload, item, LLMCOMPILER, repeat, settings, latencies, variant)
        for variant in variants(optimization)
    ]
    on_record(off)
    on_record(on)
    return off, on


async def warm_up(settings: Settings) -> None:
    """Every variant once at zero latency (store and cache code paths included); discarded."""
    quiet = Settings(("pairwise",), 1, 1, 0.0, INSTANT, settings.seed)
    for optimization in OPTIMIZATIONS:
        workload = "parallelqa" if optimization is DIRECT else "pairwise"
        (item,) = items_for(WORKLOADS[workload], optimization, 1)
        await run_pair(item, optimization, 0, quiet)


async def run_optimizations(
    settings: Settings, on_record: Callable[[RunRecord], None] = lambda _record: None
) -> list[RunRecord]:
    """Every optimization's pair of runs on every applicable item and repeat."""
    runs = [
        (item, optimization)
        for name in settings.workloads
        for optimization in OPTIMIZATIONS
        for item in items_for(WORKLOADS[name], optimization, settings.n)
    ]
    if runs:
        await warm_up(settings)
    records: list[RunRecord] = []
    for item, optimization in runs:
        for repeat in range(settings.repeats):
            records += await run_pair(item, optimization, repeat, settings, on_record)
    return records


@dataclass(frozen=True)
class Effect:
    """One optimization on one workload: each figure without it and with it (medians over
    items × repeats), and savings paired per run (without − with)."""

    optimization: str
    items: int
    latency: tuple[Stat | None, Stat | None]
    latency_saved: Stat | None
    latency_saved_share: Stat | None
    """Saving ÷ latency without the optimization."""
    first_answer: tuple[Stat | None, Stat | None]
    first_answer_saved: Stat | None
    llm_calls: tuple[Stat | None, Stat | None]
    tool_calls: tuple[Stat | None, Stat | None]
    reused: Stat | None
    """Tasks answered without running their tool, with it: deduplicated or cache hits."""
    correct: tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class OptimizationSummary:
    workload: str
    effects: dict[str, Effect]
    """Keyed by the optimization's Context field; absent where no item applies."""


Pair = tuple[RunRecord, RunRecord]


def _pairs(records: Sequence[RunRecord], optimization: Optimization) -> list[Pair]:
    off, on = (f"{optimization.field}:{side}" for side in optimization.sides)
    runs: dict[tuple[str, int], dict[str, RunRecord]] = {}
    for r in records:
        if r.variant in (off, on):
            runs.setdefault((r.item, r.repeat), {})[r.variant] = r
    return [(run[off], run[on]) for run in runs.values() if off in run and on in run]


def _both(
    pairs: Sequence[Pair], value: Callable[[RunRecord], float | None]
) -> tuple[Stat | None, Stat | None]:
    return stat(value(off) for off, _ in pairs), stat(value(on) for _, on in pairs)


def _saved(pairs: Sequence[Pair], value: Callable[[RunRecord], float | None]) -> Stat | None:
    differences = []
    for off, on in pairs:
        before, after = value(off), value(on)
        if before is not None and after is not None:
            differences.append(before - after)
    return stat(differences)


def effect(optimization: Optimization, records: Sequence[RunRecord]) -> Effect | None:
    """The optimization's figures from its runs among `records` (None if it has none)."""
    pairs = _pairs(records, optimization)
    if not pairs:
        return None
    reused = (lambda r: r.deduplicated) if optimization is DEDUP else (lambda r: r.cache_hits)
    return Effect(
        optimization=optimization.field,
        items=len({off.item for off, _ in pairs}),
        latency=_both(pairs, lambda r: r.latency_s),
        latency_saved=_saved(pairs, lambda r: r.latency_s),
        latency_saved_share=stat(
            (off.latency_s - on.latency_s) / off.latency_s for off, on in pairs if off.latency_s
        ),
        first_answer=_both(pairs, lambda r: r.first_answer_s),
        first_answer_saved=_saved(pairs, lambda r: r.first_answer_s),
        llm_calls=_both(pairs, lambda r: r.llm_calls),
        tool_calls=_both(pairs, lambda r: r.tool_calls),
        reused=None if optimization is DIRECT else stat(reused(on) for _, on in pairs),
        correct=(
            (sum(off.correct for off, _ in pairs), len(pairs)),
            (sum(on.correct for _, on in pairs), len(pairs)),
        ),
    )


def summarize_optimizations(workload: str, records: Sequence[RunRecord]) -> OptimizationSummary:
    mine = [r for r in records if r.workload == workload and r.variant]
    found = {o.field: effect(o, mine) for o in OPTIMIZATIONS}
    return OptimizationSummary(workload, {k: v for k, v in found.items() if v is not None})
