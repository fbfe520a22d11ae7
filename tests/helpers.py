"""Shared helpers: run a graph and collect its custom events in arrival order; wait for a
condition instead of sleeping; read what a checkpoint recorded; kill a run and resume it; run
a documentation page's code blocks as written."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
import signal
import subprocess
import sys
import time
import types
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agent import Context, create_llm_compiler
from llmcompiler_scripted import ModelProfile, ScriptedChatModel


# The plan-language tests' tools (the parser reads only their names and argument schemas).
@tool
def search(query: str) -> str:
    """Search the web."""
    return query


@tool
def math(problem: str, context: list[str] | None = None) -> str:
    """Solve a math problem."""
    return problem


STREAMING = ModelProfile(
    name="test-streaming", ttft_s=0.02, prefill_tok_per_s=1e9, decode_tok_per_s=400
)
"""Streams a plan over a few hundred ms, so overlap with tools is observable."""


@dataclass
class Run:
    events: list[dict[str, Any]] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)

    def of(self, kind: str, idx: int | None = None) -> list[dict[str, Any]]:
        return [
            e for e in self.events if e["event"] == kind and (idx is None or e.get("idx") == idx)
        ]

    def position(self, kind: str, idx: int | None = None) -> int:
        """Index in arrival order of the first `kind` event (for `idx`)."""
        for position, e in enumerate(self.events):
            if e["event"] == kind and (idx is None or e.get("idx") == idx):
                return position
        raise AssertionError(f"no {kind} event for {idx}: {self.events}")

    @property
    def tasks(self) -> dict[int, dict[str, Any]]:
        return {t["idx"]: t for t in self.output["tasks"]}

    @property
    def answer(self) -> str:
        return str(self.output["messages"][-1].content)


async def run_graph(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    question: str | Command | None,
    *,
    context: Context | None = None,
    config: dict[str, Any] | None = None,
) -> Run:
    """Stream one run and collect events and the final values.

    `question=None` resumes after a failure; a `Command` resumes after an interrupt.
    """
    run = Run()
    payload = {"messages": [("user", question)]} if isinstance(question, str) else question
    async for mode, data in graph.astream(
        payload, config, context=context or Context(), stream_mode=["custom", "values"]
    ):
        if mode == "custom":
            run.events.append({**data, "at": time.monotonic()})
        else:
            run.output = data
    return run


@dataclass
class ChatRun(Run):
    """A run as a chat client renders it (see `run_chat`)."""

    tokens: list[str] = field(default_factory=list)
    """Every streamed answer chunk's text, in arrival order (withdrawn ones included)."""
    bubbles: dict[str, str] = field(default_factory=dict)
    """The AI messages on screen at the end, by id."""


async def run_chat(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    question: str,
    *,
    context: Context | None = None,
) -> ChatRun:
    """Stream one run as a chat client does and render it as docs/protocol.md tells clients
    to: a chunk appends to its message, a whole message shows as is, `answer_withdrawn`
    removes its message."""
    run = ChatRun()
    async for mode, data in graph.astream(
        {"messages": [("user", question)]},
        context=context or Context(),
        stream_mode=["messages", "custom", "values"],
    ):
        if mode == "custom":
            run.events.append({**data, "at": time.monotonic()})
            if data["event"] == "answer_withdrawn":
                run.bubbles.pop(data["message_id"], None)
        elif mode == "messages":
            message = data[0]
            if isinstance(message, AIMessageChunk):
                run.tokens.append(message.text)
                run.bubbles[message.id] = run.bubbles.get(message.id, "") + message.text
            elif message.type == "ai":
                run.bubbles[message.id] = message.text
        else:
            run.output = data
    return run


