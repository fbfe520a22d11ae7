"""Shared helpers: run a graph and collect its custom events in arrival order."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.tools import BaseTool
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agent import Context, create_llm_compiler
from agent.testing import ModelProfile, ScriptedChatModel

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
