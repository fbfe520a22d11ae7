"""The compiler-optimizations view: the pairwise workload, each optimization's pair of runs
through the real graph, the figures and the table. Counts only, no wall-clock assertions
(the runs are at zero latency)."""

from __future__ import annotations

import pytest
from rich.console import Console

from llmcompiler_bench import tools
from llmcompiler_bench.optimizations import (
    CACHE,
    DEDUP,
    DIRECT,
    OPTIMIZATIONS,
    Optimization,
    items_for,
    run_pair,
    summarize_optimizations,
    variants,
)
from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.report import optimizations_table
from llmcompiler_bench.runner import INSTANT, Settings, run_item
from llmcompiler_bench.systems import LLMCOMPILER, REACT
from llmcompiler_bench.tools import SEARCH, build_tools
from llmcompiler_bench.workloads import WORKLOADS, Item

ZERO = Settings(("pairwise",), 1, 1, 0.0, INSTANT, 0)


def _first(workload: str, optimization: Optimization) -> Item:
    (item,) = items_for(WORKLOADS[workload], optimization, 1)
    return item


def _searches(record: RunRecord, query: str) -> int:
    return sum(span.tool == "search" and span.args == {"query": query} for span in record.tools)


def test_pairwise_plans_search_the_first_entity_once_per_pair() -> None:
    items = WORKLOADS["pairwise"].build(1000)
    assert len(items) == 30  # ParallelQA's items over 3, 4 or 5 entities
    for item in items:
        queries = [t.args["query"] for t in item.tasks if t.tool == "search"]
        pairs = len(set(queries)) - 1
        assert queries.count(queries[0]) == pairs == item.duplicate_calls + 1
        first = [t for t in item.tasks if t.args.get("query") == queries[0]]
        assert len({t.result for t in first}) == 1  # the same call, the same passage
    numeric = [i for i in items if i.final is not None]
    assert len(numeric) == 15 and all('join(final="$' in i.plan.text for i in numeric)
    assert items[0].plan.text.splitlines()[3] == '4. search("Mariana Trench")'


def test_only_pairwise_repeats_calls_and_nestful_apis_are_not_declared_pure() -> None:
    for name in ("hotpotqa", "movie", "parallelqa", "nestful"):
        assert not items_for(WORKLOADS[name], DEDUP, 1000), name
    assert not items_for(WORKLOADS["nestful"], CACHE, 1)
    assert [i.id for i in items_for(WORKLOADS["parallelqa"], DIRECT, 3)] == ["11", "12", "13"]
    assert not items_for(WORKLOADS["stress-wide"], CACHE, 1)


def test_simulated_search_is_pure_like_the_shipped_one_and_cacheable_only_when_asked() -> None:
    item = _first("hotpotqa", CACHE)
    zero = {t.idx: 0.0 for t in item.tasks}
    (plain,) = build_tools(item.tools, item.tasks, zero, 1.0)
    (cached,) = build_tools(item.tools, item.tasks, zero, 1.0, cacheable=True)
    assert SEARCH.pure and plain.metadata == {"pure": True}
    assert cached.metadata == {"pure": True, "cache_ttl_s": 3600.0}


async def test_a_repeated_call_returns_the_same_result_after_its_own_latency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    item = _first("pairwise", DEDUP)
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(tools.asyncio, "sleep", sleep)
    latencies = {t.idx: 0.0 for t in item.tasks} | {1: 0.5, 4: 0.7}
    (search, _math) = build_tools(item.tools, item.tasks, latencies, 2.0)
    query = {"query": item.tasks[0].args["query"]}
    results = [await search.ainvoke(query) for _ in range(3)]
    assert item.tasks[3].args == query  # the plan's repeat of task 1
    assert results == [item.tasks[0].result] * 3
    assert slept == [1.0, 1.4, 1.4]  # task 1's draw, task 4's, then the last one again


async def test_dedup_runs_the_repeated_search_once() -> None:
    item = _first("pairwise", DEDUP)
    off, on = await run_pair(item, DEDUP, 0, ZERO)
    common = item.tasks[0].args["query"]
    assert (off.variant, on.variant) == ("dedupe_calls:off", "dedupe_calls:on")
    assert _searches(off, common) == 2 and _searches(on, common) == 1
    assert (off.deduplicated, on.deduplicated) == (0, item.duplicate_calls)
    assert off.tool_calls == len(item.tasks) and on.tool_calls == len(item.tasks) - 1
    assert off.llm_calls == on.llm_calls == 2
    assert off.correct and on.correct and not on.failed


