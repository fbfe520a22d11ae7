"""Each task's final record as a future: how a dependent learns, without polling, that its
dependencies are done, and how identical pure calls find each other (common-call elimination).
"""

from __future__ import annotations

import asyncio

from agent._state import TaskRecord


class Outcomes:
    """Final records of one turn's tasks, by index (earlier rounds' are settled up front)."""

    def __init__(self) -> None:
        self._futures: dict[int, asyncio.Future[TaskRecord]] = {}
        self._calls: dict[str, int] = {}

    def future(self, idx: int) -> asyncio.Future[TaskRecord]:
        """The future of task `idx`'s final record (created on first use by either side)."""
        future = self._futures.get(idx)
        if future is None:
            future = self._futures[idx] = asyncio.get_running_loop().create_future()
        return future

    async def of(self, idx: int) -> TaskRecord:
        """Wait for task `idx`'s final record."""
        return await self.future(idx)

    def settle(self, record: TaskRecord) -> None:
        """Publish a task's final record to its dependents (the first record per index wins)."""
        future = self.future(record["idx"])
        if not future.done():
            future.set_result(record)

    def remember_call(self, call: str, idx: int) -> None:
        """An earlier round's successful pure call, reusable by this round's identical ones."""
        self._calls.setdefault(call, idx)

    async def same_call(self, call: str, idx: int) -> TaskRecord | None:
        """The finished record of an earlier identical call, or None if this one must run.

        The first task making a call claims it; later identical ones wait for its outcome and
        reuse a success. A failed call is never reused: the later task runs (and claims it).
        """
        first = self._calls.setdefault(call, idx)
        if first == idx:
            return None
        record = await self.of(first)
        if record["status"] == "done":
            return record
        self._calls[call] = idx
        return None
