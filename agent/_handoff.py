"""The hand-off: how the planner gives each task to the scheduler the moment it is parsed.

The planner and scheduler nodes of one round run in the same LangGraph superstep, so neither
sees the other's state writes until the step ends. The planner `send`s each parsed task into
this in-process channel as its line completes and `end`s the plan (or `fail`s it); the
scheduler reads `tasks()` in plan order and dispatches each one at once. Each side then waits
for the other's outcome, so that the two nodes fail (or are interrupted) together and LangGraph
re-runs both on resume. Nothing here is persisted: state holds the records.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from langgraph.errors import GraphBubbleUp, GraphInterrupt

from agent._errors import PlanAborted
from agent._task import Task

_END = object()


def partner_failure(node: str, exc: BaseException) -> BaseException:
    """What the partner node raises when `node` stops with `exc`.

    An interrupt (a tool called `interrupt()`) is mirrored as an interrupt that carries no
    payload of its own, so LangGraph keeps both nodes pending and re-runs them together on
    resume. A `BaseException` that is not an `Exception` (a tool's own control-flow signal,
    `KeyboardInterrupt`) is raised as itself, so the caller sees its type; any other failure
    becomes `PlanAborted`, naming and chaining the original.
    """
    if isinstance(exc, GraphBubbleUp):
        return GraphInterrupt(())
    if not isinstance(exc, Exception):
        return exc
    aborted = PlanAborted(f"{node} failed: {type(exc).__name__}: {exc}")
    aborted.__cause__ = exc
    return aborted


class PlanHandoff:
    """One round's channel from planner to scheduler, and the scheduler's answer back."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._sent = 0
        self._closed = False
        self._scheduler_outcome: asyncio.Future[None] | None = None

    # -- planner side -------------------------------------------------------------------
    def send(self, tasks: Iterable[Task], *, position: int | None = None) -> None:
        """Hand newly parsed tasks to the scheduler, in plan order.

        `position` is where the first of `tasks` stands in the plan; tasks already sent are
        skipped, so sending a whole replayed plan after a resume (or after the live stream)
        hands over only what the scheduler has not seen.
        """
        at = self._sent if position is None else position
        for planned in tasks:
            if at >= self._sent:
                self._queue.put_nowait(planned)
                self._sent += 1
            at += 1

    def end(self) -> None:
        """The plan is complete: the scheduler's `tasks()` ends after the last one sent."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(_END)

    def fail(self, exc: BaseException) -> None:
        """The planner failed: the scheduler's `tasks()` raises the mirrored failure."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(partner_failure("planner", exc))

    async def scheduler_outcome(self) -> None:
        """Wait for the scheduler to finish; raise if it failed (so both nodes fail together)."""
        await self._outcome()

    # -- scheduler side -----------------------------------------------------------------
    async def tasks(self) -> AsyncIterator[Task]:
        """The plan's tasks in plan order, each as soon as the planner sends it."""
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, Task)
            yield item

    def scheduler_finished(self, exc: BaseException | None = None) -> None:
        outcome = self._outcome()
        if outcome.done():
            return
        if exc is None:
            outcome.set_result(None)
        else:
            outcome.set_exception(partner_failure("scheduler", exc))

    def close(self) -> None:
        """Both nodes are gone: a failure nobody awaited was already reported by its node."""
        outcome = self._scheduler_outcome
        if outcome is not None and outcome.done() and not outcome.cancelled():
            outcome.exception()

    def _outcome(self) -> asyncio.Future[None]:
        if self._scheduler_outcome is None:
            self._scheduler_outcome = asyncio.get_running_loop().create_future()
        return self._scheduler_outcome