async def test_the_repeated_question_on_another_thread_runs_no_tool() -> None:
    item = _first("pairwise", CACHE)
    cold, warm = await run_pair(item, CACHE, 0, ZERO)
    unique = len(item.tasks) - item.duplicate_calls
    assert cold.tool_calls == unique and cold.cache_hits == 0  # dedup is on in both runs
    assert warm.tool_calls == 0 and warm.cache_hits == unique
    assert warm.deduplicated == item.duplicate_calls
    assert cold.correct and warm.correct and warm.llm_calls == 2


async def test_a_direct_answer_is_one_llm_call_instead_of_two() -> None:
    item = _first("parallelqa", DIRECT)
    off, on = await run_pair(item, DIRECT, 0, ZERO)
    assert (off.llm_calls, on.llm_calls) == (2, 1)
    assert [m.kind for m in off.models] == ["planner", "joiner"]
    assert [m.kind for m in on.models] == ["planner"]
    assert off.tool_calls == on.tool_calls == len(item.tasks)
    assert off.correct and on.correct
    for record in (off, on):  # the answer reached the messages stream, not after the run
        assert record.first_answer_s is not None and record.first_answer_s <= record.latency_s


async def test_time_to_first_answer_token_is_the_final_turn_for_react() -> None:
    item = _first("hotpotqa", CACHE)
    workload = WORKLOADS["hotpotqa"]
    zero = {t.idx: 0.0 for t in item.tasks}
    react = await run_item(workload, item, REACT, 0, ZERO, zero)
    ours = await run_item(workload, item, LLMCOMPILER, 0, ZERO, zero)
    final_turn = react.models[-1]
    assert len(react.models) == 3 and react.first_answer_s is not None
    assert final_turn.first_token_s is not None
    assert react.first_answer_s >= final_turn.first_token_s  # not the first turn's thought
    joiner = next(m for m in ours.models if m.kind == "joiner")
    assert ours.first_answer_s is not None and ours.first_answer_s >= joiner.start_s


async def test_summary_pairs_the_runs_and_the_table_has_a_column_per_optimization() -> None:
    records: list[RunRecord] = []
    pairwise = _first("pairwise", DIRECT)  # numeric: every optimization applies
    assert pairwise.final is not None and pairwise.duplicate_calls
    for optimization in OPTIMIZATIONS:
        records += await run_pair(pairwise, optimization, 0, ZERO)
    summary = summarize_optimizations("pairwise", records)
    dedup, cache, direct = (summary.effects[o.field] for o in OPTIMIZATIONS)
    n = len(pairwise.tasks)
    assert dedup.tool_calls[0] is not None and dedup.tool_calls[0].median == n
    assert dedup.tool_calls[1] is not None and dedup.tool_calls[1].median == n - 1
    assert cache.tool_calls[1] is not None and cache.tool_calls[1].median == 0
    assert direct.llm_calls[0] is not None and direct.llm_calls[0].median == 2
    assert direct.llm_calls[1] is not None and direct.llm_calls[1].median == 1
    assert dedup.reused is not None and dedup.reused.median == pairwise.duplicate_calls
    assert direct.reused is None and direct.correct == ((1, 1), (1, 1))
    assert direct.latency_saved is not None and direct.first_answer_saved is not None
    empty = summarize_optimizations("nestful", records)
    console = Console(record=True, width=250)
    console.print(optimizations_table([summary, empty]))
    text = console.export_text()
    for heading in ("common-call elimination", "result cache", "direct answer"):
        assert heading in text
    assert f"{n} → {n - 1}" in text and "2 → 1" in text and f"{n - 1} → 0" in text
    assert "nestful" in text and text.count("no item applies") == 3


@pytest.mark.parametrize("optimization", OPTIMIZATIONS, ids=lambda o: o.field)
def test_variants_switch_only_their_own_field(optimization: Optimization) -> None:
    off, on = variants(optimization)
    assert on.context == {}
    if optimization is CACHE:
        assert off.store is on.store is not None and off.thread_id != on.thread_id
    else:
        assert off.context == {optimization.field: False} and off.store is None
