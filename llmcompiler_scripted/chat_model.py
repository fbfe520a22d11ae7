"""A scripted LangChain chat model that streams with realistic timing and keeps tool calls.

LangChain's fake models either drop tool calls when streaming (``GenericFakeChatModel``) or
stream one chunk (``FakeMessagesListChatModel``) and none supports ``bind_tools``; the engine
and the benchmark need all three, plus the latency of :mod:`llmcompiler_scripted.timing`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.chat_models import agenerate_from_stream, generate_from_stream
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call, tool_call_chunk
from langchain_core.messages.utils import convert_to_openai_messages
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr, SkipValidation, model_validator

from llmcompiler_scripted.timing import (
    PROFILES,
    ModelProfile,
    count_prompt_tokens,
    paced,
    paced_sync,
    tokenize,
)

Reply = str | AIMessage | dict[str, Any]
"""A scripted answer: text, an ``AIMessage`` (maybe with tool calls), or a dict (see below)."""
ScriptItem = Reply | Exception
Responder = Callable[[list[BaseMessage]], ScriptItem]


class ScriptExhaustedError(RuntimeError):
    """More model calls were made than the script has responses."""


@dataclass(frozen=True)
class Delta:
    """One output token: a piece of text, or a piece of one tool call's arguments JSON."""

    text: str = ""
    call_index: int | None = None
    call_id: str | None = None  # set on a tool call's first delta only, as OpenAI streams it
    name: str | None = None  # likewise
    args: str = ""


def to_ai_message(reply: Reply) -> AIMessage:
    """Normalise a scripted reply to an ``AIMessage``.

    A dict is ``{"content": str, "tool_calls": [...]}`` where each call is LangChain-style
    (``{"name", "args", "id"?}``) or OpenAI-style (``{"id"?, "function": {"name",
    "arguments"}}``), so one JSON script serves both the chat model and the HTTP server.
    """
    if isinstance(reply, AIMessage):
        return reply
    if isinstance(reply, str):
        return AIMessage(content=reply)
    if isinstance(reply, dict):
        if "status" in reply:
            raise TypeError(
                f"{reply!r}: HTTP error replies are for ScriptedOpenAIServer; "
                "script an Exception instance for ScriptedChatModel"
            )
        calls = []
        for call in reply.get("tool_calls") or ():
            if "function" in call:
                name, args = call["function"]["name"], call["function"].get("arguments") or {}
            else:
                name, args = call["name"], call.get("args") or {}
            calls.append(
                tool_call(
                    name=name,
                    args=json.loads(args) if isinstance(args, str) else args,
                    id=call.get("id"),
                )
            )
        return AIMessage(content=reply.get("content") or "", tool_calls=calls)
    raise TypeError(f"unsupported scripted reply {reply!r}: use str, AIMessage or dict")


def apply_stop(message: AIMessage, stop: str | Sequence[str] | None) -> AIMessage:
    """Cut the text at the earliest stop sequence, as a real model stops decoding there."""
    text = message.text
    stops = [stop] if isinstance(stop, str) else list(stop or ())
    cut = min((i for s in stops if s and (i := text.find(s)) >= 0), default=-1)
    if cut < 0:
        return message
    return message.model_copy(update={"content": text[:cut]})


def to_deltas(message: AIMessage) -> list[Delta]:
    """The output tokens of a reply: its text, then each tool call's arguments JSON."""
    deltas = [Delta(text=piece) for piece in tokenize(message.text)]
    for index, call in enumerate(message.tool_calls):
        call_id = call.get("id") or f"call_{uuid.uuid4().hex[:24]}"
        first, *rest = tokenize(json.dumps(call["args"]))
        deltas.append(Delta(call_index=index, call_id=call_id, name=call["name"], args=first))
        deltas.extend(Delta(call_index=index, args=piece) for piece in rest)
    return deltas


def capped(deltas: list[Delta], cap: int | None, message: AIMessage) -> tuple[list[Delta], str]:
    """The output tokens a server sends under an output-token cap, and its finish reason."""
    if cap is not None and len(deltas) > cap:
        return deltas[:cap], "length"
    return deltas, "tool_calls" if message.tool_calls else "stop"


def _chunk(delta: Delta) -> ChatGenerationChunk:
    if delta.call_index is None:
        return ChatGenerationChunk(message=AIMessageChunk(content=delta.text))
    piece = tool_call_chunk(
        name=delta.name, args=delta.args, id=delta.call_id, index=delta.call_index
    )
    return ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[piece]))


