"""Runs carry readable names, tags and metadata, so a LangSmith trace reads as the plan did."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tools import tool

from tests.helpers import scripted_graph


class Recorder(BaseCallbackHandler):
    """Collects (kind, name, tags, metadata) of every run started."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, str, list[str], dict[str, Any]]] = []

    def _add(self, kind: str, kwargs: dict[str, Any]) -> None:
        self.runs.append(
            (kind, kwargs.get("name") or "", kwargs.get("tags") or [], kwargs.get("metadata") or {})
        )

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self._add("chain", kwargs)

    def on_tool_start(self, serialized: Any, input_str: str, **kwargs: Any) -> None:
        self._add("tool", kwargs)

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self._add("model", kwargs)


@tool
async def lookup(key: str) -> str:
    """Look up `key`."""
    return key


async def test_nodes_model_calls_and_tool_calls_are_named_and_tagged() -> None:
    graph, *_ = scripted_graph([lookup], ['1. lookup("a")\n2. lookup("b")\n3. join()'])
    recorder = Recorder()
    await graph.ainvoke({"messages": [("user", "q")]}, {"callbacks": [recorder]})
    names = {(kind, name) for kind, name, _, _ in recorder.runs}
    assert {("chain", "planner"), ("chain", "scheduler"), ("chain", "joiner")} <= names
    assert {("model", "planner_model"), ("model", "joiner_model")} <= names
    tools = [(tags, meta) for kind, name, tags, meta in recorder.runs if kind == "tool"]
    assert len(tools) == 2
    for tags, meta in tools:
        assert "llmcompiler:tool" in tags
        assert meta["llmcompiler_round"] == 1 and meta["llmcompiler_task_idx"] in (1, 2)
        assert meta["idempotency_key"].endswith(f"|{meta['llmcompiler_task_idx']}")
    assert {m["llmcompiler_task_idx"] for _, m in tools} == {1, 2}


class ModelRunCounter(BaseCallbackHandler):
    """Counts the chat-model runs a tracer would record."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.names.append(kwargs.get("name") or "")


async def test_a_joiner_call_is_one_chat_model_run_and_counts_once_in_usage() -> None:
    graph, *_ = scripted_graph([lookup], ['1. lookup("a")\n2. join()'])
    counter = ModelRunCounter()
    result = await graph.ainvoke({"messages": [("user", "q")]}, {"callbacks": [counter]})
    assert sorted(counter.names) == ["joiner_model", "planner_model"]
    assert result["usage"]["calls"] == 2
