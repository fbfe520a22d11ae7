"""Placement `"thread"`: a call in this process. An async tool runs on the event loop; each
sync call runs in a new thread of its own (`in_own_thread`), so it never blocks the loop,
never queues behind Python's default pool, and a call past its timeout (its thread cannot be
killed) never holds up the calls after it.
"""

from __future__ import annotations

import contextvars
import functools
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool

from agent.placement._own_thread import in_own_thread


async def run(
    tool: BaseTool, args: dict[str, Any], config: RunnableConfig, *, on_loop: bool
) -> Any:
    """One call of `tool`: on the loop (`on_loop`, an async tool), else in a thread of its
    own that sees this context (the idempotency key, LangChain's callbacks)."""
    if on_loop:
        return await tool.ainvoke(args, config)
    return await in_own_thread(
        functools.partial(contextvars.copy_context().run, tool.invoke, args, config)
    )
