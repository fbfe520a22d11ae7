"""Tools placed in worker processes (`metadata={"placement": "process"}`).

The real graph, scripted instant models and tools from `tests/integration/apps/placement_run.py`
(module-level functions, so workers import them). Assertions are about where and in which
order calls ran (pids, overlapping or disjoint intervals) and what was recorded, never about
durations. The Ray placement has its own module, `test_placement_ray.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import StructuredTool

from agent import Context, placement
from llmcompiler_bench import placement as bench
from llmcompiler_scripted import PROFILES
from tests.helpers import Run, run_graph, scripted_graph
from tests.integration.apps import placement_run as app
from tests.integration.apps.placement_run import (
    Doubler,
    crash,
    crunch,
    crunch_async,
    disjoint,
    fail,
    fail_picky,
    journal_lines,
    linger,
    locked_tool,
    make_lock,
    nested,
    overlapping,
    placed,
    wait_until_gone,
    whoami,
)

INSTANT = PROFILES["instant"]
WORK = 1_500_000
"""Iterations of `crunch`: a fraction of a second of pure-Python work."""
getpid = StructuredTool.from_function(
    os.getpid, name="getpid", description="The pid.", metadata={"placement": "process"}
)
"""An instant call that imports nothing in the worker: its time is the call's alone."""


async def run_plan(tools: list[Any], plan: str, **context: Any) -> Run:
    graph, _, _ = scripted_graph(tools, [plan], profile=INSTANT)
    return await run_graph(graph, "go", context=Context(**context))


@pytest.fixture(scope="module", autouse=True)
def warm_pool() -> Iterator[None]:
    """Two workers started before the tests (a cold worker starts a Python interpreter)."""
    tool = placed(crunch, "process")
    run = asyncio.run(run_plan([tool], "1. crunch(n=1)\n2. crunch(n=1)\n3. join()"))
    assert all(task["status"] == "done" for task in run.tasks.values()), run.tasks
    yield


async def test_cpu_bound_calls_run_at_once_in_different_processes() -> None:
    tool = placed(crunch, "process")
    plan = "\n".join(f"{i}. crunch(n={WORK})" for i in range(1, 5)) + "\n5. join()"
    run = await run_plan([tool], plan)
    results = [run.tasks[i]["result"] for i in range(1, 5)]
    pids = {result["pid"] for result in results}
    assert os.getpid() not in pids and len(pids) >= 2
    assert overlapping(results), results


async def test_threads_stay_in_this_process() -> None:
    tool = placed(crunch, "thread")
    run = await run_plan([tool], "1. crunch(n=10)\n2. crunch(n=10)\n3. join()")
    assert {run.tasks[i]["result"]["pid"] for i in (1, 2)} == {os.getpid()}


async def test_default_placement_moves_sync_tools_and_leaves_async_ones_on_the_loop() -> None:
    tools = [placed(crunch, None), placed(crunch_async, None)]
    plan = "1. crunch(n=10)\n2. crunch_async(n=10)\n3. join()"
    run = await run_plan(tools, plan, default_placement="process")
    assert run.tasks[1]["result"]["pid"] != os.getpid()
    assert run.tasks[2]["result"]["pid"] == os.getpid()


async def test_an_async_tool_placed_in_a_process_runs_there() -> None:
    run = await run_plan([placed(crunch_async, "process")], "1. crunch_async(n=10)\n2. join()")
    assert run.tasks[1]["status"] == "done", run.tasks[1]
    assert run.tasks[1]["result"]["pid"] != os.getpid()


async def test_a_base_tool_subclass_is_pickled_whole() -> None:
    tool = Doubler(metadata={"placement": "process"})
    run = await run_plan([tool], "1. doubler(x=21)\n2. join()")
    assert run.tasks[1]["result"]["value"] == 42
    assert run.tasks[1]["result"]["pid"] != os.getpid()


@pytest.mark.parametrize(
    "line",
    ['fail(message="boom")', 'fail_picky(a="x", b="y")', 'crunch(n="many")'],
    ids=["exception", "exception-that-does-not-unpickle", "bad-argument"],
)
async def test_errors_read_the_same_as_in_a_thread(line: str) -> None:
    errors = []
    for where in ("thread", "process"):
        tools = [placed(fail, where), placed(fail_picky, where), placed(crunch, where)]
        run = await run_plan(tools, f"1. {line}\n2. join()")
        assert run.tasks[1]["status"] == "error"
        errors.append(run.tasks[1]["error"])
    assert errors[0] == errors[1]
    assert errors[0].startswith(("ValueError: boom", "Picky: x/y", "ValidationError"))


