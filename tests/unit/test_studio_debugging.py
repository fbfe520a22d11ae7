"""docs/langgraph.md, "Debugging: interrupt, edit, replay, fork", runs as written.

The section's ```python blocks run offline like the customization guide's (its opening program,
then each recipe after it), print exactly the output shown, and keep the key facts listed here:
an edit without `as_node` is refused, the joiner reads an edit made as the scheduler, a replay
from before the joiner makes no planner or tool call, a fork from before the planner makes both.
Its SDK block needs a server: it must compile and every client call in it must fit the
installed `langgraph-sdk`. The plain tests below check the section's other claims.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage, RemoveMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import StateSnapshot
from langgraph_sdk import get_client

from agent import create_llm_compiler
from llmcompiler_scripted import ScriptedChatModel
from tests.helpers import NO_RUN, RUN, Block, read_blocks, run_block

DOC = Path(__file__).resolve().parents[2] / "docs" / "langgraph.md"
HEADING = "## Debugging: interrupt, edit, replay, fork"
OPENING = "the-debugging-program"

KEY_FACTS: dict[str, list[str]] = {
    OPENING: ["5,800,000 people | new calls: planner 1, tools 2, joiner 1"],
    "interrupt-before-the-joiner-edit-a-result-resume": [
        "stopped before ('joiner',) | tasks done: [1, 2] | new calls: planner 1, tools 2, joiner 0",
        "without as_node: InvalidUpdateError: Ambiguous update, specify as_node",
        "5,900,000 people | new calls: planner 0, tools 0, joiner 1",  # the edit was read
    ],
    "replay-from-before-the-joiner": ["new calls: planner 0, tools 0, joiner 1"],
    "fork-from-before-the-planner": [
        "tools called again: ['Berlin', 'Madrid']",
        "7,000,000 people | new calls: planner 1, tools 2, joiner 1",
        "the thread goes on from the fork: ['Berlin and Madrid?', '7,000,000 people']",
    ],
}
"""Runnable sections the doc must keep, each with what its block must print."""


def _section_blocks() -> list[Block]:
    """The fenced code blocks between the section's heading and the next `## ` heading."""
    text = DOC.read_text(encoding="utf-8")
    lines = text.splitlines()
    start = lines.index(HEADING) + 1
    end = next(
        (n for n, line in enumerate(lines[start:], start=start + 1) if line.startswith("## ")),
        len(lines) + 1,
    )
    return [block for block in read_blocks(text) if start < block.line < end]


BLOCKS = _section_blocks()
RUNNABLE = [block for block in BLOCKS if block.info == RUN]
SDK = [block for block in BLOCKS if block.info == NO_RUN]


def test_section_keeps_its_program_every_recipe_and_the_sdk_block() -> None:
    assert [block.section for block in RUNNABLE] == list(KEY_FACTS)
    assert len(SDK) == 1
    assert {block.info for block in BLOCKS} == {RUN, NO_RUN}