class ScriptedChatModel(BaseChatModel):
    """Replays scripted replies, streamed token by token on the timing profile's deadlines.

    Give either ``responses`` (consumed in order, one per call, shared safely across threads
    and tasks; an ``Exception`` item is raised before the first token, e.g. for retry tests)
    or ``respond`` (called with each call's messages). The profile is the field ``timing``
    because ``BaseChatModel.profile`` is LangChain's capability profile, which
    ``create_agent`` reads; ``profile=`` with a :class:`ModelProfile` is accepted as an alias.
    """

    # Not validated: pydantic would try to coerce a dict reply into an AIMessage.
    responses: SkipValidation[Sequence[ScriptItem]] = Field(default_factory=list)
    respond: Responder | None = None
    timing: ModelProfile = PROFILES["instant"]
    report_usage: bool = True
    """False: like a server that streams no token usage (many local ones)."""
    max_tokens: int | None = None
    """An output-token cap: a longer reply is cut there and ends with finish reason `length`."""
    calls: list[list[BaseMessage]] = Field(default_factory=list, exclude=True)
    """Input messages of every call, in call order."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _next: int = PrivateAttr(default=0)

    @model_validator(mode="before")
    @classmethod
    def _timing_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("profile"), ModelProfile):
            data = {**data, "timing": data["profile"]}
            del data["profile"]
        return data

    @model_validator(mode="after")
    def _one_source(self) -> ScriptedChatModel:
        if self.respond is not None and self.responses:
            raise ValueError("give either `responses` or `respond`, not both")
        return self

    @property
    def _llm_type(self) -> str:
        return "scripted-chat-model"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind OpenAI-format tool schemas; they count as prompt tokens on every call."""
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=[convert_to_openai_tool(tool) for tool in tools], **kwargs)

    def _next_reply(self, messages: list[BaseMessage]) -> AIMessage:
        with self._lock:
            self.calls.append(list(messages))
            if self.respond is None:
                if self._next >= len(self.responses):
                    raise ScriptExhaustedError(
                        f"ScriptedChatModel script exhausted: call {self._next + 1} but only "
                        f"{len(self.responses)} scripted responses; last input message: "
                        f"{messages[-1].content!r:.200}"
                    )
                item = self.responses[self._next]
                self._next += 1
        if self.respond is not None:
            item = self.respond(list(messages))
        if isinstance(item, Exception):
            raise item
        return to_ai_message(item)

    def _prepare(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[list[Delta], int, ChatGenerationChunk]:
        """Pick the reply; return its output tokens, prompt tokens and closing chunk."""
        message = apply_stop(self._next_reply(messages), stop)
        deltas, finish = capped(to_deltas(message), self.max_tokens, message)
        prompt_tokens = count_prompt_tokens(
            convert_to_openai_messages(messages), kwargs.get("tools") or ()
        )
        usage = UsageMetadata(
            input_tokens=prompt_tokens,
            output_tokens=len(deltas),
            total_tokens=prompt_tokens + len(deltas),
        )
        last = AIMessageChunk(
            content="",
            usage_metadata=usage if self.report_usage else None,
            chunk_position="last",
            response_metadata={"finish_reason": finish, "model_name": self._llm_type},
        )
        return deltas, prompt_tokens, ChatGenerationChunk(message=last)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        start = time.monotonic()
        deltas, prompt_tokens, last = self._prepare(messages, stop, kwargs)
        # An empty reply still pays time to first token.
        async for delta in paced(deltas or [Delta()], self.timing, prompt_tokens, start):
            chunk = _chunk(delta)
            if run_manager is not None:
                await run_manager.on_llm_new_token(delta.text, chunk=chunk)
            yield chunk
        yield last

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        start = time.monotonic()
        deltas, prompt_tokens, last = self._prepare(messages, stop, kwargs)
        for delta in paced_sync(deltas or [Delta()], self.timing, prompt_tokens, start):
            chunk = _chunk(delta)
            if run_manager is not None:
                run_manager.on_llm_new_token(delta.text, chunk=chunk)
            yield chunk
        yield last

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # Same timing as streaming; tokens are not reported to callbacks when not streaming.
        return await agenerate_from_stream(self._astream(messages, stop, None, **kwargs))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, None, **kwargs))