async def test_a_worker_claimed_for_a_call_whose_arguments_are_refused_is_given_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMCOMPILER_PROCESS_WORKERS", "1")
    placement.shutdown()  # a pool of one worker: a claim not given back would hold it forever
    tool = placed(crunch, "process")
    plan = '1. crunch(n="many")\n2. crunch(n="many")\n3. crunch(n=10)\n4. join()'
    try:
        run = await asyncio.wait_for(run_plan([tool], plan), 60)  # a guard, not a measure
        assert [run.tasks[i]["status"] for i in (1, 2, 3)] == ["error", "error", "done"]
    finally:
        placement.shutdown()


async def test_a_crashed_worker_is_that_tasks_error_and_the_pool_recovers() -> None:
    tools = [placed(crash, "process"), placed(crunch, "process")]
    run = await run_plan(tools, "1. crash(code=7)\n2. crunch(n=10)\n3. join()")
    assert run.tasks[1]["status"] == "error"
    assert run.tasks[1]["error"].startswith("WorkerCrashed: the worker process running 'crash'")
    assert "exit code 7" in run.tasks[1]["error"]
    assert run.tasks[2]["status"] == "done"
    again = await run_plan(tools, "1. crunch(n=10)\n2. join()")
    assert again.tasks[1]["status"] == "done"


async def test_a_timeout_kills_the_worker_and_discards_its_result(tmp_path: Path) -> None:
    journal = tmp_path / "journal.txt"
    tools = [placed(linger, "process"), placed(crunch, "process")]
    plan = f'1. linger(seconds=120, journal="{journal}")\n2. join()'
    run = await run_plan(tools, plan, tool_timeout_s=3)
    assert run.tasks[1]["error"] == "timed out after 3s"
    (line,) = journal.read_text().splitlines()
    pid = int(line.split()[2])
    assert wait_until_gone(pid)
    assert pid not in placement.process_pool().pids
    assert journal.read_text().splitlines() == [line]  # never finished
    again = await run_plan(tools, "1. crunch(n=10)\n2. join()")  # a new worker replaces it
    assert again.tasks[1]["status"] == "done"


async def test_what_does_not_pickle() -> None:
    tools = [locked_tool("process"), placed(make_lock, "process")]
    run = await run_plan(tools, '1. locked(x=1)\n2. make_lock(label="a")\n3. join()')
    assert run.tasks[1]["error"].startswith(
        "PlacementError: cannot run 'locked' in a worker process: the call does not pickle"
    )
    assert "lock" in run.tasks[1]["error"]
    # A result that does not pickle comes back as its stored form (what the record holds).
    assert run.tasks[2]["status"] == "done"
    assert "lock" in run.tasks[2]["result"]


async def test_the_idempotency_key_reaches_the_worker() -> None:
    tools = [placed(whoami, "process"), placed(whoami, "thread", name="whoami_here")]
    run = await run_plan(tools, "1. whoami()\n2. whoami_here()\n3. join()")
    there, here = run.tasks[1]["result"], run.tasks[2]["result"]
    assert there["pid"] != os.getpid() and here["pid"] == os.getpid()
    assert there["config_key"] == there["current_key"]
    assert here["config_key"] == here["current_key"]
    assert there["config_key"].endswith("|1") and here["config_key"].endswith("|2")
    assert there["config_key"][:-1] == here["config_key"][:-1]  # same turn, own index


async def test_the_concurrency_cap_counts_calls_in_processes() -> None:
    tool = placed(crunch, "process")
    plan = "\n".join(f"{i}. crunch(n={WORK // 5})" for i in range(1, 4)) + "\n4. join()"
    run = await run_plan([tool], plan, max_concurrency=1)
    assert disjoint([run.tasks[i]["result"] for i in range(1, 4)])


async def test_the_pool_is_reused_across_runs() -> None:
    tool = placed(crunch, "process")
    plan = "1. crunch(n=10)\n2. crunch(n=10)\n3. join()"
    first = await run_plan([tool], plan)
    workers = placement.process_pool().pids
    assert {first.tasks[i]["result"]["pid"] for i in (1, 2)} <= workers
    second = await run_plan([tool], plan)
    # The first call of the run takes an idle worker; the second one may too, or start one.
    assert {second.tasks[i]["result"]["pid"] for i in (1, 2)} & workers
    assert workers <= placement.process_pool().pids  # kept


