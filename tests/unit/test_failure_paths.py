"""Engine paths off the happy path that each need a failure at a chosen moment: a partner node
(planner or scheduler) failing with an ordinary error, the planner model failing in
mid-stream, the resume guard for a recorded result that belongs to another call, and the
joiner answering after a plan error with partial results.

Moments are chosen by gates, not sleeps: the scripted planner holds its stream until a
task's result is in the checkpoint (`HookedChatModel`), and a fault is armed for one attempt
by patching one engine step, so the resume runs unpatched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphInterrupt
from langgraph.types import Command, interrupt

import agent._scheduler
import agent.plan
from agent import Context, PlanAborted, create_llm_compiler
from agent._handoff import PlanHandoff, partner_failure
from agent.plan import Task
from llmcompiler_scripted import ScriptedChatModel
from tests.helpers import STREAMING, HookedChatModel, eventually, recorded_tasks, run_graph

FINISH = "Thought: done\nAction: Finish(ok)"
PLAN = '1. step("a")\n2. step("b")\n3. join()'
ANOTHER = "belongs to another call"


class Steps:
    """A `step` tool whose calls are recorded; `step("b")` waits for `release_b` and notes a
    cancellation, so it can be caught in flight."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.cancelled: list[str] = []
        self.release_b = asyncio.Event()
        self.b_started = asyncio.Event()

        @tool
        async def step(name: str) -> str:
            """Do step `name`."""
            self.calls.append(name)
            if name == "b":
                self.b_started.set()
                try:
                    await self.release_b.wait()
                except asyncio.CancelledError:
                    self.cancelled.append(name)
                    raise
            return name.upper()

        self.tool = step


def _gate(saver: InMemorySaver, thread: str, steps: Steps) -> Callable[[str], Awaitable[None]]:
    """A planner hook: once the stream has passed task 2's line, hold it until task 1's result
    is in the checkpoint and task 2 is running."""

    async def hook(text: str) -> None:
        if "\n3" in text:
            await eventually(lambda: 1 in recorded_tasks(saver, thread), what="$1 recorded")
            await eventually(steps.b_started.is_set, what="step b running")

    return hook


def _engine(
    steps: Steps, plans: list[str], answers: list[str]
) -> tuple[Any, HookedChatModel, ScriptedChatModel, InMemorySaver]:
    """The engine on `steps` with a checkpointer; the planner's hook is set by each test."""
    saver = InMemorySaver()
    planner_model = HookedChatModel(responses=plans, timing=STREAMING)
    joiner = ScriptedChatModel(responses=answers, timing=STREAMING)
    graph = create_llm_compiler(
        [steps.tool], planner=planner_model, joiner=joiner, checkpointer=saver
    )
    return graph, planner_model, joiner, saver


@pytest.fixture
def armed() -> Iterator[list[bool]]:
    """A fault switch: faults injected below fire only while it holds True."""
    switch = [True]
    yield switch
    switch[0] = False


def _original(exc: BaseException, node: str) -> BaseException:
    """What the caller saw, unwrapped: the failed node's own exception, either itself or
    chained under the partner's `PlanAborted`, which names the node and the error."""
    if isinstance(exc, PlanAborted):
        cause = exc.__cause__
        assert cause is not None
        assert str(exc) == f"{node} failed: {type(cause).__name__}: {cause}"
        return cause
    return exc


# -- the partner-failure propagation itself --------------------------------------------------
async def test_planner_failure_reaches_the_scheduler_as_plan_aborted_chaining_it() -> None:
    handoff = PlanHandoff()
    handoff.send([Task(1, "step", {"name": "a"}, [])])
    error = RuntimeError("parser bug")
    handoff.fail(error)
    received: list[Task] = []
    with pytest.raises(PlanAborted, match=r"^planner failed: RuntimeError: parser bug$") as info:
        async for planned in handoff.tasks():
            received.append(planned)
    assert [t.idx for t in received] == [1]  # what was sent before the failure still arrives
    assert info.value.__cause__ is error


