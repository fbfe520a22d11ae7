"""The private LangGraph and langchain-core APIs of `agent._langgraph`, checked inside real
graph runs, so that a LangGraph release that moves one fails here, by name, rather than
hanging a round; and the LangGraph range pyproject.toml declares is the range tested."""

from __future__ import annotations

import asyncio
import functools
import operator
import re
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import base as tools_base
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphInterrupt
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt

from agent import _langgraph
from agent._langgraph import (
    InternalsChanged,
    invocation_id,
    pregel_loop,
    runnable_config_param,
    step_task_writes,
)

ROOT = Path(__file__).resolve().parents[2]


class Pair(TypedDict):
    run: str
    log: Annotated[list[str], operator.add]


Seen = dict[tuple[str, str], dict[str, Any]]


def _pair_graph(
    seen: Seen, barrier: asyncio.Barrier | None, saver: InMemorySaver
) -> CompiledStateGraph[Pair, None, Pair, Pair]:
    """Nodes `a` and `b` in one step, like the planner and scheduler: each records what the
    accessors return, then waits at `barrier` (so that neither returns before every node of
    the test has recorded), then writes its name to `log`."""

    def node(name: str, partner: str) -> Callable[[Pair], Any]:
        async def run(state: Pair) -> dict[str, Any]:
            loop = pregel_loop()
            seen[(state["run"], name)] = {
                "invocation": invocation_id(),
                "step_nodes": {task.name for task in loop.tasks.values()},
                "partner_writes": step_task_writes(partner),
            }
            if barrier is not None:
                await barrier.wait()
            return {"log": [name]}

        return run

    builder = StateGraph(Pair)
    builder.add_node("a", node("a", "b"))
    builder.add_node("b", node("b", "a"))
    builder.add_edge(START, "a")
    builder.add_edge(START, "b")
    return builder.compile(checkpointer=saver)


async def test_two_concurrent_invocations_each_share_one_loop_id_and_see_no_partner_writes() -> (
    None
):
    seen: Seen = {}
    graph = _pair_graph(seen, asyncio.Barrier(4), InMemorySaver())
    await asyncio.wait_for(
        asyncio.gather(
            *(
                graph.ainvoke({"run": run, "log": []}, {"configurable": {"thread_id": run}})
                for run in ("one", "two")
            )
        ),
        timeout=20,
    )
    for run in ("one", "two"):
        assert seen[(run, "a")]["invocation"] == seen[(run, "b")]["invocation"]
        for name in ("a", "b"):
            assert seen[(run, name)]["step_nodes"] == {"a", "b"}
            assert seen[(run, name)]["partner_writes"] is None
    assert seen[("one", "a")]["invocation"] != seen[("two", "a")]["invocation"]


async def test_a_resume_shows_the_remaining_node_the_writes_restored_to_its_partner() -> None:
    """The checkpoint a crash leaves when `a` finished and `b` did not: on resume LangGraph
    runs `b` alone and hands `a` its saved writes, which `b` sees."""
    seen: Seen = {}
    whole = InMemorySaver()
    await _pair_graph(seen, asyncio.Barrier(2), whole).ainvoke(
        {"run": "whole", "log": []}, {"configurable": {"thread_id": "whole"}}
    )
    [step] = [
        c
        for c in whole.list({"configurable": {"thread_id": "whole"}})
        if c.metadata and c.metadata.get("step") == 0
    ]
    crashed = InMemorySaver()
    saved = crashed.put(
        {"configurable": {"thread_id": "crashed", "checkpoint_ns": ""}},
        step.checkpoint,
        step.metadata,
        step.checkpoint["channel_versions"],
    )
    pending = step.pending_writes or []
    task_of_a = next(task for task, channel, value in pending if value == ["a"])
    writes_of_a = [(channel, value) for task, channel, value in pending if task == task_of_a]
    crashed.put_writes(saved, writes_of_a, task_of_a)
    assert ("log", ["a"]) in writes_of_a

    seen.clear()
    resumed = _pair_graph(seen, None, crashed)
    config: RunnableConfig = {"configurable": {"thread_id": "crashed"}}
    assert (await resumed.aget_state(config)).next == ("b",)
    result = await asyncio.wait_for(resumed.ainvoke(None, config), timeout=20)

    assert list(seen) == [("whole", "b")]  # `a` did not run again
    assert seen[("whole", "b")]["partner_writes"] == writes_of_a
    assert sorted(result["log"]) == ["a", "b"]


