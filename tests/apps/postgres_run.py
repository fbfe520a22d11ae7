"""The kill-and-resume run of tests/apps/durable_run.py, checkpointed in PostgreSQL.

Usage: python -m tests.apps.postgres_run URL JOURNAL (start|resume) THREAD

Same plan, tool and journal as the SQLite app; only the checkpointer differs, so the two
tests show the same guarantee on both backends.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from agent import create_llm_compiler
from tests.apps.durable_run import ANSWER, PLAN, SWAPPED_PLAN, fetch


async def main(url: str, mode: str, thread: str) -> None:
    plan = PLAN if mode == "start" else SWAPPED_PLAN
    planner = GenericFakeChatModel(messages=iter([AIMessage(plan)]))
    joiner = GenericFakeChatModel(messages=iter([AIMessage(ANSWER)]))
    async with AsyncPostgresSaver.from_conn_string(url) as saver:
        await saver.setup()
        graph = create_llm_compiler([fetch], planner=planner, joiner=joiner, checkpointer=saver)
        config = {"configurable": {"thread_id": thread}}
        payload = {"messages": [("user", "fetch them")]} if mode == "start" else None
        result = await graph.ainvoke(payload, config)
        print(json.dumps({"answer": result["messages"][-1].content, "tasks": result["tasks"]}))


if __name__ == "__main__":
    os.environ["JOURNAL"] = sys.argv[2]
    asyncio.run(main(sys.argv[1], sys.argv[3], sys.argv[4]))
