"""Placement without starting anything: how a tool's placement is resolved, what becomes a
recorded error before any worker starts, pickling for workers, and the worker's side of a
call run in this process. Worker processes and Ray: `tests/integration/test_placement*.py`."""

from __future__ import annotations

import os
import pickle
import sys
import threading
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool, tool

from agent import Context, PlacementError, placement
from agent._errors import RemoteToolError
from agent._toolset import ToolTraits
from agent.placement import _ray_tasks as ray_tasks
from agent.placement import _settings as settings
from agent.placement import _wire as wire
from agent.placement import placement_of
from agent.placement._wire import RemoteCall, execute, remote_call
from llmcompiler_scripted import PROFILES
from tests.helpers import run_graph, scripted_graph

INSTANT = PROFILES["instant"]


@tool
def add(a: int, b: int) -> int:
    """Adds two numbers."""
    return a + b


@tool
def keyed(config: RunnableConfig) -> dict[str, Any]:
    """The call's idempotency key, read both ways, and where it ran."""
    return {
        "config_key": config["metadata"]["idempotency_key"],
        "current_key": placement.current_idempotency_key(),
        "thread": threading.get_ident(),
    }


@tool
async def keyed_async(config: RunnableConfig) -> dict[str, Any]:
    """The same, for an async tool (on the event loop)."""
    return {
        "config_key": config["metadata"]["idempotency_key"],
        "current_key": placement.current_idempotency_key(),
        "thread": threading.get_ident(),
    }


class Picky(Exception):
    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}/{b}")


def raise_picky() -> None:
    raise Picky("x", "y")


def give_lock() -> Any:
    return threading.Lock()


def on(where: str | None) -> StructuredTool:
    copy = add.model_copy()
    copy.metadata = {"placement": where} if where else None
    return copy


def where(where: str | None, default: str, *, is_async: bool = False) -> str:
    """Where a call of `add` with `metadata={"placement": where}` runs."""
    return placement_of("add", ToolTraits.of(on(where)), default, is_async=is_async)


def test_the_default_is_a_thread_and_metadata_wins() -> None:
    assert Context().default_placement == "thread"
    assert where(None, "thread") == "thread"
    assert where(None, "process") == "process"
    assert where("ray", "process") == "ray"
    assert where("thread", "ray") == "thread"


def test_async_tools_stay_on_the_loop_unless_they_declare_a_placement() -> None:
    assert where(None, "process", is_async=True) == "thread"
    assert where("process", "thread", is_async=True) == "process"


def test_an_unknown_placement_is_named() -> None:
    with pytest.raises(PlacementError, match=r"unknown placement 'gpu'.*tool 'add' metadata"):
        where("gpu", "thread")
    with pytest.raises(PlacementError, match=r"unknown placement 'cloud'.*default_placement"):
        where(None, "cloud")


async def test_an_unknown_placement_is_the_tasks_error() -> None:
    graph, _, _ = scripted_graph([on("gpu")], ["1. add(a=1, b=2)\n2. join()"], profile=INSTANT)
    run = await run_graph(graph, "go")
    assert run.tasks[1]["status"] == "error"
    assert run.tasks[1]["error"].startswith("PlacementError: unknown placement 'gpu'")


async def test_ray_missing_is_the_tasks_error_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    graph, _, _ = scripted_graph([on("ray")], ["1. add(a=1, b=2)\n2. join()"], profile=INSTANT)
    run = await run_graph(graph, "go")
    assert run.tasks[1]["error"] == (
        "PlacementError: a tool is placed on Ray but ray is not installed: "
        "pip install 'llmcompiler-langgraph[ray]'"
    )


@pytest.mark.parametrize("value", ["abc", "0", "2.5"])
async def test_a_bad_process_workers_setting_is_the_tasks_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("LLMCOMPILER_PROCESS_WORKERS", value)
    placement.shutdown()  # the pool reads the setting when it is made
    graph, _, _ = scripted_graph([on("process")], ["1. add(a=1, b=2)\n2. join()"], profile=INSTANT)
    run = await run_graph(graph, "go")
    assert run.tasks[1]["error"] == (
        f"PlacementError: LLMCOMPILER_PROCESS_WORKERS={value!r} is not allowed: use a whole "
        f"number of worker processes, 1 or more (unset: the CPU count, {os.cpu_count()})"
    )


async def test_the_idempotency_key_is_current_in_a_thread_and_on_the_loop() -> None:
    graph, _, _ = scripted_graph(
        [keyed, keyed_async], ["1. keyed()\n2. keyed_async()\n3. join()"], profile=INSTANT
    )
    run = await run_graph(graph, "go")
    for idx in (1, 2):
        result = run.tasks[idx]["result"]
        assert result["config_key"] == result["current_key"]
        assert result["config_key"].endswith(f"|{idx}")
    assert run.tasks[1]["result"]["thread"] != threading.get_ident()  # a thread of its own
    assert placement.current_idempotency_key() is None  # only inside a call


def test_a_tool_function_pickles_by_reference_to_its_tool() -> None:
    # `@tool` leaves the module's `add` a StructuredTool, so plain pickle cannot find the
    # function by name; the engine's pickler refers to it as `add.func`.
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(add.func)
    assert pickle.loads(wire.process_dumps(add.func)) is add.func