def scripted_graph(
    tools: Sequence[BaseTool],
    plans: Sequence[str | Exception],
    answers: Sequence[str | Exception] = ("Thought: done\nAction: Finish(ok)",),
    *,
    profile: ModelProfile = STREAMING,
    **kwargs: Any,
) -> tuple[CompiledStateGraph[Any, Any, Any, Any], ScriptedChatModel, ScriptedChatModel]:
    planner = ScriptedChatModel(responses=list(plans), timing=profile)
    joiner = ScriptedChatModel(responses=list(answers), timing=profile)
    graph = create_llm_compiler(tools, planner=planner, joiner=joiner, **kwargs)
    return graph, planner, joiner


class HookedChatModel(ScriptedChatModel):
    """A scripted model that awaits `on_text(text so far)` after each streamed chunk was taken.

    The hook may wait (hold the stream until something has happened, e.g. a tool finished) or
    raise (a failure in mid-stream, after everything streamed before it was used).
    """

    on_text: Callable[[str], Awaitable[None]] | None = None

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        text = ""
        async for chunk in super()._astream(*args, **kwargs):
            yield chunk
            text += chunk.text
            if self.on_text is not None:
                await self.on_text(text)


T = TypeVar("T")


async def eventually(
    condition: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 10.0,
    interval: float = 0.01,
    what: str = "",
) -> T:
    """Poll `condition` (sync or async) until it returns something truthy, and return that.

    For waiting on what another task or process does (a checkpoint write, a journal line):
    a fixed sleep is too short on a slow machine and wasted time on a fast one. Fails the test
    after `timeout` seconds, naming `what` it waited for.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return cast(T, value)
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g}s: {what or condition}")
        await asyncio.sleep(interval)


def wait_until(
    condition: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.01, what: str = ""
) -> T:
    """`eventually` for synchronous code (a test driving subprocesses)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g}s: {what or condition}")
        time.sleep(interval)
    return value


def recorded_tasks(saver: BaseCheckpointSaver[Any], thread: str) -> dict[int, dict[str, Any]]:
    """The task records the latest checkpoint of `thread` holds, by index: the committed
    `tasks`, and the finished tool calls of a step still in progress (pending writes)."""
    snapshot = saver.get_tuple({"configurable": {"thread_id": thread}})
    if snapshot is None:
        return {}
    committed = snapshot.checkpoint["channel_values"].get("tasks", [])
    pending = [
        value for _, channel, value in snapshot.pending_writes or [] if channel == "__return__"
    ]
    records = [r for r in [*committed, *pending] if isinstance(r, dict) and "idx" in r]
    return {r["idx"]: r for r in records}


@contextlib.contextmanager
def open_checkpointer(target: str) -> Iterator[BaseCheckpointSaver[Any]]:
    """A synchronous saver on a SQLite file or a `postgresql://` URL, to read another
    process's checkpoints."""
    if target.startswith("postgresql://"):
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(target) as postgres:
            yield postgres
    else:
        from langgraph.checkpoint.sqlite import SqliteSaver

        with SqliteSaver.from_conn_string(target) as sqlite:
            yield sqlite


def recorded_at(target: str, thread: str) -> set[int]:
    """Indices of the task results the checkpoint at `target` holds for `thread`."""
    with open_checkpointer(target) as saver:
        return set(recorded_tasks(saver, thread))


ROOT = Path(__file__).resolve().parents[1]


def assert_each_result_with_its_task(result: dict[str, Any]) -> None:
    """The durable-run apps' plan (fast, slow, after-fast, after-slow) ended with every
    result at its own task, whatever was killed and resumed."""
    by_idx = {task["idx"]: task for task in result["tasks"]}
    assert by_idx[1]["result"] == "value of fast"
    assert by_idx[2]["result"] == "value of slow"
    assert by_idx[3]["result"] == "value of after-fast:value of fast"
    assert by_idx[4]["result"] == "value of after-slow:value of slow"
    assert all(task["status"] == "done" for task in result["tasks"])
    assert result["answer"] == "done"


