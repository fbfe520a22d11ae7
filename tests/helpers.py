"""Shared helpers: run a graph and collect its custom events in arrival order."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, tool
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


ROOT = Path(__file__).resolve().parents[1]


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
    time.sleep(0.3)  # let the finished calls' writes reach the checkpointer
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
    by_idx = {task["idx"]: task for task in result["tasks"]}
    assert by_idx[1]["result"] == "value of fast"
    assert by_idx[2]["result"] == "value of slow"
    assert by_idx[3]["result"] == "value of after-fast:value of fast"
    assert by_idx[4]["result"] == "value of after-slow:value of slow"
    assert all(task["status"] == "done" for task in result["tasks"])
    assert result["answer"] == "done"
    return result
