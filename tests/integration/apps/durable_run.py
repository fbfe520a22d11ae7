"""A graph run in its own process, for kill-and-resume tests.

Usage: python -m tests.apps.durable_run TARGET JOURNAL (start|resume) THREAD

TARGET is a SQLite file, or a `postgresql://` URL for the PostgreSQL checkpointer: the same
run on both backends. Every tool call appends `start <name>` and `end <name>` lines to
JOURNAL, so the parent test can count executions across processes and kill this one at a
chosen point.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agent import create_llm_compiler

PLAN = """\
1. fetch(name="fast", seconds=0.05)
2. fetch(name="slow", seconds=3.0)
3. fetch(name="after-fast:$1", seconds=0.05)
4. fetch(name="after-slow:$2", seconds=0.05)
5. join()
<END_OF_PLAN>"""

SWAPPED_PLAN = (
    PLAN.replace('"fast"', '"tmp"').replace('"slow"', '"fast"').replace('"tmp"', '"slow"')
)
"""Given to the planner on resume: if the plan were asked for again instead of replayed from
the checkpoint, results would land on the wrong tasks and the test would see it."""

ANSWER = "Thought: all four fetched\nAction: Finish(done)"


def journal(line: str) -> None:
    with Path(os.environ["JOURNAL"]).open("a") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


@tool
async def fetch(name: str, seconds: float) -> str:
    """Fetch `name`, taking `seconds`."""
    idx = name.split(":")[0]
    journal(f"start {idx}")
    await asyncio.sleep(seconds)
    journal(f"end {idx}")
    return f"value of {name}"


@contextlib.asynccontextmanager
async def checkpointer(target: str) -> AsyncIterator[BaseCheckpointSaver]:
    if target.startswith("postgresql://"):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(target) as postgres:
            await postgres.setup()
            yield postgres
    else:
        async with AsyncSqliteSaver.from_conn_string(target) as sqlite:
            yield sqlite


async def main(target: str, mode: str, thread: str) -> None:
    plan = PLAN if mode == "start" else SWAPPED_PLAN
    planner = GenericFakeChatModel(messages=iter([AIMessage(plan)]))
    joiner = GenericFakeChatModel(messages=iter([AIMessage(ANSWER)]))
    async with checkpointer(target) as saver:
        graph = create_llm_compiler([fetch], planner=planner, joiner=joiner, checkpointer=saver)
        config = {"configurable": {"thread_id": thread}}
        payload = {"messages": [("user", "fetch them")]} if mode == "start" else None
        result = await graph.ainvoke(payload, config)
        print(json.dumps({"answer": result["messages"][-1].content, "tasks": result["tasks"]}))


if __name__ == "__main__":
    os.environ["JOURNAL"] = sys.argv[2]
    asyncio.run(main(sys.argv[1], sys.argv[3], sys.argv[4]))
