"""Blocking work off the event loop, each piece in a thread of its own.

Shared by the backends: a sync tool call (placement "thread"), and the waits of the process
pool and of Ray (a worker's start and call, `ray.init`). Not a fixed pool: a blocked thread
cannot be killed, so a call past its timeout would hold a pool's thread and starve the work
queued behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any


async def in_own_thread(call: Callable[[], Any]) -> Any:
    """Run `call` in a new daemon thread; a late result after cancellation is discarded."""
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[Any] = loop.create_future()

    def deliver(settle: Callable[[Any], None], value: Any) -> None:
        if not outcome.done():
            settle(value)

    def target() -> None:
        try:
            result = call()
        except BaseException as exc:
            settle, value = outcome.set_exception, exc
        else:
            settle, value = outcome.set_result, result
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(deliver, settle, value)

    threading.Thread(target=target, name="llmcompiler-tool", daemon=True).start()
    return await outcome
