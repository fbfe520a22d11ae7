"""What happened in one run, on one clock: model calls, tool calls and the engine's events.

A LangChain callback handler is the token accounting (it sums `usage_metadata` of every model
call) and the timeline of model and tool calls; LLMCompiler's custom stream events add when
each task was planned. Times are seconds since the run started.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from agent._usage import estimate_tokens, tokens_for_chars

KINDS = {"planner_model": "planner", "joiner_model": "joiner"}
"""The engine's run names of its planner and joiner model calls; other calls are `model`."""


@dataclass
class ModelSpan:
    """One chat model call: `kind` is planner, joiner, or model (e.g. a ReAct turn)."""

    kind: str
    start_s: float
    end_s: float | None = None
    first_token_s: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False
    """The provider reported no usage (a local server's stream): tokens are estimated."""
    prompt_chars: int = 0
    output_chars: int = 0


@dataclass
class ToolSpan:
    """One tool call; `idx` is the plan task it ran (LLMCompiler reports it in metadata)."""

    tool: str
    args: dict[str, Any]
    start_s: float
    idx: int | None = None
    end_s: float | None = None
    error: str | None = None


@dataclass
class Planned:
    """A `task_planned` event as it reached the caller (`args` as the plan wrote them)."""

    idx: int
    tool: str
    at_s: float
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recorder(BaseCallbackHandler):
    """Callback handler (run inline, so timestamps are exact) plus the run's custom events."""

    t0: float = field(default_factory=time.monotonic)
    models: list[ModelSpan] = field(default_factory=list)
    tools: list[ToolSpan] = field(default_factory=list)
    planned: list[Planned] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    """Tasks that finished with an error or were skipped, with why (from the events)."""
    deduplicated: int = 0
    """Tasks whose result came from an identical earlier call (`deduplicated_from`)."""
    cache_hits: int = 0
    """Tasks whose result came from the cross-run result cache (`cache_hit`)."""
    plan_notes: list[str] = field(default_factory=list)
    """Plan lines that were not actions (`plan_note` events): a call the planner botched."""
    first_text_s: dict[str, float] = field(default_factory=dict)
    """Per message id, when its first text reached a `messages` stream client."""
    _open_models: dict[UUID, ModelSpan] = field(default_factory=dict)
    _open_tools: dict[UUID, ToolSpan] = field(default_factory=dict)

    run_inline = True
    ignore_chain = True
    ignore_retriever = True
    ignore_custom_event = True

    def now(self) -> float:
        return time.monotonic() - self.t0

    def start(self) -> None:
        """Set the clock's zero: the moment the run is invoked."""
        self.t0 = time.monotonic()

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        span = ModelSpan(KINDS.get(name or "", "model"), self.now())
        span.prompt_chars = sum(len(m.text) for m in messages[0]) if messages else 0
        self._open_models[run_id] = span
        self.models.append(span)

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
        span = self._open_models.get(run_id)
        if span is None:
            return
        if span.first_token_s is None:
            span.first_token_s = self.now()
        span.output_chars += len(token) if isinstance(token, str) else 0

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        span = self._open_models.pop(run_id, None)
        if span is None:
            return
        span.end_s = self.now()
        usages = [
            usage
            for generations in response.generations
            for generation in generations
            if (usage := getattr(getattr(generation, "message", None), "usage_metadata", None))
        ]
        if not usages:  # the provider reported none: estimate, and say so
            text = "".join(g.text for generations in response.generations for g in generations)
            span.input_tokens = tokens_for_chars(span.prompt_chars)
            span.output_tokens = estimate_tokens(text)
            span.estimated = True
            return
        span.input_tokens = sum(usage["input_tokens"] for usage in usages)
        span.output_tokens = sum(usage["output_tokens"] for usage in usages)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        span = self._open_models.pop(run_id, None)
        if span is not None:
            span.end_s = self.now()
            if isinstance(error, GeneratorExit):  # a plan stream closed at join(): estimate
                span.input_tokens = tokens_for_chars(span.prompt_chars)
                span.output_tokens = tokens_for_chars(span.output_chars)
                span.estimated = True

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        idx = (metadata or {}).get("llmcompiler_task_idx")
        span = ToolSpan(serialized.get("name") or "tool", dict(inputs or {}), self.now(), idx)
        self._open_tools[run_id] = span
        self.tools.append(span)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        span = self._open_tools.pop(run_id, None)
        if span is not None:
            span.end_s = self.now()

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        span = self._open_tools.pop(run_id, None)
        if span is not None:
            span.end_s = self.now()
            span.error = f"{type(error).__name__}: {error}"

    def event(self, data: dict[str, Any]) -> None:
        """Record a custom stream event of the engine (docs/protocol.md, "Stream events")."""
        if data.get("event") == "task_planned":
            planned = Planned(data["idx"], data["tool"], self.now(), dict(data.get("args") or {}))
            self.planned.append(planned)
        elif data.get("event") == "plan_note":
            self.plan_notes.append(str(data.get("text", "")))
        elif data.get("event") == "task_finished":
            if data.get("status") != "done":
                self.failed[data["idx"]] = str(data.get("error"))
            self.deduplicated += "deduplicated_from" in data
            self.cache_hits += bool(data.get("cache_hit"))

    def message(self, message: BaseMessage) -> None:
        """Record a `messages` stream item: when each AI message's first text arrived (a
        chunk of a streamed answer, or a whole message a node wrote without streaming)."""
        if message.type in ("ai", "AIMessageChunk") and message.text and message.id:
            self.first_text_s.setdefault(message.id, self.now())

    def first_answer_s(self, answer: BaseMessage | None) -> float | None:
        """Time to first answer token: when the final answer message's first text reached
        the client (None if it never streamed)."""
        if answer is None or answer.id is None:
            return None
        return self.first_text_s.get(answer.id)