def test_what_a_worker_process_cannot_import_is_refused_here() -> None:
    def local(x: int) -> int:
        return x

    with pytest.raises((pickle.PicklingError, AttributeError)):
        wire.process_dumps(local)

    def main_function() -> None:
        """Defined in a script."""

    main_function.__module__ = "__main__"
    main_function.__qualname__ = "main_function"
    with pytest.raises(pickle.PicklingError, match="__main__ module, which worker processes"):
        wire.process_dumps(main_function)


def call_of(target: Any, **kwargs: Any) -> bytes:
    call = RemoteCall(
        tool="t", target=target, args=(), kwargs=kwargs, config={}, idempotency_key="k|1"
    )
    return wire.process_dumps(call)


def test_the_worker_side_returns_the_value_or_the_exception() -> None:
    assert wire.unpack(execute(call_of(add.func, a=2, b=3))) == 5
    # Picky pickles but does not load back (its __init__ takes two arguments): a stand-in
    # of the same name is raised, so the task's error reads "Picky: x/y" all the same.
    with pytest.raises(RemoteToolError, match="x/y") as caught:
        wire.unpack(execute(call_of(raise_picky)))
    assert type(caught.value).__name__ == "Picky"
    assert isinstance(caught.value, RemoteToolError)
    assert "Raised in the worker" in caught.value.__notes__[0]


def test_a_result_that_does_not_pickle_comes_back_as_its_stored_form() -> None:
    value = wire.unpack(execute(call_of(give_lock)))
    assert isinstance(value, str) and "lock" in value


def test_the_worker_side_injects_the_config_and_binds_the_key() -> None:
    meta = {"idempotency_key": "thread||turn|4", "llmcompiler_task_idx": 4, "opaque": object()}
    call = remote_call(keyed, (), {}, {"metadata": meta, "tags": ["x"], "callbacks": []})
    assert call.config == {
        "metadata": {"idempotency_key": "thread||turn|4", "llmcompiler_task_idx": 4},
        "tags": ["x"],
    }
    result = wire.unpack(execute(wire.process_dumps(call)))
    assert result["config_key"] == result["current_key"] == "thread||turn|4"


def test_an_async_function_runs_to_completion_in_the_worker() -> None:
    call = remote_call(keyed_async, (), {}, {"metadata": {"idempotency_key": "k"}})
    assert call.is_async
    assert wire.unpack(execute(wire.process_dumps(call)))["current_key"] == "k"


def test_a_call_the_worker_cannot_load_says_so() -> None:
    for payload in (b"not a pickle", pickle.dumps(("not", "a", "call"))):
        with pytest.raises(PlacementError, match="cannot load the call in the worker"):
            wire.unpack(execute(payload))


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("LLMCOMPILER_PROCESS_START_TIMEOUT_S", "soon", "above 0 (unset: 60)"),
        ("LLMCOMPILER_RAY_CONNECT_TIMEOUT_S", "-1", "above 0 (unset: 60)"),
        ("LLMCOMPILER_RAY_CONNECT_TIMEOUT_S", "inf", "above 0 (unset: 60)"),
    ],
)
def test_a_bad_time_limit_in_the_environment_is_named_with_what_is_allowed(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, allowed: str
) -> None:
    monkeypatch.setenv(name, value)
    expected = f"{name}={value!r} is not allowed: use a number of seconds {allowed}"
    with pytest.raises(PlacementError) as caught:
        settings.env_seconds(name, 60.0)
    assert str(caught.value) == expected


def test_the_ray_resource_check_is_on_unless_set_to_0(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ray_tasks._checks_resources()
    monkeypatch.setenv("LLMCOMPILER_RAY_CHECK_RESOURCES", "0")
    assert not ray_tasks._checks_resources()
    monkeypatch.setenv("LLMCOMPILER_RAY_CHECK_RESOURCES", "no")
    with pytest.raises(
        PlacementError, match=r"LLMCOMPILER_RAY_CHECK_RESOURCES='no' is not allowed: use 1"
    ):
        ray_tasks._checks_resources()


def test_a_ray_request_fits_only_a_node_that_has_all_of_it_at_once() -> None:
    nodes = [{"CPU": 8.0}, {"CPU": 2.0, "GPU": 1.0}]
    assert ray_tasks._unmet("t", {"CPU": 2.0, "GPU": 1.0}, nodes) is None
    assert ray_tasks._unmet("t", {"CPU": 4.0, "GPU": 1.0}, nodes) == (
        "cannot run 't' on Ray: it asks for 4 CPU, 1 GPU, which no node of the cluster has "
        "(the most one node has: 8 CPU, 1 GPU); ask for less in the tool's metadata "
        "(num_cpus, num_gpus, ray_options), or, on an autoscaling cluster that adds such "
        "nodes on demand, set LLMCOMPILER_RAY_CHECK_RESOURCES=0"
    )


def test_what_a_ray_task_asks_for_is_read_from_its_options() -> None:
    options = dict(ToolTraits.of(on("ray")).ray_options)
    assert ray_tasks._requested(options) == {"CPU": 1.0}
    options = {**options, "num_gpus": 0.5, "memory": 2**30, "resources": {"tpu": 2}}
    assert ray_tasks._requested(options) == {"CPU": 1.0, "GPU": 0.5, "memory": 2.0**30, "tpu": 2}


def test_shutdown_forgets_the_backends_and_the_next_use_makes_new_ones() -> None:
    pool, ray_ = placement.process_pool(), placement.ray_backend()
    assert placement.process_pool() is pool  # reused
    placement.shutdown()
    assert placement.process_pool() is not pool and placement.ray_backend() is not ray_
    assert not pool.pids  # its workers, if any, were stopped
