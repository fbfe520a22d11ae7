"""The load test command: its scripted models, its report, and a small run on `langgraph dev`.

The real benchmark (100 threads) is `python -m llmcompiler_cli.loadtest`; here eight threads
check that every run completes with its own answer and nothing is lost. No timing is asserted.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from llmcompiler_cli.loadtest import (
    LoadReport,
    RunOutcome,
    expected_answer,
    main,
    percentile,
    respond,
    run_load,
)


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "x"}, {"role": "user", "content": text}]


def test_the_scripted_models_answer_each_thread_with_its_own_numbers() -> None:
    planner = [{"role": "system", "content": "Plan how to answer ..."}]
    plan = respond([*planner, {"role": "user", "content": "Question: What is 5 times 7, ..."}])
    assert plan.splitlines()[:3] == [
        '1. math("5 times 7")',
        '2. math("5 plus 8")',
        '3. math("the sum of both", context=["$1", "$2"])',
    ]
    assert respond(_user("Problem: 5 times 7")) == "Expression: 5 * 7"
    assert respond(_user("Problem: 5 plus 8")) == "Expression: 5 + 8"
    assert respond(_user("Problem: the sum of both\nContext:\n- 35\n- 13")) == "Expression: 35 + 13"
    joiner = [{"role": "system", "content": "... Action: Finish(<the answer>)"}]
    final = respond([*joiner, {"role": "user", "content": "Question: What is 5 times 7, ..."}])
    assert final.endswith(f"Finish({expected_answer(5)})") and "sum is 48" in final


def test_the_report_counts_outcomes_and_takes_latencies_of_completed_runs() -> None:
    outcomes = [RunOutcome(i, "completed", float(i)) for i in range(1, 21)]
    outcomes += [RunOutcome(21, "failed", 99.0, "boom"), RunOutcome(22, "lost", 99.0, "late")]
    report = LoadReport.of(outcomes, wall_s=25.0)
    assert (report.threads, report.completed, report.failed, report.lost) == (22, 20, 1, 1)
    assert (report.p50_s, report.p95_s, report.max_s) == (10.0, 19.0, 20.0)
    assert report.problems == ["failed: boom", "lost: late"]
    assert percentile([], 0.5) is None and percentile([3.0], 0.95) == 3.0


def test_only_loopback_servers_are_loaded() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        asyncio.run(run_load("http://example.com:2024", threads=1))


def test_eight_concurrent_threads_on_langgraph_dev_all_complete(tmp_path: Path) -> None:
    """`main` serves itself (model server and `langgraph dev`, both stopped by PID)."""
    out = tmp_path / "report.json"
    with pytest.raises(SystemExit) as exit_:
        main(["--threads", "8", "--timeout", "60", "--json", str(out)])
    report = json.loads(out.read_text())
    assert (report["completed"], report["failed"], report["lost"]) == (8, 0, 0), report
    assert exit_.value.code == 0
    assert report["p50_s"] <= report["p95_s"] <= report["max_s"]
    assert "--n-jobs-per-worker 10" in report["setup"]