async def test_a_partner_running_on_a_resume_answer_holds_no_writes_taken_for_restored() -> None:
    """`interrupt()` answered on resume leaves a `__resume__` marker among the running task's
    writes; it is not a channel, so the partner is not taken for one a resume restored. As in
    the engine, the partner of an interrupted node mirrors the interrupt, so both re-run."""
    answered, checked = asyncio.Event(), asyncio.Event()
    seen: dict[str, Any] = {}
    interrupted: list[str] = []

    async def asks(state: Pair) -> dict[str, Any]:
        try:
            answer = interrupt("go on?")
        finally:
            answered.set()
        await checked.wait()
        return {"log": [f"asks:{answer}"]}

    async def waits(state: Pair) -> dict[str, Any]:
        await answered.wait()
        answered.clear()
        if not interrupted:  # the first run: mirror the partner's interrupt
            interrupted.append("asks")
            raise GraphInterrupt(())
        seen["partner_writes"] = step_task_writes("asks")
        checked.set()
        return {"log": ["waits"]}

    builder = StateGraph(Pair)
    builder.add_node("asks", asks)
    builder.add_node("waits", waits)
    builder.add_edge(START, "asks")
    builder.add_edge(START, "waits")
    graph = builder.compile(checkpointer=InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "ask"}}
    await asyncio.wait_for(graph.ainvoke({"run": "ask", "log": []}, config), timeout=20)
    assert set((await graph.aget_state(config)).next) == {"asks", "waits"}

    result = await asyncio.wait_for(graph.ainvoke(Command(resume="yes"), config), timeout=20)
    assert seen["partner_writes"] is None
    assert sorted(result["log"]) == ["asks:yes", "waits"]


async def test_a_missing_call_hook_raises_naming_the_langgraph_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_langgraph, "_CALL_KEY", "__pregel_call_renamed")
    graph = _pair_graph({}, None, InMemorySaver())
    with pytest.raises(InternalsChanged, match=f"^langgraph {re.escape(version('langgraph'))} "):
        await graph.ainvoke({"run": "r", "log": []}, {"configurable": {"thread_id": "r"}})


def test_runnable_config_param_names_the_parameter_annotated_runnable_config() -> None:
    def with_config(x: int, settings: RunnableConfig) -> int:
        return x

    def without(x: int, config: dict[str, Any]) -> int:
        return x

    assert runnable_config_param(with_config) == "settings"
    assert runnable_config_param(functools.partial(with_config, 1)) == "settings"
    assert runnable_config_param(without) is None


def test_a_missing_config_param_finder_raises_naming_the_langchain_core_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(tools_base, "_get_runnable_config_param")
    pattern = f"^langchain-core {re.escape(version('langchain-core'))} "
    with pytest.raises(InternalsChanged, match=pattern):
        runnable_config_param(lambda x: x)


def _langgraph_bound() -> tuple[str, str]:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [spec] = [d for d in dependencies if re.match(r"langgraph\s*[<>=]", d)]
    match = re.fullmatch(r"langgraph>=([\d.]+),<([\d.]+)", spec.replace(" ", ""))
    assert match, spec
    return match[1], match[2]


def _pin(path: Path, package: str) -> str:
    [pin] = re.findall(rf"^{package}==(\S+)$", path.read_text(), flags=re.MULTILINE)
    return pin


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_oldest_constraints_pin_langgraph_at_the_lower_bound_and_the_newest_within_range() -> (
    None
):
    lowest, below = _langgraph_bound()
    assert _pin(ROOT / "constraints-oldest.txt", "langgraph") == lowest
    newest = _pin(ROOT / "constraints.txt", "langgraph")
    assert _release(lowest) <= _release(newest) < _release(below)


PRIVATE_LANGGRAPH = re.compile(
    r"__pregel_\w+|langgraph\._internal|langgraph\.pregel\._\w+"
    r"|from langchain_core[\w.]* import \(?\s*_\w+|langchain_core[\w.]*\._[a-z]\w*\("
)


def test_only_the_internals_module_reaches_into_private_langgraph_state() -> None:
    packages = ["agent", "graphs", "tools", "tests"]
    packages += ["llmcompiler_cli", "llmcompiler_bench", "llmcompiler_scripted"]
    reaching = {
        f"{path.relative_to(ROOT)}: {match}"
        for package in packages
        for path in sorted((ROOT / package).rglob("*.py"))
        if path not in (ROOT / "agent" / "_langgraph.py", Path(__file__).resolve())
        for match in PRIVATE_LANGGRAPH.findall(path.read_text("utf-8"))
    }
    assert not reaching
    assert PRIVATE_LANGGRAPH.findall((ROOT / "agent" / "_langgraph.py").read_text("utf-8"))