async def test_a_scheduler_failure_reaches_the_waiting_planner_as_plan_aborted() -> None:
    handoff = PlanHandoff()
    error = OSError("disk full")
    handoff.scheduler_finished(error)
    with pytest.raises(PlanAborted, match=r"^scheduler failed: OSError: disk full$") as info:
        await handoff.scheduler_outcome()
    assert info.value.__cause__ is error
    handoff.scheduler_finished()  # a second outcome changes nothing
    with pytest.raises(PlanAborted):
        await handoff.scheduler_outcome()


def test_only_ordinary_errors_become_plan_aborted() -> None:
    class Stop(BaseException):
        pass

    stop = Stop()
    assert partner_failure("planner", stop) is stop  # its own type reaches the caller
    mirrored = partner_failure("scheduler", GraphInterrupt(("ask",)))
    assert isinstance(mirrored, GraphInterrupt) and mirrored.args == ((),)
    assert isinstance(partner_failure("planner", KeyError("x")), PlanAborted)


# -- a partner node failing in a graph -------------------------------------------------------
async def test_a_scheduler_failing_mid_round_fails_the_run_and_a_resume_reruns_only_unrecorded(
    monkeypatch: pytest.MonkeyPatch, armed: list[bool]
) -> None:
    """The scheduler fails issuing task 2, after task 1's result was recorded and while the
    planner still streams (held there, so it is cancelled mid-stream). The caller sees the
    scheduler's error; both nodes stay pending; the resume asks the planner again (its stream
    never finished), reuses task 1's result and runs task 2 once."""
    steps = Steps()
    steps.release_b.set()
    fault = RuntimeError("disk full")
    dispatch = agent._scheduler._Dispatcher.dispatch

    def failing_dispatch(self: Any, planned: Task) -> None:
        if armed[0] and planned.idx == 2:
            raise fault
        dispatch(self, planned)

    monkeypatch.setattr(agent._scheduler._Dispatcher, "dispatch", failing_dispatch)
    thread = "scheduler-fails"
    graph, planner, _, saver = _engine(steps, [PLAN, PLAN], [FINISH])

    async def hold_line_2(text: str) -> None:
        if "2. step" in text:  # task 1 recorded before task 2 is parsed
            await eventually(lambda: 1 in recorded_tasks(saver, thread), what="$1 recorded")
        if "\n3" in text and armed[0]:  # task 2 issued (and failed): the plan never ends
            await asyncio.Event().wait()

    planner.on_text = hold_line_2
    config = {"configurable": {"thread_id": thread}}
    with pytest.raises(Exception) as info:
        await run_graph(graph, "go", config=config)
    assert _original(info.value, "scheduler") is fault
    state = await graph.aget_state(config)
    assert state.next == ("planner", "scheduler")
    assert steps.calls == ["a"]

    armed[0] = False
    run = await run_graph(graph, None, config=config)
    assert steps.calls == ["a", "b"]  # task 1 was recorded: not run again
    assert [run.tasks[i]["result"] for i in (1, 2)] == ["A", "B"]
    assert len(planner.calls) == 2 and run.answer == "ok"


async def test_a_scheduler_failing_after_the_plan_aborts_the_waiting_planner_and_resumes(
    monkeypatch: pytest.MonkeyPatch, armed: list[bool]
) -> None:
    """The scheduler fails once every call has finished, while the planner (its plan
    recorded) waits for it: the planner fails with `PlanAborted` too, so both re-run; the
    resume replays the plan and runs no tool again."""
    steps = Steps()
    steps.release_b.set()
    fault = RuntimeError("disk full")
    finish = agent._scheduler._Dispatcher.finish

    async def failing_finish(self: Any) -> Any:
        records = await finish(self)
        if armed[0]:
            raise fault
        return records

    monkeypatch.setattr(agent._scheduler._Dispatcher, "finish", failing_finish)
    graph, planner, _, _ = _engine(steps, [PLAN], [FINISH])
    config = {"configurable": {"thread_id": "scheduler-fails-late"}}
    with pytest.raises(Exception) as info:
        await run_graph(graph, "go", config=config)
    assert _original(info.value, "scheduler") is fault
    state = await graph.aget_state(config)
    assert state.next == ("planner", "scheduler")
    errors = {t.name: t.error for t in state.tasks}
    assert errors["scheduler"] == "RuntimeError('disk full')"
    assert errors["planner"] in {
        "PlanAborted('scheduler failed: RuntimeError: disk full')",
        "CancelledError()",  # LangGraph cancelled it first
    }

    armed[0] = False
    run = await run_graph(graph, None, config=config)
    assert steps.calls == ["a", "b"]
    assert [run.tasks[i]["result"] for i in (1, 2)] == ["A", "B"]
    assert len(planner.calls) == 1  # the recorded plan was replayed


