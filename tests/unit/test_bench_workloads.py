"""Workload builders: plan shapes, references as the engine parses them, ReAct turns, data."""

from __future__ import annotations

from importlib import resources

import pytest

from agent.plan import parse_plan
from llmcompiler_bench import replies
from llmcompiler_bench.plans import GoldTask, Ref, Text, layers, render_plan, results_of
from llmcompiler_bench.tools import build_tools, call_key, call_occurrences, call_table
from llmcompiler_bench.workloads import STRESS_TASKS, WORKLOADS, Item, nestful


def _items(name: str, n: int = 20) -> list[Item]:
    return WORKLOADS[name].build(n)


def _shape(item: Item) -> list[tuple[str, tuple[int, ...]]]:
    return [(t.tool, t.deps) for t in item.tasks]


def test_hotpotqa_is_two_parallel_searches() -> None:
    items = _items("hotpotqa", 50)
    assert len(items) == 50
    assert all(_shape(i) == [("search", ()), ("search", ())] for i in items)
    assert items[0].plan.text == ('1. search("Scott Derrickson")\n2. search("Ed Wood")\n3. join()')


def test_movie_is_eight_parallel_searches_with_the_options_among_them() -> None:
    for item in _items("movie"):
        assert _shape(item) == [("search", ())] * 8
        assert item.answer in [t.args["query"] for t in item.tasks[4:]]
        assert all(t.args["query"] in item.question for t in item.tasks)


def test_parallelqa_branches_into_search_then_math_then_one_math_over_branches() -> None:
    items = _items("parallelqa", 40)
    assert sorted({len(i.tasks) for i in items}) == [5, 7, 9, 11]  # branch 2..5
    for item in items:
        b = (len(item.tasks) - 1) // 2
        assert _shape(item) == [
            *[("search", ())] * b,
            *[("math", (i,)) for i in range(1, b + 1)],
            ("math", tuple(range(b + 1, 2 * b + 1))),
        ]
        assert [len(layer) for layer in layers(item.tasks)] == [b, b, 1]


def test_a_numeric_answer_is_the_last_math_and_the_plan_says_so() -> None:
    by_id = {i.id: i for i in _items("parallelqa", 40)}
    assert by_id["1"].final is None and by_id["1"].plan.text.endswith("6. join()")
    numeric = by_id["11"]  # "how much deeper ... in meters?" -> 5931.80
    assert numeric.final == 5 and numeric.tasks[4].result == 5931.8
    assert numeric.plan.text.endswith('6. join(final="$5")')


def test_nestful_references_become_our_field_access() -> None:
    first = nestful(1)[0]
    flight = first.tasks[2]
    assert flight.args["originSkyId"] == Ref(1, ("skyId",))
    assert flight.deps == (1, 2)
    assert first.uses_field_access
    assert '3. SkyScrapperFlightSearch(originSkyId="$1.skyId", destinationSkyId="$2.skyId"' in (
        first.plan.text
    )
    exchange = nestful(15)[14].tasks[1]  # "5 * $var1.Exchange Rate$" inside a longer string
    embedded = next(v for v in exchange.args.values() if isinstance(v, Text))
    assert embedded.written() == "5 * ${1}['Exchange Rate']"
    assert embedded.resolve(results_of(nestful(15)[14].tasks)) == "5 * var1-Exchange_Rate"


@pytest.mark.parametrize("name", ["hotpotqa", "movie", "parallelqa", "nestful", "pairwise"])
def test_the_engine_parses_every_gold_plan_into_the_gold_dag(name: str) -> None:
    for item in _items(name):
        tools = build_tools(item.tools, item.tasks, {t.idx: 0.0 for t in item.tasks}, 1.0)
        parsed = parse_plan(item.plan.text, tools)
        assert [(t.tool, tuple(t.deps)) for t in parsed[:-1]] == _shape(item), item.id
        assert parsed[-1].is_join and parsed[-1].idx == item.plan.join_idx
        assert all(t.error is None for t in parsed), [t.error for t in parsed]


def test_stress_plans_are_a_thousand_wide_and_a_thousand_deep() -> None:
    (wide,) = _items("stress-wide")
    (deep,) = _items("stress-deep")
    assert len(wide.tasks) == len(deep.tasks) == STRESS_TASKS
    assert all(t.deps == () for t in wide.tasks)
    assert [t.deps for t in deep.tasks[:3]] == [(), (1,), (2,)]
    assert len(layers(deep.tasks)) == STRESS_TASKS and len(layers(wide.tasks)) == 1


def test_closing_paren_offsets_point_at_each_line_end() -> None:
    tasks = [GoldTask(1, "search", {"query": "a"}, "r", "r", positional=1)]
    plan = render_plan(tasks)
    assert plan.text == '1. search("a")\n2. join()'
    assert {i: plan.text[c] for i, c in plan.closes.items()} == {1: ")", 2: ")"}
    assert plan.closes == {1: 13, 2: 23}


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_every_call_either_system_makes_has_a_simulated_result(name: str) -> None:
    for item in _items(name, 5):
        occurrences, table = call_occurrences(item.tasks), call_table(item.tasks)
        full, quoted = results_of(item.tasks), results_of(item.tasks, quoted=True)
        for task in item.tasks:  # a repeated call lists every task making it
            assert task in occurrences[call_key(task.tool, task.resolved_args(full))]
            assert task in occurrences[call_key(task.tool, task.resolved_args(quoted))]
            first = table[call_key(task.tool, task.resolved_args(full))]
            assert first.result == task.result and first.idx <= task.idx


def test_react_scripts_make_one_call_per_turn_or_one_layer_per_turn() -> None:
    item = _items("parallelqa", 1)[0]  # 2 branches: 5 tasks in 3 layers
    sequential = replies.react(item, parallel=False)
    parallel = replies.react(item, parallel=True)
    assert [c["name"] for c in sequential([]).tool_calls] == ["search"]
    assert len(parallel([]).tool_calls) == 2
    assert sequential([]).text.endswith(".")  # a one-sentence thought before the call
    quoted = parallel([]).tool_calls
    assert all(len(str(c["args"])) < 100 for c in quoted)


def test_the_shipped_data_carries_its_licenses() -> None:
    data = resources.files("llmcompiler_bench.data")
    assert data.joinpath("llmcompiler/LICENSE").read_text().startswith("MIT License")
    assert "Apache License" in data.joinpath("nestful/LICENSE").read_text()
