"""Token and cost accounting of every LLM call a run makes: planner, joiner, and tools.

A `UsageMeter` is a callback handler attached to a call's config; LangChain propagates it to
nested runs, so LLM calls made *inside* a tool (the `math` tool's own model) are counted too.
Each figure is checkpointed with the record it belongs to (the plan, a task, the joiner's
round), so a resumed run reports the same totals as an uninterrupted one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, NotRequired

from langchain_core.callbacks import (
    AsyncCallbackManager,
    BaseCallbackHandler,
    BaseCallbackManager,
    Callbacks,
)
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from typing_extensions import TypedDict

PRICES_PER_M: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o4-mini": (1.10, 4.40),
}
"""USD per million input/output tokens, by model-name prefix (list prices; Context overrides)."""


class Usage(TypedDict):
    """LLM calls, tokens and cost (None when a call's model has no known price)."""

    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    estimated_calls: NotRequired[int]
    """Calls whose tokens the provider did not report (a server that streams no usage, or a
    plan stream closed at `join()`): their counts are estimates, about 4 characters a token."""


CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    return tokens_for_chars(len(text))


def tokens_for_chars(chars: int) -> int:
    """Estimated tokens of `chars` characters, for providers that report no usage."""
    return max(1, round(chars / CHARS_PER_TOKEN)) if chars else 0


def no_usage() -> Usage:
    return Usage(calls=0, input_tokens=0, output_tokens=0, cost_usd=0.0)


def total(parts: Iterable[Usage | None]) -> Usage:
    """Sum of usages; the cost is unknown (None) if any part's is."""
    out = no_usage()
    for part in parts:
        if not part:
            continue
        out["calls"] += part["calls"]
        out["input_tokens"] += part["input_tokens"]
        out["output_tokens"] += part["output_tokens"]
        if part.get("estimated_calls"):
            out["estimated_calls"] = out.get("estimated_calls", 0) + part["estimated_calls"]
        if out["cost_usd"] is None or part["cost_usd"] is None:
            out["cost_usd"] = None
        else:
            out["cost_usd"] += part["cost_usd"]
    return out


def price_per_m(
    model: str | None, override: tuple[float, float] | None
) -> tuple[float, float] | None:
    if override is not None:
        return override
    if not model:
        return None
    matches = [prefix for prefix in PRICES_PER_M if model.startswith(prefix)]
    return PRICES_PER_M[max(matches, key=len)] if matches else None


class UsageMeter(BaseCallbackHandler):
    """Counts the chat model calls it sees (thread-safe: sync tools run in threads)."""

    run_inline = True  # cheap and locked: no thread-pool hop per callback event

    def __init__(self, prices: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.prices = prices
        self.usage = no_usage()
        self._prompts: dict[Any, str] = {}
        self._lock = threading.Lock()

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        prompt = "".join(m.text for m in messages[0]) if messages else ""
        with self._lock:
            self._prompts[kwargs.get("run_id")] = prompt

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        with self._lock:
            prompt = self._prompts.pop(kwargs.get("run_id"), "")
        self._count(prompt, _message(response))

    def on_llm_error(
        self, error: BaseException, *, response: LLMResult | None = None, **kwargs: Any
    ) -> None:
        """A call that failed after its first tokens (a stream that broke: its tasks may
        have run) is counted with what it wrote; one that failed before wrote nothing."""
        if isinstance(error, GeneratorExit):  # closed early on purpose: `count_unfinished`
            return
        with self._lock:
            prompt = self._prompts.pop(kwargs.get("run_id"), "")
        partial = _message(response) if response is not None else None
        if partial is not None and partial.text:
            self._count(prompt, partial)

    def _count(self, prompt: str, message: BaseMessage | None) -> None:
        """Count one call: the provider's token usage, else estimates from the texts."""
        meta = message.usage_metadata if isinstance(message, AIMessage) else None
        model = message.response_metadata.get("model_name") if message is not None else None
        if meta:
            self.add(meta["input_tokens"], meta["output_tokens"], model)
        else:  # the provider reported no usage: estimate, and say so
            text = message.text if message is not None else ""
            self.add(estimate_tokens(prompt), estimate_tokens(text), model, estimated=True)

    def count_unfinished(self, output: str, model: str | None) -> None:
        """Count, with estimated tokens, calls that started but never ended: a stream the
        engine closed early gets no end callback, and so no usage from the provider."""
        with self._lock:
            prompts, self._prompts = list(self._prompts.values()), {}
        for prompt in prompts:
            self.add(estimate_tokens(prompt), estimate_tokens(output), model, estimated=True)

    def add(
        self, tokens_in: int, tokens_out: int, model: str | None, *, estimated: bool = False
    ) -> None:
        """Count one call."""
        prices = price_per_m(model, self.prices)
        cost = None if prices is None else (tokens_in * prices[0] + tokens_out * prices[1]) / 1e6
        call = Usage(calls=1, input_tokens=tokens_in, output_tokens=tokens_out, cost_usd=cost)
        if estimated:
            call["estimated_calls"] = 1
        with self._lock:
            self.usage = total([self.usage, call])


def _message(response: LLMResult) -> BaseMessage | None:
    """The message of a call's first generation (partial, when the call failed)."""
    generation = response.generations[0][0] if response.generations else None
    return generation.message if isinstance(generation, ChatGeneration) else None


def current_callbacks() -> Callbacks:
    """The callbacks of the graph task we run in (tracing, stream handlers)."""
    try:
        return get_config().get("callbacks")
    except RuntimeError:  # not inside a graph run
        return None


def metered(config: RunnableConfig, meter: UsageMeter, parent: Callbacks) -> RunnableConfig:
    """`config` with `meter` added to the `parent` callbacks (tracing is kept).

    A parent manager is copied rather than configured afresh: this runs for every tool call,
    and the callee configures its own run manager from it anyway.
    """
    if isinstance(parent, BaseCallbackManager):
        manager = parent.copy()
    else:
        manager = AsyncCallbackManager.configure(inheritable_callbacks=parent)
    manager.add_handler(meter, inherit=True)
    return {**config, "callbacks": manager}
