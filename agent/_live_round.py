"""The in-process objects of one round of one run, shared by its planner and scheduler nodes.

Both nodes (and the LangGraph tasks they issue) find the round by a key derived from the step
they run in. It lives only while either node runs and is never persisted (state holds the
records), so a resumed run builds a new one around the replayed plan.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.runtime import Runtime

from agent._cache import ResultCache
from agent._context import Context
from agent._handoff import PlanHandoff
from agent._langgraph import invocation_id, step_task_writes
from agent._outcomes import Outcomes
from agent._task import Task
from agent._toolset import Toolset


@dataclass
class LiveRound:
    """The hand-off, the outcome futures, and what caps and tracks the running tool calls."""

    key: str
    tools: Toolset
    context: Context
    handoff: PlanHandoff = field(default_factory=PlanHandoff)
    outcomes: Outcomes = field(default_factory=Outcomes)
    planner_model: BaseChatModel | None = None
    live_plan: list[Task] = field(default_factory=list)
    """Every task the planner parsed while streaming (empty when its plan was replayed)."""
    cache: ResultCache | None = None
    running: set[int] = field(default_factory=set)
    """Tasks whose tool is executing now (they finish, rather than cancel, on an interrupt)."""
    _slots: asyncio.Semaphore | None = None
    _users: int = 0

    @property
    def slots(self) -> asyncio.Semaphore:
        """Caps tool calls *running* at once; tasks waiting for dependencies hold no slot."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(max(1, self.context.max_concurrency))
        return self._slots

    def _close(self) -> None:
        self.handoff.close()


_rounds: dict[str, LiveRound] = {}


def _execution(runtime: Runtime[Context]) -> tuple[str | None, str, str]:
    """Thread, namespace of the graph (not of the node task) and checkpoint of this step."""
    info = runtime.execution_info
    if info is None:
        raise RuntimeError("LLMCompiler nodes must run inside a LangGraph graph")
    return info.thread_id, info.checkpoint_ns.rpartition("|")[0], info.checkpoint_id


def restored_writes(node: str) -> list[tuple[str, Any]] | None:
    """The writes of this step's `node` if a resume restored them from the checkpoint (it
    finished before the process died, so LangGraph will not run it again), else None.

    A SIGKILL can land between the planner's and the scheduler's writes; the partner that
    resumes alone must then do without the other instead of waiting for it. Valid while
    `node` cannot have returned in this run, which the hand-off ensures: the scheduler returns
    only after the plan has ended, the planner only after the scheduler's outcome.
    """
    return step_task_writes(node)


def round_key(runtime: Runtime[Context]) -> str:
    """Shared by the planner and scheduler of one step of one invocation; unique per step,
    invocation and graph level (two concurrent runs of a thread never share a round)."""
    thread, namespace, checkpoint = _execution(runtime)
    return f"{thread}|{namespace}|{checkpoint}|{invocation_id()}"


def step_checkpoint(runtime: Runtime[Context]) -> str:
    """The checkpoint this step started from (the same when a killed run resumes it)."""
    return _execution(runtime)[2]


def idempotency_prefix(runtime: Runtime[Context], turn_id: str | None) -> str:
    """`thread | namespace | turn`: stable across a resume, distinct across turns, forks and
    embeddings of the graph (see `agent._state.turn_id`); a task's key appends its index."""
    thread, namespace, _ = _execution(runtime)
    return f"{thread}|{namespace}|{turn_id}"


def join_round(key: str, tools: Toolset, context: Context) -> LiveRound:
    """Join (or open) the live round of `key`; pair every call with `leave_round`."""
    live = _rounds.get(key)
    if live is None:
        live = _rounds[key] = LiveRound(key, tools=tools, context=context)
    live._users += 1
    return live


def leave_round(live: LiveRound) -> None:
    live._users -= 1
    if live._users <= 0 and _rounds.get(live.key) is live:
        del _rounds[live.key]
        live._close()


def live_round(key: str) -> LiveRound:
    """The live round of a running step (used inside LangGraph task bodies)."""
    try:
        return _rounds[key]
    except KeyError:
        raise RuntimeError(f"no live LLMCompiler round for {key!r}") from None
