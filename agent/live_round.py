"""The in-process objects of one round of one run, shared by its planner and scheduler nodes.

Both nodes (and the LangGraph tasks they issue) find the round by a key derived from the step
they run in. It lives only while either node runs and is never persisted (state holds the
records), so a resumed run builds a new one around the replayed plan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.config import get_config
from langgraph.runtime import Runtime

from agent.cache import ResultCache
from agent.context import Context
from agent.handoff import PlanHandoff
from agent.outcomes import Outcomes
from agent.task import Task
from agent.toolset import Toolset


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


def _pregel_loop() -> Any:
    """The Pregel loop running this invocation, or None.

    LangGraph gives each node a call hook bound to the invocation's own loop; there is no
    public handle. The loop is used for two things only, both degrading safely if LangGraph's
    internals change: telling concurrent invocations apart, and seeing which node of this
    step a resume restored from the checkpoint.
    """
    call = get_config().get("configurable", {}).get("__pregel_call")
    schedule = getattr(call, "keywords", {}).get("schedule_task")
    return getattr(schedule, "__self__", None)


def _invocation_id() -> str:
    """Tells apart concurrent invocations of the graph, even two that resume the same
    checkpoint of the same thread; shared by all nodes of one step (`execution_info.run_id`
    is set only when the caller passes one)."""
    loop = _pregel_loop()
    return "" if loop is None else f"{id(loop):x}"


def restored_writes(node: str) -> list[tuple[str, Any]] | None:
    """The writes of this step's `node` if a resume restored them from the checkpoint (it
    finished before the process died, so LangGraph will not run it again), else None.

    A SIGKILL can land between the planner's and the scheduler's writes; the partner that
    resumes alone must then do without the other instead of waiting for it.
    """
    loop = _pregel_loop()
    restored = getattr(loop, "_reapplied_task_ids", None)
    tasks = getattr(loop, "tasks", None)
    if not restored or not isinstance(tasks, Mapping):
        return None
    for task in tasks.values():
        if getattr(task, "name", None) == node and getattr(task, "id", None) in restored:
            # a task that failed or was interrupted is restored with no writes: it runs again
            return list(task.writes) or None
    return None


def round_key(runtime: Runtime[Context]) -> str:
    """Shared by the planner and scheduler of one step of one invocation; unique per step,
    invocation and graph level (two concurrent runs of a thread never share a round)."""
    thread, namespace, checkpoint = _execution(runtime)
    return f"{thread}|{namespace}|{checkpoint}|{_invocation_id()}"


def step_checkpoint(runtime: Runtime[Context]) -> str:
    """The checkpoint this step started from (the same when a killed run resumes it)."""
    return _execution(runtime)[2]


def idempotency_prefix(runtime: Runtime[Context], turn_id: str | None) -> str:
    """`thread | namespace | turn`: stable across a resume, distinct across turns, forks and
    embeddings of the graph (see `agent.state.turn_id`); a task's key appends its index."""
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
