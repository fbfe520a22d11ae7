"""Tools placed on Ray (`metadata={"placement": "ray"}`), against a local Ray started here.

One local Ray for the module (`ray.init(num_cpus=2, ...)` in this process: the program's own
connection, which the engine must never shut down). The kill-and-resume trial runs the graph
in a child process that the engine connects to this Ray itself (`RAY_ADDRESS`). Without ray
installed these tests skip, except under CI (`CI=true`), where they fail: `make test`
installs the `ray` extra. Assertions are about pids, order and records, never durations.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import Context, placement
from llmcompiler_scripted import PROFILES
from tests.helpers import Run, run_graph, scripted_graph
from tests.integration.apps import placement_run as app
from tests.integration.apps.placement_run import (
    crash,
    crunch,
    disjoint,
    fail,
    fail_picky,
    linger,
    locked_tool,
    nested,
    overlapping,
    placed,
    rendezvous,
    wait_until_gone,
    whoami,
)

INSTANT = PROFILES["instant"]
WORK = 1_500_000


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local Ray with two CPUs for this module; its GCS address."""
    try:
        import ray
    except ImportError:
        message = "ray is not installed: pip install -e '.[ray]' (make test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; under CI the Ray placement must be tested", pytrace=False)
        pytest.skip(message)
    with pytest.MonkeyPatch.context() as env:
        # A throwaway local cluster: no token, so the child process connects as is.
        env.setenv("RAY_AUTH_MODE", "disabled")
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")  # offline: report nothing
        env.delenv("RAY_ADDRESS", raising=False)
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=100 * 2**20,  # the calls move kilobytes
        )
        try:
            warm_up(tmp_path_factory.mktemp("rendezvous"))
            yield str(ray.get_runtime_context().gcs_address)
        finally:
            placement.shutdown()
            ray.shutdown()


def warm_up(directory: Path) -> None:
    """Both Ray workers started, with the tools' module imported (a cold worker would make
    the first calls run one after the other)."""
    tool = placed(rendezvous, "ray")
    plan = f'1. rendezvous(directory="{directory}", parties=2)\n' + (
        f'2. rendezvous(directory="{directory}", parties=2)\n3. join()'
    )
    run = asyncio.run(run_plan([tool], plan))
    assert len({run.tasks[i]["result"] for i in (1, 2)}) == 2, run.tasks


async def run_plan(tools: list[Any], plan: str, **context: Any) -> Run:
    graph, _, _ = scripted_graph(tools, [plan], profile=INSTANT)
    return await run_graph(graph, "go", context=Context(**context))


async def test_cpu_bound_calls_run_at_once_in_different_ray_workers(ray_address: str) -> None:
    tool = placed(crunch, "ray")
    plan = "\n".join(f"{i}. crunch(n={WORK})" for i in range(1, 5)) + "\n5. join()"
    run = await run_plan([tool], plan)
    results = [run.tasks[i]["result"] for i in range(1, 5)]
    pids = {result["pid"] for result in results}
    assert os.getpid() not in pids and len(pids) >= 2
    assert overlapping(results), results


async def test_a_tool_asking_for_every_cpu_runs_alone(ray_address: str) -> None:
    tool = placed(crunch, "ray", num_cpus=2)
    plan = "\n".join(f"{i}. crunch(n={WORK // 5})" for i in range(1, 4)) + "\n4. join()"
    run = await run_plan([tool], plan)
    assert disjoint([run.tasks[i]["result"] for i in range(1, 4)])


@pytest.mark.parametrize(
    "line",
    ['fail(message="boom")', 'fail_picky(a="x", b="y")', 'crunch(n="many")'],
    ids=["exception", "exception-that-does-not-unpickle", "bad-argument"],
)
async def test_errors_read_the_same_as_in_a_thread(ray_address: str, line: str) -> None:
    errors = []
    for where in ("thread", "ray"):
        tools = [placed(fail, where), placed(fail_picky, where), placed(crunch, where)]
        run = await run_plan(tools, f"1. {line}\n2. join()")
        assert run.tasks[1]["status"] == "error"
        errors.append(run.tasks[1]["error"])
    assert errors[0] == errors[1]


async def test_a_crashed_ray_worker_is_that_tasks_error(ray_address: str) -> None:
    tools = [placed(crash, "ray"), placed(crunch, "ray")]
    run = await run_plan(tools, "1. crash(code=7)\n2. crunch(n=10)\n3. join()")
    assert run.tasks[1]["error"].startswith("WorkerCrashed: the Ray task running 'crash' failed")
    assert "WorkerCrashedError" in run.tasks[1]["error"]
    assert run.tasks[2]["status"] == "done"


async def test_a_timeout_cancels_the_ray_task(ray_address: str, tmp_path: Path) -> None:
    journal = tmp_path / "journal.txt"
    plan = f'1. linger(seconds=120, journal="{journal}")\n2. join()'
    run = await run_plan([placed(linger, "ray")], plan, tool_timeout_s=5)
    assert run.tasks[1]["error"] == "timed out after 5s"
    (line,) = journal.read_text().splitlines()
    assert wait_until_gone(int(line.split()[2]))  # ray.cancel(force=True) kills its worker
    assert journal.read_text().splitlines() == [line]


