"""A program that forks after its process pool started, then has its worker run a long call.

    LLMCOMPILER_PROCESS_WORKERS=1 python -m tests.integration.apps.placement_fork JOURNAL

Starts the engine's pool (its one worker, by a first call), forks a child that only sleeps
(as a forking server's child would, holding copies of the program's open files), journals
`child <pid>`, then has the same worker run `linger` for ten minutes (the worker journals
`start linger <pid>`). The test SIGKILLs this program and checks the worker dies with it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from agent import placement
from agent._toolset import ToolTraits
from tests.integration.apps.placement_run import linger, placed, write


async def linger_in_the_pool(seconds: float, journal: str) -> None:
    tool = placed(linger, "process")
    call = await placement.prepare(tool, ToolTraits.of(tool), "process")
    await call.run({"seconds": seconds, "journal": journal}, {})


async def main(journal: str) -> None:
    await linger_in_the_pool(0, journal)
    child = os.fork()
    if child == 0:
        time.sleep(600)
        os._exit(0)
    write(journal, f"child {child}")
    await linger_in_the_pool(600, journal)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
