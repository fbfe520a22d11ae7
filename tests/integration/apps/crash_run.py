"""A two-round turn (plan, replan, answer) in its own process, for kill-and-resume trials.

Usage: python -m tests.integration.apps.crash_run DB JOURNAL (start|resume) THREAD

Journal lines, each prefixed with the `time.monotonic()` at which it was written (one clock
for every process of the machine, so the parent can time stages): `ready`, `event <name> <idx>`
for every custom stream event as it happens, `start <idx> <idempotency key>` and `end <idx>`
for every tool execution, and `answer <text>` (newlines as ` / `). Models are scripted but
stream at a realistic pace, so a kill can land anywhere: while the planner streams, while
tools run, during the joiner, during the replan, while the second round's tools run, or in
the final joiner.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from pathlib import Path

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agent import Context, create_llm_compiler
from llmcompiler_scripted import ModelProfile, ScriptedChatModel

PROFILE = ModelProfile(name="crash", ttft_s=0.05, prefill_tok_per_s=1e9, decode_tok_per_s=150)

PLAN_1 = """Thought: fetch the parts
1. fetch(name="alpha", seconds=0.3)
2. fetch(name="beta", seconds=0.6)
3. fetch(name="gamma:$1", seconds=0.2)
4. join()"""

PLAN_2 = """Thought: the last part needs both earlier results
5. fetch(name="delta:$2:$3", seconds=0.3)
6. fetch(name="epsilon", seconds=0.1)
7. join()"""

_RESULT = re.compile(r"-> (value\(.*\))$", re.MULTILINE)


def journal(line: str) -> None:
    with Path(os.environ["JOURNAL"]).open("a") as handle:
        handle.write(f"{time.monotonic():.6f} {line}\n")
        handle.flush()
        os.fsync(handle.fileno())


@tool
async def fetch(name: str, seconds: float, config: RunnableConfig) -> str:
    """Fetch `name`, taking `seconds`."""
    idx = config["metadata"]["llmcompiler_task_idx"]
    journal(f"start {idx} {config['metadata']['idempotency_key']}")
    await asyncio.sleep(seconds)
    journal(f"end {idx}")
    return f"value({name})"


def planner_reply(messages: list[BaseMessage]) -> str:
    return PLAN_2 if "Earlier plans" in messages[-1].text else PLAN_1


def joiner_reply(messages: list[BaseMessage]) -> str:
    results = _RESULT.findall(messages[-1].text)
    if len(results) < 5:
        return "Thought: two parts missing\nAction: Replan(need delta and epsilon)"
    return f"Thought: all parts\nAction: Finish({' + '.join(results)})"


HANG_S = 20.0
"""A run still going after this long is stuck: its tasks' stacks go to stderr and it exits."""


def _report_hang() -> None:
    print(f"crash_run: no end after {HANG_S:g}s; asyncio tasks:", file=sys.stderr)
    for running in asyncio.all_tasks():
        running.print_stack(file=sys.stderr)
    sys.stderr.flush()
    os._exit(3)


async def main(db: str, mode: str, thread: str) -> None:
    asyncio.get_running_loop().call_later(HANG_S, _report_hang)
    planner = ScriptedChatModel(respond=planner_reply, timing=PROFILE)
    joiner = ScriptedChatModel(respond=joiner_reply, timing=PROFILE)
    async with AsyncSqliteSaver.from_conn_string(db) as saver:
        graph = create_llm_compiler([fetch], planner=planner, joiner=joiner, checkpointer=saver)
        config: RunnableConfig = {"configurable": {"thread_id": thread}}
        # Resume whatever the checkpoint holds, even when no node is pending (`next` is empty
        # when every node of the step had its writes saved but the next checkpoint was not);
        # a kill before the first checkpoint left nothing, so that run starts afresh.
        saved = mode == "resume" and await saver.aget_tuple(config) is not None
        payload = None if saved else {"messages": [("user", "assemble the parts")]}
        journal("ready")
        output = {}
        async for stream_mode, data in graph.astream(
            payload, config, context=Context(max_replans=1), stream_mode=["custom", "values"]
        ):
            if stream_mode == "custom":
                journal(f"event {data['event']} {data.get('idx', data.get('round'))}")
            else:
                output = data
        answer = str(output["messages"][-1].content)
        journal(f"answer {answer.replace(chr(10), ' / ')}")  # one journal line


if __name__ == "__main__":
    os.environ["JOURNAL"] = sys.argv[2]
    asyncio.run(main(sys.argv[1], sys.argv[3], sys.argv[4]))