def kill_mid_run_and_resume(target: str, journal: Path, thread: str) -> dict[str, Any]:
    """Run `tests/integration/apps/durable_run.py` on `target`, SIGKILL it once the fast branch
    finished while the slow task still runs, resume on the same thread, and check nothing
    recorded ran twice and every task kept its own result. Returns the resumed run's output."""

    def spawn(mode: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.apps.durable_run",
                target,
                str(journal),
                mode,
                thread,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def lines() -> list[str]:
        return journal.read_text().splitlines() if journal.exists() else []

    first = spawn("start")
    deadline = time.monotonic() + 30
    while not {"end fast", "end after-fast"} <= set(lines()):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, lines()
        time.sleep(0.02)
    # The finished calls' results must be in the checkpoint before the kill.
    wait_until(lambda: {1, 3} <= recorded_at(target, thread), what="tasks 1 and 3 recorded")
    assert "end slow" not in lines()
    first.send_signal(signal.SIGKILL)
    first.wait()

    second = spawn("resume")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])

    ends = Counter(line for line in lines() if line.startswith("end"))
    starts = Counter(line for line in lines() if line.startswith("start"))
    assert ends == Counter({"end fast": 1, "end after-fast": 1, "end slow": 1, "end after-slow": 1})
    assert starts["start fast"] == 1 and starts["start after-fast"] == 1
    assert starts["start slow"] == 2  # interrupted, so it ran again
    assert_each_result_with_its_task(result)
    return result


# Documentation code blocks. A guide's ```python blocks run, each in a fresh module, after the
# guide's opening program (which the others continue); ```python no-run blocks need something a
# test cannot provide and are only compiled. A block's output is the ```text block after it.
RUN = "python"
NO_RUN = "python no-run"


@dataclass(frozen=True)
class Block:
    id: str
    section: str
    info: str
    code: str
    line: int  # 1-based line of the opening fence
    output: str | None  # the ```text block right after it, if any

    def source(self) -> str:
        """The code, preceded by blank lines so that line numbers are the guide's own."""
        return "\n" * self.line + self.code

    def compiled(self, guide: Path) -> types.CodeType:
        return compile(self.source(), str(guide), "exec")


def _slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def read_blocks(text: str) -> list[Block]:
    """Every fenced block with the heading it sits under and, for code, its output block."""
    fenced: list[tuple[str, str, str, int, int]] = []  # section, info, body, start, end
    section = ""
    opened: tuple[str, int, list[str]] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if opened is None:
            if line.startswith("```"):
                opened = (line[3:].strip(), number, [])
            elif line.startswith("#"):
                section = _slug(line.lstrip("#"))
        elif line.startswith("```"):
            info, start, collected = opened
            fenced.append((section, info, "".join(f"{c}\n" for c in collected), start, number))
            opened = None
        else:
            opened[2].append(line)
    assert opened is None, f"unclosed fence at line {opened[1]}"

    blocks: list[Block] = []
    seen: dict[str, int] = {}
    lines = text.splitlines()
    for i, (section, info, body, start, end) in enumerate(fenced):
        if info.split()[:1] != ["python"]:
            continue
        output = None
        if i + 1 < len(fenced):
            _, next_info, next_body, next_start, _ = fenced[i + 1]
            between = lines[end : next_start - 1]
            if next_info == "text" and not any(line.strip() for line in between):
                output = next_body
        name = section if info == RUN else f"{section}-{info.split()[-1]}"
        seen[name] = seen.get(name, 0) + 1
        block_id = name if seen[name] == 1 else f"{name}-{seen[name]}"
        blocks.append(Block(block_id, section, info, body, start, output))
    return blocks


def run_block(
    block: Block,
    opening: Block,
    guide: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> str:
    """Run `block` of `guide` in a fresh module, after the `opening` program unless it is that
    program; return what the block itself printed."""
    # A real module in sys.modules, as for a script: dataclasses and type hints look it up.
    module = types.ModuleType(f"{guide.stem}_guide")
    module.__file__ = str(guide)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    if block is not opening:
        exec(opening.compiled(guide), module.__dict__)
        capsys.readouterr()
    exec(block.compiled(guide), module.__dict__)
    return capsys.readouterr().out