async def test_a_planner_failing_after_dispatch_aborts_the_scheduler_and_a_resume_reruns_it(
    monkeypatch: pytest.MonkeyPatch, armed: list[bool]
) -> None:
    """The planner node fails (a fault at the end of its stream) after both tasks were
    dispatched, task 1 recorded and task 2 running: the scheduler is aborted and cancels task
    2. The resume asks the planner again, reuses task 1's result and runs task 2 again."""
    steps = Steps()
    fault = RuntimeError("parser bug")
    close = agent.plan.PlanParser.close

    def failing_close(self: Any, **kwargs: Any) -> list[Task]:
        if armed[0]:
            raise fault
        return close(self, **kwargs)

    monkeypatch.setattr(agent.plan.PlanParser, "close", failing_close)
    thread = "planner-fails"
    graph, planner, _, saver = _engine(steps, [PLAN, PLAN], [FINISH])
    planner.on_text = _gate(saver, thread, steps)
    config = {"configurable": {"thread_id": thread}}
    with pytest.raises(Exception) as info:
        await run_graph(graph, "go", config=config)
    assert _original(info.value, "planner") is fault
    state = await graph.aget_state(config)
    assert state.next == ("planner", "scheduler")
    errors = {t.name: t.error for t in state.tasks}
    assert errors["planner"] == "RuntimeError('parser bug')"
    assert errors["scheduler"] in {
        "PlanAborted('planner failed: RuntimeError: parser bug')",
        "CancelledError()",
    }
    assert steps.cancelled == ["b"]  # in flight when the round failed

    armed[0] = False
    steps.release_b.set()
    run = await run_graph(graph, None, config=config)
    assert steps.calls == ["a", "b", "b"]  # a recorded, so once; b cancelled, so again
    assert [run.tasks[i]["result"] for i in (1, 2)] == ["A", "B"]
    assert len(planner.calls) == 2 and run.answer == "ok"


# -- the resume guard: a recorded result that belongs to another call ------------------------
async def test_a_replanned_call_at_a_recorded_position_gets_an_error_not_the_other_calls_result(
    monkeypatch: pytest.MonkeyPatch, armed: list[bool]
) -> None:
    """After a planner failure the plan is asked for again, and this time it differs at
    position 1: `step("z")` where `step("a")` was recorded. Task 1 gets the "belongs to
    another call" error, neither `a`'s result nor a second run; position 2 runs normally."""
    steps = Steps()
    close = agent.plan.PlanParser.close

    def failing_close(self: Any, **kwargs: Any) -> list[Task]:
        if armed[0]:
            raise RuntimeError("parser bug")
        return close(self, **kwargs)

    monkeypatch.setattr(agent.plan.PlanParser, "close", failing_close)
    thread = "guard"
    different = '1. step("z")\n2. step("b")\n3. join()'
    graph, planner, joiner, saver = _engine(steps, [PLAN, different], [FINISH])
    planner.on_text = _gate(saver, thread, steps)
    config = {"configurable": {"thread_id": thread}}
    with pytest.raises(Exception):  # noqa: B017 - either form of the planner's failure
        await run_graph(graph, "go", config=config)
    assert 1 in recorded_tasks(saver, thread)

    armed[0] = False
    steps.release_b.set()
    run = await run_graph(graph, None, config=config)
    first = run.tasks[1]
    assert first["status"] == "error" and ANOTHER in first["error"] and "$1 step" in first["error"]
    assert first["result"] is None and first["args"] == {"name": "z"}
    assert "z" not in steps.calls and steps.calls.count("a") == 1
    assert run.tasks[2]["result"] == "B"
    assert ANOTHER in joiner.calls[-1][-1].text  # the joiner is told, not handed "A"