@pytest.mark.parametrize("block", RUNNABLE, ids=[block.id for block in RUNNABLE])
@pytest.mark.usefixtures("offline")
def test_recipe_runs_offline_and_prints_what_the_doc_shows(
    block: Block, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert block.output is not None, f"line {block.line}: no ```text output block follows"
    printed = run_block(block, RUNNABLE[0], DOC, monkeypatch, capsys)
    assert printed == block.output
    for fact in KEY_FACTS[block.section]:
        assert fact in printed


def _sdk_calls(tree: ast.AST) -> list[tuple[str, str, ast.Call]]:
    """Every `client.<resource>.<method>(...)` call: (resource, method, call)."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Attribute)
            and isinstance(node.func.value.value, ast.Name)
            and node.func.value.value.id == "client"
        ):
            found.append((node.func.value.attr, node.func.attr, node))
    return found


@pytest.mark.usefixtures("offline")
def test_sdk_block_compiles_and_its_calls_fit_the_installed_sdk() -> None:
    (block,) = SDK
    tree = ast.parse(block.source(), str(DOC))
    compile(tree, str(DOC), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    client = get_client(url="http://127.0.0.1:2024")  # builds an HTTP client, connects nowhere
    used: dict[str, set[str]] = {}
    as_nodes: set[Any] = set()
    for resource, method, call in _sdk_calls(tree):
        signature = inspect.signature(getattr(getattr(client, resource), method))
        keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg is not None}
        signature.bind(*call.args, **keywords)  # raises on an argument the SDK does not take
        used.setdefault(f"{resource}.{method}", set()).update(keywords)
        if "as_node" in keywords:
            as_nodes.add(ast.literal_eval(keywords["as_node"]))
    assert {"interrupt_before", "checkpoint_id", "checkpoint"} <= used["runs.stream"]
    assert {"as_node", "checkpoint"} <= used["threads.update_state"]
    assert as_nodes == {"scheduler", "__start__"}


CITIES = {"Paris": 2_100_000, "Berlin": 3_700_000, "Madrid": 3_300_000}


class CountedPopulation:
    """The docs' `population` tool, recording each call's city and idempotency key."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def population(self, city: str, config: RunnableConfig) -> int:
        """Number of people living in `city`."""
        self.calls.append((city, config["metadata"]["idempotency_key"]))
        return CITIES[city]


def _plan_per_city(messages: list[BaseMessage]) -> str:
    """One `population` call per city the question names (the doc's scripted planner)."""
    cities = [city for city in CITIES if city in str(messages[-1].content)]
    lines = [f'{i}. population("{city}")' for i, city in enumerate(cities, start=1)]
    return "\n".join([*lines, f"{len(cities) + 1}. join()"])


def _per_city_graph() -> tuple[CompiledStateGraph[Any, Any, Any, Any], CountedPopulation]:
    """Plans one call per city named; answers "ok"."""
    tool = CountedPopulation()
    planner = ScriptedChatModel(respond=_plan_per_city)
    joiner = ScriptedChatModel(respond=lambda _: "Thought: read\nAction: Finish(ok)")
    graph = create_llm_compiler(
        [tool.population], planner=planner, joiner=joiner, checkpointer=InMemorySaver()
    )
    return graph, tool


def _replanning_graph() -> tuple[
    CompiledStateGraph[Any, Any, Any, Any], ScriptedChatModel, CountedPopulation
]:
    """Two rounds: Berlin, a replan, then Paris."""
    tool = CountedPopulation()
    planner = ScriptedChatModel(
        responses=['1. population("Berlin")\n2. join()', '3. population("Paris")\n4. join()']
    )
    joiner = ScriptedChatModel(
        responses=[
            "Thought: Paris is missing\nAction: Replan(look up Paris)",
            "Thought: both known\nAction: Finish(5,800,000 people)",
        ]
    )
    graph = create_llm_compiler(
        [tool.population], planner=planner, joiner=joiner, checkpointer=InMemorySaver()
    )
    return graph, joiner, tool


QUESTION = {"messages": [("user", "Berlin and Paris?")]}


async def test_run_time_breakpoint_stops_before_each_rounds_joiner_when_every_call_asks() -> None:
    graph, joiner, tool = _replanning_graph()
    config: RunnableConfig = {"configurable": {"thread_id": "stepped"}}
    async for _ in graph.astream(QUESTION, config, interrupt_before=["joiner"]):
        pass
    state = await graph.aget_state(config)
    assert state.next == ("joiner",) and not joiner.calls
    assert [(t["idx"], t["status"]) for t in state.values["tasks"]] == [(1, "done")]

    await graph.ainvoke(None, config, interrupt_before=["joiner"])  # passes this breakpoint
    state = await graph.aget_state(config)
    assert state.next == ("joiner",) and len(joiner.calls) == 1  # stopped in round 2
    assert [(t["idx"], t["status"]) for t in state.values["tasks"]] == [(1, "done"), (3, "done")]

    result = await graph.ainvoke(None, config)
    assert result["messages"][-1].content == "5,800,000 people"
    assert (await graph.aget_state(config)).next == ()
    assert [city for city, _ in tool.calls] == ["Berlin", "Paris"]


async def test_resume_without_the_breakpoint_runs_through_later_rounds() -> None:
    graph, joiner, _ = _replanning_graph()
    config: RunnableConfig = {"configurable": {"thread_id": "once"}}
    await graph.ainvoke(QUESTION, config, interrupt_before=["joiner"])
    result = await graph.ainvoke(None, config)
    assert result["messages"][-1].content == "5,800,000 people"
    assert len(joiner.calls) == 2  # the replan's round was not stopped
    assert (await graph.aget_state(config)).next == ()


async def test_edit_as_the_scheduler_replaces_the_whole_task_list() -> None:
    graph, _ = _per_city_graph()
    config: RunnableConfig = {"configurable": {"thread_id": "replaced"}}
    await graph.ainvoke(QUESTION, config, interrupt_before=["joiner"])
    _, berlin = (await graph.aget_state(config)).values["tasks"]
    await graph.aupdate_state(config, {"tasks": [berlin]}, as_node="scheduler")
    assert (await graph.aget_state(config)).values["tasks"] == [berlin]  # no reducer merged it


def _pending(snapshot: StateSnapshot) -> bool:
    """The SDK block's test for a checkpoint before the joiner (its round is undecided)."""
    rounds = snapshot.values.get("rounds")
    return bool(rounds) and rounds[-1]["decision"] == "pending"


async def test_undecided_round_marks_exactly_the_checkpoints_before_the_joiner() -> None:
    graph, _, _ = _replanning_graph()
    config: RunnableConfig = {"configurable": {"thread_id": "marked"}}
    await graph.ainvoke(QUESTION, config, interrupt_before=["joiner"])
    state = await graph.aget_state(config)
    tasks = [{**state.values["tasks"][0], "result": 3_800_000}]
    await graph.aupdate_state(config, {"tasks": tasks}, as_node="scheduler")  # a checkpoint too
    await graph.ainvoke(None, config)
    history = [snapshot async for snapshot in graph.aget_state_history(config)]
    before_joiner = [s.config for s in history if s.next == ("joiner",)]
    assert len(before_joiner) == 3  # round 1, its edit, round 2
    assert [s.config for s in history if _pending(s)] == before_joiner


async def test_a_fork_gets_keys_of_its_own_whether_or_not_it_keeps_the_question_id() -> None:
    graph, tool = _per_city_graph()
    config: RunnableConfig = {"configurable": {"thread_id": "forked"}}
    await graph.ainvoke(QUESTION, config)
    original = sorted(key for _, key in tool.calls)
    history = [snapshot async for snapshot in graph.aget_state_history(config)]
    before_planner = next(s for s in reversed(history) if "planner" in s.next)
    old = before_planner.values["messages"][-1]

    tool.calls.clear()
    same_id = {"messages": [HumanMessage("Berlin and Madrid?", id=old.id)]}
    forked = await graph.aupdate_state(before_planner.config, same_id, as_node="__start__")
    await graph.ainvoke(None, forked)
    assert sorted(city for city, _ in tool.calls) == ["Berlin", "Madrid"]
    # Tasks 1 and 2 were Paris and Berlin, now Berlin and Madrid: new keys, not the old ones.
    assert not {key for _, key in tool.calls} & set(original)

    tool.calls.clear()
    replaced = {"messages": [RemoveMessage(id=old.id), HumanMessage("Berlin and Madrid?")]}
    forked = await graph.aupdate_state(before_planner.config, replaced, as_node="__start__")
    await graph.ainvoke(None, forked)
    assert sorted(city for city, _ in tool.calls) == ["Berlin", "Madrid"]
    assert not {key for _, key in tool.calls} & set(original)

    # Neither fork rolled the thread back: the original run's end is still in its history.
    ends = [s.values["messages"] async for s in graph.aget_state_history(config) if not s.next]
    assert sorted([m.content for m in messages] for messages in ends) == [
        ["Berlin and Madrid?", "ok"],  # each fork's
        ["Berlin and Madrid?", "ok"],
        ["Berlin and Paris?", "ok"],  # the original's
    ]
