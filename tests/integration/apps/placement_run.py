"""Tools placed in worker processes and Ray tasks, and a graph run to kill and resume.

The functions here are module-level so that worker processes and Ray workers import them by
reference (`placed` wraps one as a tool with a placement). As an app:

    python -m tests.integration.apps.placement_run DB JOURNAL (start|resume) THREAD PLACEMENT

runs the four-task plan of `durable_run` with its tool placed on PLACEMENT (`process` or
`ray`; Ray connects to `RAY_ADDRESS`), checkpointed in the SQLite file DB. Every tool
execution appends `start <name> <pid>` and `end <name>` to JOURNAL (a worker's pid, so the
parent can tell where calls ran). On resume it prints one JSON line: the answer, the task
records, the pids of the engine's process workers and whether the engine owned its Ray
connection and still holds one after `agent.placement.shutdown()`.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import itertools
import json
import os
import select
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from pydantic import BaseModel

from agent import create_llm_compiler, placement
from llmcompiler_bench.placement import spin
from tests.helpers import assert_each_result_with_its_task


def placed(func: Callable[..., Any], where: str | None, **metadata: Any) -> StructuredTool:
    """`func` as a tool placed on `where` (None: no placement declared)."""
    if where is not None:
        metadata["placement"] = where
    name = metadata.pop("name", func.__name__)
    if inspect.iscoroutinefunction(func):
        return StructuredTool.from_function(coroutine=func, name=name, metadata=metadata)
    return StructuredTool.from_function(func, name=name, metadata=metadata)


def crunch(n: int) -> dict[str, Any]:
    """CPU-bound work; where and when it ran."""
    start = time.time()
    spin(n)
    return {"pid": os.getpid(), "start": start, "end": time.time()}


async def crunch_async(n: int) -> dict[str, Any]:
    """An async tool: `crunch`, on whatever loop runs it."""
    return {**crunch(n), "loop": True}


def rendezvous(directory: str, parties: int) -> int:
    """Wait (at most a minute) until `parties` calls are inside this function at once: a
    warm-up that has as many workers as parties start and import their modules."""
    Path(directory, str(os.getpid())).touch()
    deadline = time.monotonic() + 60
    while len(list(Path(directory).iterdir())) < parties and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid()


def fail(message: str) -> str:
    """Raises ValueError(message)."""
    raise ValueError(message)


class Picky(Exception):
    """An exception that pickles but cannot be loaded back (its __init__ takes two args)."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}/{b}")


def fail_picky(a: str, b: str) -> str:
    """Raises Picky(a, b)."""
    raise Picky(a, b)


def nested(depth: int) -> Any:
    """A result nested `depth` lists deep (pickle and JSON encoders recurse on it)."""
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def crash(code: int) -> str:
    """The worker dies at once."""
    os._exit(code)


def linger(seconds: float, journal: str) -> str:
    """Journals `start linger <pid>`, sleeps, journals `end linger`."""
    write(journal, f"start linger {os.getpid()}")
    time.sleep(seconds)
    write(journal, "end linger")
    return "late"


def whoami(config: RunnableConfig) -> dict[str, Any]:
    """The process and the call's idempotency key, read both ways."""
    return {
        "pid": os.getpid(),
        "config_key": config["metadata"]["idempotency_key"],
        "current_key": placement.current_idempotency_key(),
    }


def make_lock(label: str) -> Any:
    """A result that does not pickle."""
    return threading.Lock()


def locked_tool(where: str) -> StructuredTool:
    """A tool whose function closes over a lock: it pickles neither way."""
    guard = threading.Lock()

    def locked(x: int) -> int:
        """Adds one, under a lock."""
        with guard:
            return x + 1

    return StructuredTool.from_function(locked, metadata={"placement": where})


class DoublerArgs(BaseModel):
    x: int


class Doubler(BaseTool):
    """A BaseTool subclass (not a StructuredTool): pickled whole to its worker."""

    name: str = "doubler"
    description: str = "Doubles x."
    args_schema: type[BaseModel] = DoublerArgs

    def _run(self, x: int) -> dict[str, int]:
        return {"pid": os.getpid(), "value": 2 * x}


def write(journal: str, line: str) -> None:
    with Path(journal).open("a") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def fetch(name: str, seconds: float, journal: str) -> str:
    """Fetch `name`, taking `seconds`; journals where it ran."""
    label = name.split(":")[0]
    write(journal, f"start {label} {os.getpid()}")
    time.sleep(seconds)
    write(journal, f"end {label}")
    return f"value of {name}"


def plan(journal: str) -> str:
    return f"""\
1. fetch(name="fast", seconds=0.05, journal="{journal}")
2. fetch(name="slow", seconds=3.0, journal="{journal}")
3. fetch(name="after-fast:$1", seconds=0.05, journal="{journal}")
4. fetch(name="after-slow:$2", seconds=0.05, journal="{journal}")
5. join()
<END_OF_PLAN>"""