async def test_recorded_call_whose_arguments_now_bind_differently_gets_an_error() -> None:
    """The run pauses (a tool's `interrupt()`) after `send("ann")` was recorded; before the
    resume the tool's parameter is renamed, so the replayed plan's call at that position has
    other arguments. The recorded result is not handed to it and the tool is not run again."""
    sent: list[str] = []

    @tool
    async def send(to: str) -> str:
        """Send a message to `to`."""
        sent.append(f"old:{to}")
        return f"sent to {to}"

    @tool("send")
    async def send_renamed(recipient: str) -> str:
        """Send a message to `recipient`."""
        sent.append(f"new:{recipient}")
        return f"sent to {recipient}"

    @tool
    async def confirm(text: str) -> str:
        """Ask a person to confirm `text`."""
        return f"{text}: {interrupt(text)}"

    plan = '1. send("ann")\n2. confirm("sent $1?")\n3. join()'
    saver = InMemorySaver()
    planner = ScriptedChatModel(responses=[plan], timing=STREAMING)
    joiner = ScriptedChatModel(responses=[FINISH], timing=STREAMING)
    config = {"configurable": {"thread_id": "renamed"}}
    before = create_llm_compiler(
        [send, confirm], planner=planner, joiner=joiner, checkpointer=saver
    )
    await run_graph(before, "go", config=config)  # paused in confirm, after send finished
    assert recorded_tasks(saver, "renamed")[1]["args"] == {"to": "ann"}

    after = create_llm_compiler(
        [send_renamed, confirm], planner=planner, joiner=joiner, checkpointer=saver
    )
    run = await run_graph(after, Command(resume="yes"), config=config)
    first = run.tasks[1]
    assert first["status"] == "error" and ANOTHER in first["error"] and "$1 send" in first["error"]
    assert first["result"] is None and first["args"] == {"recipient": "ann"}
    assert sent == ["old:ann"]  # not run again under its new signature
    assert run.tasks[2]["status"] == "skipped" and "$1" in run.tasks[2]["error"]
    assert len(planner.calls) == 1  # the plan was replayed, not asked for again


# -- the planner model failing in mid-stream -------------------------------------------------
@pytest.mark.parametrize(
    ("error", "named"),
    [
        (ValueError("invalid token in stream"), "model error: the planner model failed"),
        (
            ConnectionError("connection reset"),
            "model unreachable: the planner model could not be reached or dropped the connection",
        ),
    ],
)
async def test_a_planner_model_failing_mid_stream_keeps_dispatched_tasks_and_tells_the_joiner(
    error: Exception, named: str
) -> None:
    """The stream breaks after tasks 1 and 2 were handed off (task 1 already running). Both
    run to completion, the plan ends where it broke (no retry once tokens arrived, transient
    or not), and the joiner's prompt says why the plan is short."""
    steps = Steps()
    steps.release_b.set()
    plan = '1. step("a")\n2. step("b")\n3. step("c")\n4. join()'

    async def break_after_line_2(text: str) -> None:
        if "\n3" in text:
            raise error

    planner = HookedChatModel(responses=[plan], timing=STREAMING, on_text=break_after_line_2)
    joiner = ScriptedChatModel(responses=["Thought: partial\nAction: Finish(A and B)"])
    graph = create_llm_compiler([steps.tool], planner=planner, joiner=joiner)
    run = await run_graph(graph, "go")
    reason = f"{named}: {type(error).__name__}: {error}"
    assert sorted(run.tasks) == [1, 2] and steps.calls == ["a", "b"]
    assert [run.tasks[i]["result"] for i in (1, 2)] == ["A", "B"]
    assert run.position("task_started", 1) < run.position("plan_finished")
    assert run.of("plan_finished")[0]["n_tasks"] == 2
    assert run.output["rounds"][0]["plan_error"] == reason
    assert len(planner.calls) == 1
    prompt = joiner.calls[0][-1].text
    assert f"Note: {reason}" in prompt and "-> A" in prompt and "-> B" in prompt
    assert run.answer == "A and B"


