"""The load benchmark: its scripted models, its identity check, its report, and small runs on
`langgraph dev`.

The real benchmark (100 threads) is `python -m llmcompiler_bench.load`; here eight threads
check that every run completes with its own values and nothing is lost, and a run whose tools
were made to return another thread's values is reported lost. No timing is asserted.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

from llmcompiler_bench.load import (
    KEYS,
    LoadReport,
    RunOutcome,
    ThreadScript,
    check_state,
    expected_answer,
    main,
    percentile,
    respond,
    run_load,
    self_served,
    thread_scripts,
)


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "x"}, {"role": "user", "content": text}]


def _joiner_prompt(question: str, results: list[object]) -> list[dict[str, str]]:
    lines = [
        f"{idx}. math(problem='p{idx}', context=None)\n   -> {value}"
        for idx, value in enumerate(results, 1)
    ]
    body = f"Question: {question}\n\nResults:\n" + "\n".join(lines)
    return [{"role": "system", "content": "... Action: Finish(<the answer>)"}, _user(body)[1]]


def _state(script: ThreadScript, results: dict[int, object], answer: str) -> dict[str, Any]:
    tasks = [{"idx": i, "status": "done", "result": r} for i, r in results.items()]
    return {"tasks": tasks, "messages": [{"type": "ai", "content": answer}]}


def test_the_scripted_models_plan_compute_and_answer_from_each_threads_own_key() -> None:
    script = ThreadScript(5, 1_000_005)
    planner = [{"role": "system", "content": "Plan how to answer ..."}]
    plan = respond([*planner, {"role": "user", "content": f"Question: {script.question}"}])
    assert plan.splitlines()[:3] == [
        '1. math("1000005 times 7")',
        '2. math("1000005 plus 8")',
        '3. math("the sum of both", context=["$1", "$2"])',
    ]
    assert respond(_user("Problem: 1000005 times 7")) == "Expression: 1000005 * 7"
    assert respond(_user("Problem: 1000005 plus 8")) == "Expression: 1000005 + 8"
    context = "Problem: the sum of both\nContext:\n- 7000035\n- 1000013"
    assert respond(_user(context)) == "Expression: 7000035 + 1000013"
    # The joiner states the results it was shown, so a crossed result shows in the answer.
    final = respond(_joiner_prompt(script.question, list(script.results.values())))
    assert final.endswith(f"Finish({expected_answer(script.key)})")
    other = respond(_joiner_prompt(script.question, [7, 8, 15]))
    assert expected_answer(script.key) not in other and "times 7 is 7," in other


def test_a_crossed_fault_makes_one_keys_tools_answer_for_another() -> None:
    crossed = {1_000_001: 1_000_002}
    assert respond(_user("Problem: 1000001 times 7"), crossed) == "Expression: 1000002 * 7"
    assert respond(_user("Problem: 1000003 times 7"), crossed) == "Expression: 1000003 * 7"


def test_every_thread_has_values_no_other_thread_has() -> None:
    scripts = thread_scripts(500, random.Random(3))
    assert len({s.key for s in scripts}) == 500 and all(s.key in KEYS for s in scripts)
    values = [v for s in scripts for v in s.results.values()]
    assert len(values) == len(set(values))
    assert [s.thread for s in scripts] == list(range(1, 501))


def test_the_check_accepts_only_a_state_holding_the_threads_own_results_and_answer() -> None:
    mine, theirs = ThreadScript(1, 1_000_001), ThreadScript(2, 1_000_002)
    owners = {v: s.thread for s in (mine, theirs) for v in s.results.values()}
    assert check_state(mine, _state(mine, mine.results, mine.answer), owners) is None
    # Another thread's whole state, results and answer alike: lost, naming whose values.
    swapped = check_state(mine, _state(theirs, theirs.results, theirs.answer), owners)
    assert swapped is not None and "thread 2's value" in swapped
    # Own results but another thread's answer (a crossed answer alone is caught too).
    assert check_state(mine, _state(mine, mine.results, theirs.answer), owners) is not None
    # One result crossed, the answer right: still not its own.
    one = {**mine.results, 2: theirs.results[2]}
    crossed = check_state(mine, _state(mine, one, mine.answer), owners)
    assert crossed is not None and crossed.startswith("task $2") and "thread 2's" in crossed
    # A result missing, failed, or an extra task.
    assert check_state(mine, _state(mine, {1: 7_000_007, 2: 1_000_009}, mine.answer), owners)
    failed = _state(mine, mine.results, mine.answer)
    failed["tasks"][0]["status"] = "error"
    assert check_state(mine, failed, owners) is not None
    extra = _state(mine, {**mine.results, 4: 1}, mine.answer)
    assert check_state(mine, extra, owners) is not None
    assert check_state(mine, {}, owners) is not None


def test_the_report_counts_outcomes_and_takes_latencies_of_completed_runs() -> None:
    outcomes = [RunOutcome(i, "completed", float(i)) for i in range(1, 21)]
    outcomes += [RunOutcome(21, "failed", 99.0, "boom"), RunOutcome(22, "lost", 99.0, "late")]
    report = LoadReport.of(outcomes, wall_s=25.0)
    assert (report.threads, report.completed, report.failed, report.lost) == (22, 20, 1, 1)
    assert (report.p50_s, report.p95_s, report.max_s) == (10.0, 19.0, 20.0)
    assert report.problems == ["failed: thread 21: boom", "lost: thread 22: late"]
    assert (report.failed_threads, report.lost_threads) == ([21], [22])
    assert percentile([], 0.5) is None and percentile([3.0], 0.95) == 3.0


def test_only_loopback_servers_are_loaded() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        asyncio.run(run_load("http://example.com:2024", threads=1))


def test_eight_concurrent_threads_on_langgraph_dev_all_complete_with_their_own_values(
    tmp_path: Path,
) -> None:
    """`main` serves itself (model server and `langgraph dev`, both stopped by PID)."""
    out = tmp_path / "report.json"
    with pytest.raises(SystemExit) as exit_:
        main(["--threads", "8", "--timeout", "60", "--json", str(out)])
    report = json.loads(out.read_text())
    assert (report["completed"], report["failed"], report["lost"]) == (8, 0, 0), report
    assert exit_.value.code == 0
    assert report["p50_s"] <= report["p95_s"] <= report["max_s"]
    assert "--n-jobs-per-worker 10" in report["setup"]
    assert "checked for the thread's own values" in report["setup"]


def test_a_deliberately_crossed_result_in_the_load_test_is_reported_as_lost() -> None:
    """The model server behind the `math` tool swaps threads 2 and 3: each gets the other's
    values, consistently (results and the answer built from them). Both must be lost."""
    scripts = thread_scripts(4, random.Random(11))
    two, three = scripts[1], scripts[2]
    with self_served(4, crossed={two.key: three.key, three.key: two.key}) as server:
        report = asyncio.run(run_load(server.url, threads=4, scripts=scripts, timeout_s=60))
    assert (report.completed, report.failed, report.lost) == (2, 0, 2), report
    assert report.lost_threads == [2, 3]
    assert any("thread 2:" in p and "thread 3's value" in p for p in report.problems), report
    assert any("thread 3:" in p and "thread 2's value" in p for p in report.problems), report