def test_killed_mid_run_and_resumed_a_recorded_call_never_runs_again(tmp_path: Path) -> None:
    result = app.kill_mid_run_and_resume(tmp_path, "process")
    assert result["pool_pids"]


@pytest.fixture
def slow_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[float], None]]:
    """Workers of a fresh pool whose start-up takes that many seconds more: a sitecustomize
    module, which the interpreter imports before anything else, sleeps."""

    def slow(seconds: float) -> None:
        (tmp_path / "sitecustomize.py").write_text(f"import time\ntime.sleep({seconds})\n")
        path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
        monkeypatch.setenv("PYTHONPATH", path)
        placement.shutdown()

    yield slow
    placement.shutdown()


async def test_a_calls_timeout_does_not_count_its_workers_start_up(
    slow_workers: Callable[[float], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_workers(4)  # each worker starts in more than the calls' timeout
    monkeypatch.setenv("LLMCOMPILER_PROCESS_WORKERS", "3")  # the three start at once
    plan = "1. getpid()\n2. getpid()\n3. getpid()\n4. join()"
    run = await run_plan([getpid], plan, tool_timeout_s=2)
    assert [run.tasks[i]["status"] for i in (1, 2, 3)] == ["done"] * 3, run.tasks
    assert len({run.tasks[i]["result"] for i in (1, 2, 3)} - {os.getpid()}) == 3


async def test_a_worker_that_does_not_start_in_time_is_the_calls_error_and_is_killed(
    slow_workers: Callable[[float], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_workers(60)
    monkeypatch.setenv("LLMCOMPILER_PROCESS_START_TIMEOUT_S", "1")
    run = await run_plan([getpid], "1. getpid()\n2. join()")
    error = run.tasks[1]["error"]
    found = re.search(r"\(pid (\d+)\)", error)
    assert found, error
    assert error == (
        f"PlacementError: a worker process (pid {found[1]}) did not start within 1s "
        "(LLMCOMPILER_PROCESS_START_TIMEOUT_S); the machine may be overloaded: raise the "
        "limit or lower LLMCOMPILER_PROCESS_WORKERS"
    )
    assert wait_until_gone(int(found[1]))
    assert not placement.process_pool().pids


def test_a_program_that_forked_after_its_pool_started_still_takes_its_workers_with_it(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.txt"
    program = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.apps.placement_fork", str(journal)],
        cwd=app.ROOT,
        env={**os.environ, "LLMCOMPILER_PROCESS_WORKERS": "1"},
    )
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while sum(line.startswith("start linger") for line in journal_lines(journal)) < 2:
            assert program.poll() is None and time.monotonic() < deadline, journal_lines(journal)
            time.sleep(0.02)  # polling the journal, not waiting a fixed time
        lines = journal_lines(journal)
        (child,) = [int(line.split()[1]) for line in lines if line.startswith("child")]
        workers = {int(line.split()[2]) for line in lines if line.startswith("start linger")}
        pids = [child, *workers]
        (worker,) = workers  # the one worker, started before the fork
        program.kill()
        program.wait()
        assert wait_until_gone(worker), "the worker outlived the program that started it"
        assert not wait_until_gone(child, timeout=0)  # while the forked child lives on
    finally:
        program.kill()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_the_benchmark_prints_its_table_then_shuts_the_pool_down(
    capsys: pytest.CaptureFixture[str],
) -> None:
    workers = placement.process_pool().pids
    args = "--calls 2 --repeats 1 --warmup 0 --call-s 0.02 --placements thread,process"
    bench.main(args.split())
    table = capsys.readouterr().out
    assert "| placement | latency, median (min–max) | speedup vs thread | processes |" in table
    assert "| thread |" in table and "| process |" in table
    assert all(wait_until_gone(pid) for pid in workers)  # `placement.shutdown()` at its end


@pytest.mark.parametrize("depth", [500, 5000])
async def test_a_deeply_nested_result_from_a_worker_is_cut_at_the_stored_depth(depth: int) -> None:
    """Not a crash report: the tool returned, and its result is stored cut at a depth."""
    run = await run_plan([placed(nested, "process")], f"1. nested(depth={depth})\n2. join()")
    record = run.tasks[1]
    assert record["status"] == "done", record["error"]
    assert "nested deeper than" in str(record["result"])
