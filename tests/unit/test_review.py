"""Human approval of plans: pause before any tool runs; approve, edit or reject."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agent import Context
from tests.helpers import Run, run_graph, scripted_graph

CALLS: list[str] = []


@tool
async def act(name: str) -> str:
    """A side effect: acting on `name`."""
    CALLS.append(name)
    return f"did {name}"


PLAN = 'Thought: two actions\n1. act("a")\n2. act("b $1")\n3. join()'
APPROVE = Context(approve_plan=True)


async def _pause(answers: list[str], plans: list[str] | None = None) -> tuple[Any, Any, dict]:
    CALLS.clear()
    graph, planner, _ = scripted_graph(
        [act], plans or [PLAN], answers, checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "review"}}
    await run_graph(graph, "do it", context=APPROVE, config=config)
    return graph, planner, config


async def _interrupt_payload(graph: Any, config: dict) -> dict[str, Any]:
    state = await graph.aget_state(config)
    (payload,) = [i.value for t in state.tasks for i in t.interrupts]
    return payload


async def test_the_run_pauses_with_the_parsed_plan_before_any_tool_runs() -> None:
    graph, _, config = await _pause(["Action: Finish(x)"])
    assert CALLS == []
    payload = await _interrupt_payload(graph, config)
    assert payload["type"] == "plan_approval" and payload["round"] == 1
    assert [(t["idx"], t["tool"], t["args"]) for t in payload["plan"]] == [
        (1, "act", {"name": "a"}),
        (2, "act", {"name": "b $1"}),
    ]
    assert payload["plan"][0]["thought"] == "two actions"
    assert "2. act(name='b $1')" in payload["plan_text"]


async def test_approve_runs_the_plan_once() -> None:
    graph, planner, config = await _pause(["Action: Finish(approved and done)"])
    run: Run = await run_graph(graph, Command(resume="approve"), context=APPROVE, config=config)
    assert CALLS == ["a", "b did a"]
    assert run.answer == "approved and done"
    assert len(planner.calls) == 1  # the plan was replayed on resume, not asked for again
    assert run.output["tasks"][1]["result"] == "did b did a"


async def test_edit_replaces_the_plan_after_the_same_static_checks() -> None:
    graph, _, config = await _pause(["Action: Finish(edited)"])
    edited = '1. act("z")\n2. act("after $1")\n3. act("$7")\n4. nope()\n5. join()'
    run = await run_graph(
        graph, Command(resume={"action": "edit", "plan": edited}), context=APPROVE, config=config
    )
    assert CALLS == ["z", "after did z"]
    tasks = run.tasks
    assert "$7" in tasks[3]["error"] and "unknown tool" in tasks[4]["error"]
    assert run.answer == "edited"
    assert [e["idx"] for e in run.of("task_planned")] == [1, 2, 3, 4]


async def test_reject_replans_with_the_reason_and_runs_nothing_of_the_rejected_plan() -> None:
    plans = [PLAN, '3. act("safe")\n4. join()']
    graph, planner, config = await _pause(["Action: Finish(replanned)"], plans)
    reject = Command(resume={"action": "reject", "reason": "never touch a"})
    await run_graph(graph, reject, context=APPROVE, config=config)
    assert CALLS == []
    assert "never touch a" in planner.calls[1][-1].text  # the replan prompt has the reason
    run = await run_graph(graph, Command(resume="approve"), context=APPROVE, config=config)
    assert CALLS == ["safe"]
    assert run.answer == "replanned"
    state = await graph.aget_state(config)
    assert state.values["review"] == {
        "round": 2,
        "verdict": "approved",
        "reason": None,
        "final": None,
    }


async def test_a_resume_without_the_approval_context_still_honours_the_review() -> None:
    graph, _, config = await _pause(["Action: Finish(x)"], [PLAN, "3. join()"])
    reject = Command(resume={"action": "reject", "reason": "no"})
    await run_graph(graph, reject, context=Context(approve_plan=False), config=config)
    assert CALLS == []  # the rejected plan did not run
