"""Graph state: the conversation, the turn's streaming task list, and its plan log.

Everything here is JSON-serializable so checkpointers and the server can persist it; live
objects (futures, queues, clients) stay in `agent._handoff`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from agent._results import stored_args
from agent._task import Task
from agent._usage import Usage

TaskStatus = Literal["planned", "running", "done", "error", "skipped"]


class TaskRecord(TypedDict):
    """One planned task of the current turn, as stored in state (docs/protocol.md, "State")."""

    idx: int
    tool: str
    args: dict[str, Any]
    deps: list[int]
    thought: str | None
    status: TaskStatus
    result: Any
    error: str | None
    round: int
    started_at: float | None
    finished_at: float | None
    deduplicated_from: NotRequired[int]
    """Set when an identical earlier call of a pure tool supplied the result."""
    cache_hit: NotRequired[bool]
    """Set when the result came from the cross-run result cache."""
    usage: NotRequired[Usage]
    """LLM calls the tool made itself (e.g. the `math` tool's model), when any."""


def new_record(task: Task, round_: int) -> TaskRecord:
    """The record of a freshly planned task (a static error is final at once)."""
    return TaskRecord(
        idx=task.idx,
        tool=task.tool,
        args=stored_args(task.args),
        deps=list(task.deps),
        thought=task.thought,
        status="error" if task.error is not None else "planned",
        result=None,
        error=task.error,
        round=round_,
        started_at=None,
        finished_at=None,
    )


class RoundRecord(TypedDict):
    """One plan of the current turn: how it ended and what the joiner made of it."""

    round: int
    question_id: str | None
    turn_id: NotRequired[str | None]
    """Names the turn in idempotency keys (see `turn_id`)."""
    join_idx: int
    final: str | None
    """`join(final="$N")`: the reference whose result is the answer (skips the joiner call)."""
    plan_error: str | None
    plan_text: NotRequired[str]
    """The plan as the model wrote it: a scheduler resumed without its planner reads it here."""
    plan_cut_off: NotRequired[bool]
    """The plan's output stopped before the model finished (see `PlanParser.close`)."""
    plan_notes: NotRequired[list[str]]
    """Plan lines that were none of task, `Thought:` or the plan's end: the joiner sees them."""
    planner_usage: Usage | None
    joiner_usage: Usage | None
    joiner_thought: str | None
    decision: Literal["pending", "finish", "replan"]
    replan_reason: str | None


class PlanReview(TypedDict):
    """The reviewer's decision on one round's plan (`Context.approve_plan`)."""

    round: int
    verdict: Literal["approved", "edited", "rejected"]
    reason: str | None
    final: NotRequired[str | None]
    """The approved plan's own `join(final="$N")`: an edited plan decides its answer."""


@dataclass(kw_only=True)
class InputState:
    """What a caller sends: the conversation (a new user message starts a new turn)."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)


@dataclass(kw_only=True)
class OutputState(InputState):
    """What a run returns: the conversation and the turn's task list."""

    tasks: list[TaskRecord] = field(default_factory=list)
    usage: Usage | None = None
    """LLM calls, tokens and cost of the current turn: planner, joiner and tools."""
    error: str | None = None
    """Why the turn failed (a model could not be reached, the plan could not be read), beside
    the answer that explains it; None when it answered."""


@dataclass(kw_only=True)
class State(OutputState):
    """Shared by planner, scheduler and joiner."""

    rounds: list[RoundRecord] = field(default_factory=list)
    review: PlanReview | None = None
    """The reviewer's verdict on the latest plan, when `approve_plan` is on."""


def continues_turn(state: State) -> bool:
    """True when this plan is a replan of the running turn, False when a new turn starts.

    A turn continues only if the joiner's last decision was to replan the same question; any
    other entry (a new user message, a second call from a parent graph) starts afresh.
    """
    if not state.rounds:
        return False
    last = state.rounds[-1]
    return last["decision"] == "replan" and last["question_id"] == question_id(state)


def current_round(state: State) -> int:
    """Round number (from 1) of the plan the planner and scheduler work on now."""
    return len(state.rounds) + 1 if continues_turn(state) else 1


def turn_tasks(state: State) -> list[TaskRecord]:
    """Task records of earlier rounds of this turn (none when a new turn starts)."""
    return list(state.tasks) if continues_turn(state) else []


def turn_rounds(state: State) -> list[RoundRecord]:
    return list(state.rounds) if continues_turn(state) else []


def question_message(state: State) -> AnyMessage | None:
    """The user message this turn answers: the last human message of the conversation."""
    for message in reversed(state.messages):
        if message.type == "human":
            return message
    return None


def question_id(state: State) -> str | None:
    message = question_message(state)
    return message.id if message is not None else None


def turn_id(state: State, step_checkpoint: str) -> str | None:
    """What names this turn in tool calls' idempotency keys: the checkpoint its first step
    started from (`step_checkpoint` when a turn starts here), kept by the turn's rounds.

    A killed run resumes from that same checkpoint, so its calls keep their keys; every new
    turn starts from a checkpoint of its own, even with no new human message (an appended AI
    message, an empty input), and so does a fork (a past state edited in Studio), so a
    backend that deduplicates by key never drops a real second call.
    """
    if continues_turn(state):
        last = state.rounds[-1]
        return last.get("turn_id", last["question_id"])
    return step_checkpoint
