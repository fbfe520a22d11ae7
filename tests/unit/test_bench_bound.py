"""T*: longest tool paths and the bound on hand-checked DAGs; line deadlines of a plan."""

from __future__ import annotations

import pytest

from llmcompiler_bench.bound import critical_path_bound, line_ready_times, longest_paths
from llmcompiler_bench.plans import GoldTask, render_plan
from llmcompiler_scripted import ModelProfile


def test_longest_paths_of_a_diamond() -> None:
    #   1 (2s) ─┬─> 2 (1s) ─┬─> 4 (0.5s)
    #           └─> 3 (3s) ─┘
    durations = {1: 2.0, 2: 1.0, 3: 3.0, 4: 0.5}
    deps = {1: [], 2: [1], 3: [1], 4: [2, 3]}
    assert longest_paths(durations, deps) == {4: 0.5, 3: 3.5, 2: 1.5, 1: 5.5}


def test_the_bound_waits_for_a_late_line_when_it_is_critical() -> None:
    durations = {1: 2.0, 2: 1.0, 3: 3.0, 4: 0.5}
    deps = {1: [], 2: [1], 3: [1], 4: [2, 3]}
    ready = {1: 0.5, 2: 0.6, 3: 0.7, 4: 0.8}
    # The chain 1 -> 3 -> 4 from 1's line: 0.5 + 5.5 = 6.0; plus a 1 s joiner.
    assert critical_path_bound(ready, durations, deps, 1.0) == pytest.approx(7.0)
    # A line written after its dependencies would have finished sets the pace instead.
    late = {**ready, 4: 10.0}
    assert critical_path_bound(late, durations, deps, 1.0) == pytest.approx(11.5)


def test_independent_tasks_bound_by_the_latest_line_plus_its_own_time() -> None:
    durations = {1: 1.0, 2: 0.2, 3: 0.0}  # 3 is join(): no tool time
    deps: dict[int, list[int]] = {1: [], 2: [], 3: []}
    ready = {1: 1.0, 2: 1.9, 3: 2.5}
    assert critical_path_bound(ready, durations, deps, 0.25) == pytest.approx(2.75)


def test_line_ready_times_use_the_token_holding_the_closing_paren() -> None:
    tasks = [GoldTask(1, "search", {"query": "ab"}, "r", "r", positional=1)]
    plan = render_plan(tasks)  # '1. search("ab")\n2. join()'
    assert plan.closes == {1: 14, 2: 24}  # tokens are 4 characters: 14 -> token 3, 24 -> 6
    profile = ModelProfile(ttft_s=1.0, prefill_tok_per_s=100.0, decode_tok_per_s=10.0)
    ready = line_ready_times(plan, 50, profile)  # first token at 1 + 50/100 = 1.5 s
    assert ready == {1: pytest.approx(1.8), 2: pytest.approx(2.1)}
    half = line_ready_times(plan, 50, profile.scaled(0.5))
    assert half == {1: pytest.approx(0.9), 2: pytest.approx(1.05)}
