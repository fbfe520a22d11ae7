"""LLMCompiler embedded as a node of a parent graph (graphs/assistant.py).

The parent routes, shares `messages` with the engine, streams the engine's task events under
the subgraph's namespace, persists both with the parent's checkpointer, and pauses and resumes
around an `interrupt()` raised inside a tool.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command, interrupt

from agent import Context
from graphs.assistant import build_assistant, parse_route
from llmcompiler_scripted import ScriptedChatModel
from tests.helpers import STREAMING

BALANCES = {"alice": 120, "bob": 80}


def _models(
    routes: list[str], plans: list[str], answers: list[str], direct: Sequence[str] = ()
) -> dict[str, ScriptedChatModel]:
    return {
        "router": ScriptedChatModel(responses=routes),
        "planner": ScriptedChatModel(responses=plans, timing=STREAMING),
        "joiner": ScriptedChatModel(responses=answers, timing=STREAMING),
        "answerer": ScriptedChatModel(responses=list(direct), timing=STREAMING),
    }


def test_route_parsing_defaults_to_tools() -> None:
    assert parse_route("DIRECT") == "direct"
    assert parse_route(" direct.\nbecause it's small talk") == "direct"
    assert parse_route("TOOLS") == "tools"
    assert parse_route("I think it's direct") == "tools"
    assert parse_route("") == "tools"


async def test_parent_streams_child_events_and_persists_with_its_checkpointer(
    tmp_path: Path,
) -> None:
    calls: Counter[str] = Counter()

    @tool
    async def balance(account: str) -> int:
        """Balance of `account` in euros."""
        calls[account] += 1
        await asyncio.sleep(0.02)
        return BALANCES[account]

    models = _models(
        routes=["TOOLS", "DIRECT"],
        plans=['1. balance("alice")\n2. balance("bob")\n3. join()\n<END_OF_PLAN>'],
        answers=["Thought: 120 + 80\nAction: Finish(Together they hold 200 euros.)"],
        direct=["You're welcome!"],
    )
    config = {"configurable": {"thread_id": "assistant-1"}}
    db = str(tmp_path / "assistant.sqlite")
    async with AsyncSqliteSaver.from_conn_string(db) as saver:
        graph = build_assistant([balance], checkpointer=saver, **models)
        streamed: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        async for namespace, event in graph.astream(
            {"messages": [("user", "How much do alice and bob hold together?")]},
            config,
            context=Context(),
            stream_mode="custom",
            subgraphs=True,
        ):
            streamed.append((namespace, event))

    kinds = [(event["event"], event.get("idx")) for _, event in streamed]
    assert kinds.index(("task_planned", 1)) < kinds.index(("task_started", 1))
    assert kinds.index(("task_started", 1)) < kinds.index(("task_finished", 1))
    assert ("task_finished", 2) in kinds and ("plan_finished", None) in kinds
    # Every event comes from inside the embedded engine, tagged with its namespace.
    assert all(ns and ns[0].startswith("llmcompiler:") for ns, _ in streamed), streamed
    assert calls == Counter({"alice": 1, "bob": 1})

    # As after a restart: a fresh saver on the same file and a freshly built graph.
    async with AsyncSqliteSaver.from_conn_string(db) as saver:
        graph = build_assistant([balance], checkpointer=saver, **models)
        state = await graph.aget_state(config)
        assert state.values["messages"][-1].content == "Together they hold 200 euros."
        assert [t["result"] for t in state.values["tasks"]] == [120, 80]
        namespaces = {c.config["configurable"]["checkpoint_ns"] async for c in saver.alist(None)}
        assert any(ns.startswith("llmcompiler:") for ns in namespaces), namespaces

        # The conversation continues from the file; small talk skips the engine.
        result = await graph.ainvoke({"messages": [("user", "Thanks!")]}, config)
    assert [m.content for m in result["messages"]][-2:] == ["Thanks!", "You're welcome!"]
    assert result["tasks"] == []
    assert len(models["planner"].calls) == 1 and len(models["joiner"].calls) == 1
    assert "Together they hold 200 euros." in str(models["answerer"].calls[0])


async def test_interrupt_inside_a_child_tool_pauses_the_parent_and_resumes() -> None:
    started: Counter[str] = Counter()
    approvals: list[Any] = []

    @tool
    async def balance(account: str) -> int:
        """Balance of `account` in euros."""
        started[account] += 1
        return BALANCES[account]

    @tool
    async def transfer(source: str, target: str, amount: int) -> str:
        """Move `amount` euros from `source` to `target`, after a human approves."""
        started["transfer"] += 1
        answer = interrupt(f"approve moving {amount} euros from {source} to {target}?")
        approvals.append(answer)
        return f"moved {amount} euros ({answer})"

    models = _models(
        routes=["TOOLS"],
        plans=[
            '1. balance("alice")\n'
            '2. transfer(source="alice", target="bob", amount=50)\n'
            '3. balance("bob")\n'
            "4. join()\n<END_OF_PLAN>"
        ],
        answers=["Thought: approved and done\nAction: Finish(Moved 50 euros to bob.)"],
    )
    graph = build_assistant([balance, transfer], checkpointer=InMemorySaver(), **models)
    config = {"configurable": {"thread_id": "assistant-interrupt"}}

    surfaced: dict[str, Any] = {}
    async for namespace, mode, data in graph.astream(
        {"messages": [("user", "Move 50 euros from alice to bob.")]},
        config,
        stream_mode=["updates", "custom"],
        subgraphs=True,
    ):
        if mode == "updates" and "__interrupt__" in data and namespace == ():
            # LangGraph 1.2 lists an interrupt raised in a subgraph's @task twice at the top
            # level, with the same id: one interrupt, so a plain Command(resume=...) answers it.
            surfaced.update({i.id: i.value for i in data["__interrupt__"]})
    assert list(surfaced.values()) == ["approve moving 50 euros from alice to bob?"]
    paused = await graph.aget_state(config)
    assert paused.next == ("llmcompiler",)
    assert approvals == [] and started == Counter({"alice": 1, "bob": 1, "transfer": 1})

    events: list[dict[str, Any]] = []
    async for _, mode, data in graph.astream(
        Command(resume="yes"), config, stream_mode=["updates", "custom"], subgraphs=True
    ):
        if mode == "custom":
            events.append(data)
    final = await graph.aget_state(config)

    assert approvals == ["yes"]
    # Finished calls were not run again; the interrupted tool re-ran from its start.
    assert started == Counter({"alice": 1, "bob": 1, "transfer": 2})
    assert [(e["event"], e.get("idx")) for e in events] == [
        ("task_started", 2),
        ("task_finished", 2),
    ]
    assert final.next == ()
    assert final.values["messages"][-1].content == "Moved 50 euros to bob."
    by_idx = {t["idx"]: t for t in final.values["tasks"]}
    assert by_idx[2]["status"] == "done" and by_idx[2]["result"] == "moved 50 euros (yes)"
    assert [by_idx[1]["result"], by_idx[3]["result"]] == [120, 80]
    assert len(models["planner"].calls) == 1 and len(models["router"].calls) == 1
