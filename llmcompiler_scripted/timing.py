"""Timing model of a simulated chat model (see docs/benchmark.md, "Timing model").

A call's chunks are due on absolute deadlines measured from the call's start: the first token
at ``ttft + prompt_tokens / prefill`` and token ``k`` ``k / decode`` later. Sleeping until each
deadline (never "sleep one interval per chunk") keeps scheduler overshoot from accumulating,
which would otherwise slow every streaming system unfairly.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

T = TypeVar("T")

CHARS_PER_TOKEN = 4
"""The one documented tokenizer approximation: a token is about four characters."""


@dataclass(frozen=True)
class ModelProfile:
    """Latency and prices of a simulated model; each benchmark figure names its preset.

    ``time_scale`` multiplies every duration (``ttft_s``, prefill and decode time) and is kept
    as a field, not folded into the rates, so a scaled profile still reports its preset's
    nominal figures plus the scale it runs at. Use :meth:`scaled` to derive one.
    """

    name: str = "gpt-4o-mini-like"
    ttft_s: float = 0.40
    prefill_tok_per_s: float = 5000.0
    decode_tok_per_s: float = 60.0
    price_in_per_m: float = 0.15
    price_out_per_m: float = 0.60
    time_scale: float = 1.0

    def scaled(self, factor: float) -> ModelProfile:
        """The same preset with every duration multiplied by ``factor`` (scales compound)."""
        return replace(self, time_scale=self.time_scale * factor)

    def offset_s(self, prompt_tokens: int, index: int) -> float:
        """Seconds from the call's start until output token ``index`` (0-based) is due."""
        first = self.ttft_s + prompt_tokens / self.prefill_tok_per_s
        return (first + index / self.decode_tok_per_s) * self.time_scale

    def duration_s(self, prompt_tokens: int, output_tokens: int) -> float:
        """Nominal wall time of a whole call: until its last token (or its first, if none)."""
        return self.offset_s(prompt_tokens, max(output_tokens - 1, 0))

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        """Price of a call from the per-million-token price table."""
        return (input_tokens * self.price_in_per_m + output_tokens * self.price_out_per_m) / 1e6


PROFILES: dict[str, ModelProfile] = {
    "gpt-4o-mini-like": ModelProfile(),
    "gpt-3.5-like": ModelProfile(
        name="gpt-3.5-like",
        ttft_s=0.35,
        prefill_tok_per_s=6000.0,
        decode_tok_per_s=80.0,
        price_in_per_m=0.5,
        price_out_per_m=1.5,
    ),
    "local-8b": ModelProfile(
        name="local-8b",
        ttft_s=0.15,
        prefill_tok_per_s=1500.0,
        decode_tok_per_s=35.0,
        price_in_per_m=0.0,
        price_out_per_m=0.0,
    ),
    # Infinite rates make every delay zero, whatever the time scale; for tests.
    "instant": ModelProfile(
        name="instant",
        ttft_s=0.0,
        prefill_tok_per_s=math.inf,
        decode_tok_per_s=math.inf,
        price_in_per_m=0.0,
        price_out_per_m=0.0,
    ),
}
DEFAULT_PROFILE = PROFILES["gpt-4o-mini-like"]


def count_tokens(text: str) -> int:
    """Approximate token count: ``ceil(len(text) / 4)``, so 1 for any non-empty text."""
    return -(-len(text) // CHARS_PER_TOKEN)


def tokenize(text: str) -> list[str]:
    """Split text into streaming chunks of four characters: one chunk per counted token."""
    return [text[i : i + CHARS_PER_TOKEN] for i in range(0, len(text), CHARS_PER_TOKEN)]


def _content_text(content: Any) -> str:
    """Text of an OpenAI message content: a string or a list of parts (non-text parts skipped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, str) or (isinstance(part, dict) and part.get("type") == "text")
        )
    return ""


def render_prompt(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] = ()
) -> str:
    """The text a prompt's tokens are counted over: tool schemas, contents and tool calls.

    Takes OpenAI-format dicts so the chat model and the HTTP server count one conversation
    alike; a tool-calling model's prompt carries its tool schemas on every turn.
    """
    parts = [json.dumps(tool) for tool in tools]
    for message in messages:
        parts.append(_content_text(message.get("content")))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            parts.append(f"{function.get('name', '')}{function.get('arguments', '')}")
    return "\n".join(part for part in parts if part)


def count_prompt_tokens(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] = ()
) -> int:
    """Input tokens of a call: :func:`count_tokens` over :func:`render_prompt`."""
    return count_tokens(render_prompt(messages, tools))


class StreamClock:
    """Absolute deadlines of one call's output tokens, measured from ``start``.

    ``start`` defaults to now (``time.monotonic()``); pass the moment the request arrived so
    that bookkeeping before the first token is not added to the simulated latency.
    """

    def __init__(
        self, profile: ModelProfile, prompt_tokens: int, start: float | None = None
    ) -> None:
        self.profile = profile
        self.prompt_tokens = prompt_tokens
        self.start = time.monotonic() if start is None else start

    def deadline(self, index: int) -> float:
        """Monotonic time at which output token ``index`` is due."""
        return self.start + self.profile.offset_s(self.prompt_tokens, index)

    async def wait(self, index: int) -> None:
        """Sleep (asynchronously) until token ``index`` is due.

        An overdue token still yields to the event loop once, as a chunk read off a real
        network stream does; otherwise an instant model would starve every other task (tools
        could not start until its whole stream was consumed).
        """
        await asyncio.sleep(max(self.deadline(index) - time.monotonic(), 0.0))

    def wait_sync(self, index: int, cancel: threading.Event | None = None) -> bool:
        """Block until token ``index`` is due; False if ``cancel`` was set meanwhile."""
        delay = self.deadline(index) - time.monotonic()
        if cancel is not None:
            return not cancel.wait(max(delay, 0.0))
        if delay > 0:
            time.sleep(delay)
        return True


async def paced(
    chunks: Iterable[T], profile: ModelProfile, prompt_tokens: int, start: float | None = None
) -> AsyncIterator[T]:
    """Yield each chunk at its absolute deadline (async)."""
    clock = StreamClock(profile, prompt_tokens, start)
    for index, chunk in enumerate(chunks):
        await clock.wait(index)
        yield chunk


def paced_sync(
    chunks: Iterable[T],
    profile: ModelProfile,
    prompt_tokens: int,
    start: float | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[T]:
    """Yield each chunk at its absolute deadline (blocking); stop early once ``cancel`` is set."""
    clock = StreamClock(profile, prompt_tokens, start)
    for index, chunk in enumerate(chunks):
        if not clock.wait_sync(index, cancel):
            return
        yield chunk