# -- the joiner after a plan error, with partial results -------------------------------------
def _short_plan_engine(
    answers: list[str | Exception],
) -> tuple[Any, ScriptedChatModel, Steps]:
    """A plan that breaks after task 1 (done) and a joiner answering `answers`."""
    steps = Steps()

    async def break_after_line_1(text: str) -> None:
        if "\n2" in text:
            raise ValueError("stream cut")

    planner = HookedChatModel(
        responses=['1. step("a")\n2. step("c")\n3. join()'],
        timing=STREAMING,
        on_text=break_after_line_1,
    )
    joiner = ScriptedChatModel(responses=answers)
    graph = create_llm_compiler([steps.tool], planner=planner, joiner=joiner)
    return graph, joiner, steps


async def test_a_joiner_failing_after_a_plan_error_answers_with_the_partial_results() -> None:
    graph, joiner, _ = _short_plan_engine([ValueError("bad request")])
    run = await run_graph(graph, "go")
    assert len(joiner.calls) == 1  # partial results: the joiner model is asked
    assert run.answer.startswith(
        "I could not fully answer the question: model error: the joiner model failed"
    )
    assert "What was found:\n- step (task 1): A" in run.answer
    assert run.output["error"].startswith(
        "model error: the joiner model failed: ValueError: bad request"
    )
    assert run.output["rounds"][0]["plan_error"].endswith("ValueError: stream cut")


async def test_replan_after_a_plan_error_with_none_left_answers_with_partial_results() -> None:
    graph, joiner, _ = _short_plan_engine(["Thought: c is missing\nAction: Replan(need c)"])
    run = await run_graph(graph, "go", context=Context(max_replans=0))
    prompt = joiner.calls[0][-1].text
    assert "-> A" in prompt
    assert "Note: model error: the planner model failed: ValueError: stream cut" in prompt
    assert "No more replanning is possible" in joiner.calls[0][-1].text
    assert "no replans left (max_replans=0); still missing: need c" in run.answer
    assert run.output["error"] == "replans exhausted (max_replans=0): still missing: need c"
    assert "- step (task 1): A" in run.answer
    assert not run.of("replan")


# -- a crash between the planner's and the scheduler's writes --------------------------------
@pytest.mark.parametrize(("lost", "pending"), [("rounds", "planner"), ("tasks", "scheduler")])
async def test_a_resume_with_only_one_node_of_the_round_pending_finishes(
    lost: str, pending: str
) -> None:
    """The checkpoint a SIGKILL leaves when it lands between the two nodes' writes: the
    round's step with every write but those of the node that writes `lost`."""
    steps = Steps()
    steps.release_b.set()
    saver = InMemorySaver()
    graph = create_llm_compiler(
        [steps.tool],
        planner=ScriptedChatModel(responses=[PLAN], timing=STREAMING),
        joiner=ScriptedChatModel(responses=[FINISH], timing=STREAMING),
        checkpointer=saver,
    )
    await run_graph(graph, "go", config={"configurable": {"thread_id": "whole"}})
    [step] = [
        c
        for c in saver.list({"configurable": {"thread_id": "whole"}})
        if c.metadata and c.metadata.get("step") == 0
    ]
    writes: dict[str, list[tuple[str, Any]]] = {}
    for task_id, channel, value in step.pending_writes or []:
        writes.setdefault(task_id, []).append((channel, value))
    crashed = InMemorySaver()
    saved = crashed.put(
        {"configurable": {"thread_id": "crashed", "checkpoint_ns": ""}},
        step.checkpoint,
        step.metadata,
        step.checkpoint["channel_versions"],
    )
    for task_id, task_writes in writes.items():
        if lost not in (channel for channel, _ in task_writes):
            crashed.put_writes(saved, task_writes, task_id)
    resumed = create_llm_compiler(
        [steps.tool],
        planner=ScriptedChatModel(responses=[PLAN], timing=STREAMING),
        joiner=ScriptedChatModel(responses=[FINISH], timing=STREAMING),
        checkpointer=crashed,
    )
    config = {"configurable": {"thread_id": "crashed"}}
    assert (await resumed.aget_state(config)).next == (pending,)
    run = await asyncio.wait_for(run_graph(resumed, None, config=config), 4)
    assert run.answer == "ok" and steps.calls == ["a", "b"]  # nothing ran twice
