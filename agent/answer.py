"""Streaming the joiner's answer to chat clients without its `Thought:`/`Action:` scaffolding.

`AnswerStream` is a chat model *view* of the joiner: it streams the real joiner model (hidden
from the `messages` stream by the `nostream` tag) and yields only the text inside
`Action: Finish(...)`, as it arrives. Because it is a chat model run of its own, LangGraph's
`messages` stream mode, the dev server and Studio show the answer token by token like any
model output.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import agenerate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from agent.models import astream_with_retry
from agent.reply import answer_region, find_action
from agent.usage import UsageMeter, child_callbacks, metered

VIEW_TAG = "llmcompiler:view"
"""Tag of the answer stream's own run: it re-streams the joiner model's output (counted once,
under the joiner model's run), so usage counters skip it."""


class AnswerExtractor:
    """Reads joiner output incrementally and releases the part that is surely answer text.

    After the first `Action: Finish(`, text up to the last `)` seen so far is surely answer
    (see `agent.reply` for where an answer ends), so it is released and the rest held back
    until more arrives; a `$` (a reference to resolve) stops the release. `close()` releases
    the rest of the final answer when it continues what was released. Output without
    `Action:` (prose, JSON) becomes the answer only at the end.
    """

    def __init__(self) -> None:
        self.raw = ""
        self.released = ""
        self._held = False

    def feed(self, text: str) -> str:
        self.raw += text
        start = find_action(self.raw)
        if self._held or start is None or start.action != "finish" or not start.parenthesized:
            return ""
        region, _ = answer_region(self.raw[start.body_start :])
        close = region.rfind(")")
        if close < 0:  # an unclosed answer is all its region; a partial last line may end it
            close = region.rfind("\n") if "\n" in region else len(region)
        safe = region[:close].strip()
        if "$" in safe:
            self._held = True
            return ""
        return self._release(safe)

    def close(self, answer: str | None) -> str:
        """Release what remains of `answer` (the final answer), if it is one."""
        return "" if answer is None else self._release(answer)

    def _release(self, text: str) -> str:
        if not text.startswith(self.released) or len(text) <= len(self.released):
            return ""
        new = text[len(self.released) :]
        self.released = text
        return new


class AnswerStream(BaseChatModel):
    """A chat model that streams `source`'s answer only (see the module docstring)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    source: BaseChatModel
    meter: UsageMeter
    retries: int = 0
    extractor: AnswerExtractor = Field(default_factory=AnswerExtractor, exclude=True)
    parse: Any = Field(exclude=True)
    """Callable turning the full raw output into the final answer, or None for a replan."""

    @property
    def _llm_type(self) -> str:
        return "llmcompiler-answer-stream"

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        # The real joiner call: traced under this run, metered, hidden from chat streams.
        config = metered(
            {"run_name": "joiner_model", "tags": ["nostream"]},
            self.meter,
            child_callbacks(run_manager),
        )
        yielded = False
        async for chunk in astream_with_retry(
            self.source, messages, retries=self.retries, config=config
        ):
            if piece := self.extractor.feed(chunk.text):
                yielded = True
                yield await self._emit(piece, run_manager)
        rest = self.extractor.close(self.parse(self.extractor.raw))
        if rest or not yielded:  # a replan streams nothing, but a stream needs one chunk
            yield await self._emit(rest, run_manager)

    async def _emit(
        self, text: str, run_manager: AsyncCallbackManagerForLLMRun | None
    ) -> ChatGenerationChunk:
        chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
        if run_manager is not None:
            await run_manager.on_llm_new_token(text, chunk=chunk)
        return chunk

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return await agenerate_from_stream(self._astream(messages, stop, run_manager))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError("AnswerStream is async-only, like the graph's nodes")

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        raise NotImplementedError("AnswerStream is async-only, like the graph's nodes")
