"""The in-process link between one round's planner and scheduler nodes.

Both nodes run in the same LangGraph superstep, so neither sees the other's state writes until
the step ends. They meet here instead: the planner publishes each parsed task the moment its
line is complete, the scheduler consumes them and dispatches tool calls, and each finished call
resolves an outcome future its dependents await. The session lives only while both nodes run;
nothing in it is persisted (state holds the records), so a resumed run rebuilds it from the
replayed plan.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.errors import GraphBubbleUp, GraphInterrupt
from langgraph.runtime import Runtime

from agent.cache import ResultCache
from agent.context import Context
from agent.plan import Task
from agent.state import TaskRecord

_END = object()


def _partner_failure(node: str, exc: BaseException) -> BaseException:
    """What the partner node raises when `node` stops with `exc`.

    An interrupt (a tool called `interrupt()`) is mirrored as an interrupt that carries no
    payload of its own, so LangGraph keeps both nodes pending and re-runs them together on
    resume; anything else is a failure.
    """
    if isinstance(exc, GraphBubbleUp):
        return GraphInterrupt(())
    return PlanAborted(f"{node} failed: {exc!r}")


class PlanAborted(RuntimeError):
    """The partner node failed; this node fails too so both re-run on resume."""


@dataclass
class PlanSession:
    """Rendezvous of one round's planner and scheduler (keyed by the step's checkpoint)."""

    key: str
    tools: Mapping[str, BaseTool] = field(default_factory=dict)
    context: Context = field(default_factory=Context)
    planner_model: BaseChatModel | None = None
    live_plan: list[Task] = field(default_factory=list)
    """Every task the planner parsed while streaming (empty when its plan was replayed)."""
    outcomes: dict[int, asyncio.Future[TaskRecord]] = field(default_factory=dict)
    cache: ResultCache | None = None
    calls: dict[str, int] = field(default_factory=dict)
    """Pure calls seen in this run (call key -> task index), for common-call elimination."""
    _queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    _published: int = 0
    _closed: bool = False
    _scheduler_done: asyncio.Future[None] | None = None
    _semaphore: asyncio.Semaphore | None = None
    _executor: ThreadPoolExecutor | None = None
    _users: int = 0

    # -- planner side -------------------------------------------------------------------
    def publish(self, tasks: Iterable[Task], *, total: int | None = None) -> None:
        """Hand newly parsed tasks to the scheduler.

        `total` is the position of the first task in `tasks` within the plan; tasks already
        published (the live stream) are skipped, so replaying a whole plan after a resume
        publishes only what the scheduler has not seen.
        """
        position = self._published if total is None else total
        for task in tasks:
            if position >= self._published:
                self._queue.put_nowait(task)
                self._published += 1
            position += 1

    def end_plan(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(_END)

    def abort(self, exc: BaseException) -> None:
        """The planner failed: wake the scheduler with the failure."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(_partner_failure("planner", exc))

    async def scheduler_outcome(self) -> None:
        """Wait for the scheduler to finish; raise if it failed (so both nodes fail together)."""
        await self._scheduler_future()

    # -- scheduler side -----------------------------------------------------------------
    async def next_task(self) -> Task | None:
        """The next planned task in plan order, or None when the plan has ended."""
        item = await self._queue.get()
        if item is _END:
            return None
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, Task)
        return item

    async def planned_tasks(self) -> AsyncIterator[Task]:
        """The plan's tasks in plan order, each as soon as the planner publishes it."""
        while (task := await self.next_task()) is not None:
            yield task

    def scheduler_finished(self, exc: BaseException | None = None) -> None:
        future = self._scheduler_future()
        if future.done():
            return
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(_partner_failure("scheduler", exc))

    def outcome(self, idx: int) -> asyncio.Future[TaskRecord]:
        """Future of task `idx`'s final record (created on first use by either side)."""
        future = self.outcomes.get(idx)
        if future is None:
            future = self.outcomes[idx] = asyncio.get_running_loop().create_future()
        return future

    def settle(self, record: TaskRecord) -> None:
        """Publish a task's final record to its dependents (first record per index wins)."""
        future = self.outcome(record["idx"])
        if not future.done():
            future.set_result(record)

    def remember_call(self, call: str, idx: int) -> None:
        self.calls.setdefault(call, idx)

    async def same_call(self, call: str, idx: int) -> TaskRecord | None:
        """The finished record of an earlier identical call, or None if this one must run.

        The first task making a call claims it; later identical ones wait for its outcome and
        reuse a success. A failed call is never reused: the later task runs (and claims it).
        """
        first = self.calls.setdefault(call, idx)
        if first == idx:
            return None
        record = await self.outcome(first)
        if record["status"] == "done":
            return record
        self.calls[call] = idx
        return None

    @property
    def semaphore(self) -> asyncio.Semaphore:
        """Caps tool calls *running* at once; tasks waiting for dependencies hold no slot."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(max(1, self.context.max_concurrency))
        return self._semaphore

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The engine's own pool for sync tools, sized to the concurrency cap."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=max(1, self.context.max_concurrency),
                thread_name_prefix="llmcompiler-tool",
            )
        return self._executor

    def _scheduler_future(self) -> asyncio.Future[None]:
        if self._scheduler_done is None:
            self._scheduler_done = asyncio.get_running_loop().create_future()
        return self._scheduler_done

    def _dispose(self) -> None:
        if self._executor is not None:
            # A sync tool's thread cannot be killed; its late result is discarded.
            self._executor.shutdown(wait=False, cancel_futures=True)
        future = self._scheduler_done
        if future is not None and future.done() and not future.cancelled():
            future.exception()  # mark retrieved: the failure was already reported


_sessions: dict[str, PlanSession] = {}


def _execution(runtime: Runtime[Context]) -> tuple[str | None, str, str]:
    """Thread, namespace of the graph (not of the node task) and checkpoint of this step."""
    info = runtime.execution_info
    if info is None:
        raise RuntimeError("LLMCompiler nodes must run inside a LangGraph graph")
    return info.thread_id, info.checkpoint_ns.rpartition("|")[0], info.checkpoint_id


def session_key(runtime: Runtime[Context]) -> str:
    """Shared by the planner and scheduler of one step, unique per step, run and graph level."""
    thread, namespace, checkpoint = _execution(runtime)
    return f"{thread}|{namespace}|{checkpoint}"


def idempotency_prefix(runtime: Runtime[Context], question_id: str | None) -> str:
    """`thread | namespace | turn`: stable across a resume (unlike the checkpoint), distinct
    across turns and across embeddings of the graph; a task's key appends its index."""
    thread, namespace, _ = _execution(runtime)
    return f"{thread}|{namespace}|{question_id}"


def enter_session(key: str, tools: Mapping[str, BaseTool], context: Context) -> PlanSession:
    """Join (or open) the session of `key`; pair every call with `leave_session`."""
    session = _sessions.get(key)
    if session is None:
        session = _sessions[key] = PlanSession(key, tools=tools, context=context)
    session._users += 1
    return session


def leave_session(session: PlanSession) -> None:
    session._users -= 1
    if session._users <= 0 and _sessions.get(session.key) is session:
        del _sessions[session.key]
        session._dispose()


def get_session(key: str) -> PlanSession:
    """The live session of a running step (used inside task bodies)."""
    try:
        return _sessions[key]
    except KeyError:
        raise RuntimeError(f"no live LLMCompiler session for {key!r}") from None