ANSWER = "Thought: all four fetched\nAction: Finish(done)"
ROOT = Path(__file__).resolve().parents[3]


# --- for the tests -------------------------------------------------------------------------


def overlapping(runs: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Pairs of pids, different ones, whose execution intervals overlap."""
    return [
        (a["pid"], b["pid"])
        for i, a in enumerate(runs)
        for b in runs[i + 1 :]
        if a["pid"] != b["pid"] and max(a["start"], b["start"]) < min(a["end"], b["end"])
    ]


def disjoint(runs: list[dict[str, Any]]) -> bool:
    """No two execution intervals overlap."""
    ordered = sorted(runs, key=lambda r: r["start"])
    return all(a["end"] <= b["start"] for a, b in itertools.pairwise(ordered))


def wait_until_gone(pid: int, timeout: float = 30.0) -> bool:
    """Block until process `pid` has exited (a pidfd becomes readable); False on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(fd)


def recorded(db: Path, thread: str) -> set[int]:
    """Task indices whose results the checkpoint holds (committed or pending writes)."""
    if not db.exists():
        return set()
    try:
        with SqliteSaver.from_conn_string(str(db)) as saver:
            snapshot = saver.get_tuple({"configurable": {"thread_id": thread}})
    except sqlite3.OperationalError:  # the writer holds a lock, or no table yet
        return set()
    if snapshot is None:
        return set()
    committed = snapshot.checkpoint["channel_values"].get("tasks", [])
    pending = [value for _, channel, value in snapshot.pending_writes if channel == "__return__"]
    return {r["idx"] for r in [*committed, *pending] if isinstance(r, dict) and "idx" in r}


def journal_lines(journal: Path) -> list[str]:
    return journal.read_text().splitlines() if journal.exists() else []


def kill_mid_run_and_resume(
    tmp: Path, where: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run this app with its tool on `where`; SIGKILL it once the fast branch is recorded in
    the checkpoint while the slow call runs; check the slow call's worker died with it;
    resume; check that no recorded call ran again and every task kept its own result.
    Returns the resumed run's JSON line."""
    db, journal, thread = tmp / "checkpoints.sqlite", tmp / "journal.txt", "t-1"

    def spawn(mode: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.apps.placement_run",
                str(db),
                str(journal),
                mode,
                thread,
                where,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def slow_started() -> bool:
        return any(line.startswith("start slow") for line in journal_lines(journal))

    first = spawn("start")
    deadline = time.monotonic() + 90
    while not (slow_started() and {1, 3} <= recorded(db, thread)):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, journal_lines(journal)
        time.sleep(0.02)  # polling the journal and the checkpoint, not waiting a fixed time
    first.kill()
    first.communicate()
    slow_pid = next(int(line.split()[2]) for line in journal_lines(journal) if "start slow" in line)
    assert slow_pid != first.pid
    assert wait_until_gone(slow_pid), "the worker running the slow call outlived its driver"
    assert "end slow" not in journal_lines(journal)

    second = spawn("resume")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])

    lines = journal_lines(journal)
    ends = Counter(line for line in lines if line.startswith("end"))
    starts = Counter(line.split()[1] for line in lines if line.startswith("start"))
    assert ends == Counter({"end fast": 1, "end after-fast": 1, "end slow": 1, "end after-slow": 1})
    assert starts == Counter({"fast": 1, "after-fast": 1, "slow": 2, "after-slow": 1})
    pids = {int(line.split()[2]) for line in lines if line.startswith("start")}
    assert first.pid not in pids and second.pid not in pids  # every call ran in a worker
    assert_each_result_with_its_task(result)
    return result


async def main(db: str, journal: str, mode: str, thread: str, where: str) -> None:
    text = plan(journal) if mode == "start" else "1. fetch(name='asked again')\n2. join()"
    planner = GenericFakeChatModel(messages=iter([AIMessage(text)]))
    joiner = GenericFakeChatModel(messages=iter([AIMessage(ANSWER)]))
    # This file runs as __main__, which workers do not import: take the tool from the module.
    module = importlib.import_module("tests.integration.apps.placement_run")
    async with AsyncSqliteSaver.from_conn_string(db) as saver:
        graph = create_llm_compiler(
            [placed(module.fetch, where)], planner=planner, joiner=joiner, checkpointer=saver
        )
        config = {"configurable": {"thread_id": thread}}
        payload = {"messages": [("user", "fetch them")]} if mode == "start" else None
        result = await graph.ainvoke(payload, config)
    pool_pids = sorted(placement.process_pool().pids) if where == "process" else []
    ray_owned = where == "ray" and placement.ray_backend().owned
    placement.shutdown()
    ray_connected = where == "ray" and sys.modules["ray"].is_initialized()
    print(
        json.dumps(
            {
                "answer": result["messages"][-1].content,
                "tasks": result["tasks"],
                "pool_pids": pool_pids,
                "ray_owned": ray_owned,
                "ray_connected_after_shutdown": ray_connected,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