async def test_a_call_that_does_not_pickle(ray_address: str) -> None:
    run = await run_plan([locked_tool("ray")], "1. locked(x=1)\n2. join()")
    assert run.tasks[1]["error"].startswith(
        "PlacementError: cannot run 'locked' on Ray: the call does not pickle"
    )


async def test_the_idempotency_key_reaches_the_ray_task(ray_address: str) -> None:
    tools = [placed(whoami, "ray"), placed(whoami, "thread", name="whoami_here")]
    run = await run_plan(tools, "1. whoami()\n2. whoami_here()\n3. join()")
    there, here = run.tasks[1]["result"], run.tasks[2]["result"]
    assert there["pid"] != os.getpid()
    assert there["config_key"] == there["current_key"]
    assert there["config_key"].endswith("|1") and here["config_key"].endswith("|2")
    assert there["config_key"][:-1] == here["config_key"][:-1]


async def test_the_engine_never_shuts_down_the_programs_ray(ray_address: str) -> None:
    import ray

    run = await run_plan([placed(crunch, "ray")], "1. crunch(n=10)\n2. join()")
    assert run.tasks[1]["status"] == "done"
    assert not placement.ray_backend().owned
    placement.shutdown()
    assert ray.is_initialized()


async def test_a_request_no_node_can_meet_is_the_tasks_error_naming_it(ray_address: str) -> None:
    tools = [
        placed(crunch, "ray", num_cpus=64),
        placed(whoami, "ray", ray_options={"resources": {"tpu": 1}}),
    ]
    run = await run_plan(tools, "1. crunch(n=10)\n2. whoami()\n3. join()", tool_timeout_s=5)
    assert run.tasks[1]["error"].startswith(
        "PlacementError: cannot run 'crunch' on Ray: it asks for 64 CPU, which no node of the "
        "cluster has (the most one node has: 2 CPU); ask for less"
    )
    assert run.tasks[2]["error"].startswith(
        "PlacementError: cannot run 'whoami' on Ray: it asks for 1 CPU, 1 tpu, which no node "
        "of the cluster has (the most one node has: 2 CPU, 0 tpu)"
    )


def connect_app(address: str, *live: str, **env: str) -> list[dict[str, Any]]:
    """The runs of `apps/placement_ray_connect.py` with `RAY_ADDRESS=address` (a failed
    connection remembered for ten minutes unless the app says otherwise)."""
    environment = {
        **os.environ,
        "RAY_ADDRESS": address,
        "RAY_AUTH_MODE": "disabled",
        "LLMCOMPILER_RAY_RETRY_S": "600",
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.apps.placement_ray_connect", *live],
        cwd=app.ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stderr
    runs: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return runs


def test_a_ray_address_nothing_listens_at_fails_at_once_until_a_cluster_is_reached(
    ray_address: str,
) -> None:
    with socket.socket() as spare:  # a free port: once closed, nothing listens there
        spare.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{spare.getsockname()[1]}"
    first, second, third = connect_app(dead, ray_address)
    cause = f"PlacementError: cannot reach the Ray cluster at RAY_ADDRESS='{dead}' (Connection"
    for run in (first, second):
        assert run["status"] == ["error", "error"]
        assert all(error.startswith(cause) for error in run["errors"]), run["errors"]
        assert "Ray-placed calls fail at once" in run["errors"][0]
    # One attempt for both calls of the first run; the second run's calls fail on its memory.
    assert (first["attempts"], second["attempts"]) == (1, 1)
    # Once the memory lapses, the next call tries again, and a cluster that answers is used.
    assert third == {"status": ["done", "done"], "errors": [None, None], "attempts": 2}


def test_a_ray_address_that_accepts_but_never_answers_fails_after_the_connect_limit(
    ray_address: str,
) -> None:
    with socket.create_server(("", 0)) as silent:  # connections queue, nothing ever answers
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        first, second = connect_app(address, LLMCOMPILER_RAY_CONNECT_TIMEOUT_S="2")
    cause = (
        f"PlacementError: the Ray cluster at RAY_ADDRESS='{address}' did not answer within 2s "
        "(LLMCOMPILER_RAY_CONNECT_TIMEOUT_S)"
    )
    for run in (first, second):
        assert run["status"] == ["error", "error"]
        assert all(error.startswith(cause) for error in run["errors"]), run["errors"]
    assert (first["attempts"], second["attempts"]) == (1, 1)


def test_killed_mid_run_and_resumed_a_recorded_ray_call_never_runs_again(
    ray_address: str, tmp_path: Path
) -> None:
    env = {**os.environ, "RAY_ADDRESS": ray_address, "RAY_AUTH_MODE": "disabled"}
    result = app.kill_mid_run_and_resume(tmp_path, "ray", env)
    assert result["ray_owned"]  # the engine connected to RAY_ADDRESS itself ...
    assert not result["ray_connected_after_shutdown"]  # ... and disconnected at shutdown


async def test_a_deeply_nested_result_from_a_ray_task_is_cut_at_the_stored_depth(
    ray_address: str,
) -> None:
    run = await run_plan([placed(nested, "ray")], "1. nested(depth=5000)\n2. join()")
    record = run.tasks[1]
    assert record["status"] == "done", record["error"]
    assert "nested deeper than" in str(record["result"])
