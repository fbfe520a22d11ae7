"""Chat models: built lazily from strings, retried once per layer on transient errors.

One retry layer only: models we build get the OpenAI client's own retries switched off
(`max_retries=0`) and tenacity retries here, with exponential backoff and jitter. A stream is
retried only before its first chunk: once tokens arrived (and tasks may have been dispatched)
a failure is the caller's to handle, never a silent second plan.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import httpx
from langchain_core.exceptions import ModelError
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import BaseMessage, BaseMessageChunk
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from agent._context import DEFAULT_MODEL_TIMEOUT_S
from agent._errors import ModelNotConfiguredError

ModelSpec = BaseChatModel | str

_TRANSIENT_STATUS = {408, 409, 429}
NO_MODEL_HINT = (
    "no model configured: set OPENAI_API_KEY for OpenAI, or point at an OpenAI-compatible "
    "server with --base-url (e.g. http://localhost:11434/v1 for Ollama) and --model "
    "openai:<model name>, or pass --model provider:model for another provider"
)
LOCAL_SERVER_API_KEY = "not-needed"
"""Sent to an OpenAI-compatible base URL when OPENAI_API_KEY is unset."""


_TRANSIENT_TYPES = (ConnectionError, TimeoutError, httpx.TransportError)


def is_transient(exc: BaseException) -> bool:
    """Rate limits, server errors, timeouts and dropped connections; never 4xx like a bad key.

    LangChain's standard model errors decide where a provider maps to them; otherwise the HTTP
    status, then the OpenAI SDK's status-less connection errors.
    """
    if isinstance(exc, ModelError):
        return exc.is_retryable
    if isinstance(exc, _TRANSIENT_TYPES):
        return True
    status = getattr(exc, "status_code", None)
    if status is None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return status in _TRANSIENT_STATUS or status >= 500
    # openai.APIConnectionError / APITimeoutError (and subclasses) carry no status code.
    return any(c.__name__ in {"APIConnectionError", "APITimeoutError"} for c in type(exc).__mro__)


_CAPTURED_ENV_SUFFIXES = ("_API_KEY", "_BASE_URL", "_API_BASE", "_ORGANIZATION", "_PROJECT")
_ModelKey = tuple[str, str | None, float | None, int | None, float, tuple[tuple[str, str], ...]]
_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_ModelKey, BaseChatModel]]
_by_loop = weakref.WeakKeyDictionary()
_outside_loops: dict[_ModelKey, BaseChatModel] = {}


def load_chat_model(
    spec: str,
    *,
    base_url: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    timeout: float = DEFAULT_MODEL_TIMEOUT_S,
) -> BaseChatModel:
    """Build a chat model from `"provider:model"` (OpenAI by default).

    `timeout` (seconds) bounds each request, so a server that accepts the connection and
    never answers fails the call as timed out instead of hanging the run (LangChain's
    standard `timeout` parameter; for a stream it bounds each wait for the next chunk).
    A built model is reused while nothing it captured changes: the provider settings in the
    environment, and the event loop (a client's connection pool belongs to its loop).
    """
    settings = tuple(
        sorted((k, v) for k, v in os.environ.items() if k.endswith(_CAPTURED_ENV_SUFFIXES))
    )
    key: _ModelKey = (spec, base_url, temperature, max_tokens, timeout, settings)
    try:
        cache = _by_loop.setdefault(asyncio.get_running_loop(), {})
    except RuntimeError:
        cache = _outside_loops
    model = cache.get(key)
    if model is None:
        model = cache[key] = _build_chat_model(spec, base_url, temperature, max_tokens, timeout)
    return model


def _build_chat_model(
    spec: str,
    base_url: str | None,
    temperature: float | None,
    max_tokens: int | None,
    timeout: float,
) -> BaseChatModel:
    from langchain.chat_models import init_chat_model

    provider, sep, name = spec.partition(":")
    if not sep:
        provider, name = "openai", spec
    kwargs: dict[str, Any] = {"timeout": timeout}
    if temperature is not None:
        kwargs["temperature"] = temperature
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    if provider == "openai":
        kwargs["max_retries"] = 0  # tenacity is the only retry layer
        kwargs["stream_usage"] = True
        if base_url:
            kwargs["base_url"] = base_url
        compatible_server = base_url or os.environ.get("OPENAI_BASE_URL")
        if compatible_server and not os.environ.get("OPENAI_API_KEY"):
            # Local OpenAI-compatible servers (vLLM, Ollama, llama.cpp) ignore the key.
            kwargs["api_key"] = LOCAL_SERVER_API_KEY
        if compatible_server and max_tokens is not None:
            # langchain-openai sends the cap as `max_completion_tokens`, which some servers
            # ignore (llama-cpp-python's); `max_tokens` is the field they all read.
            kwargs["extra_body"] = {"max_tokens": max_tokens}
    elif base_url:
        kwargs["base_url"] = base_url
    try:
        return init_chat_model(name, model_provider=provider, **kwargs)
    except Exception as exc:  # missing key, unknown provider, package not installed
        raise ModelNotConfiguredError(f"cannot build chat model {spec!r}: {exc}") from exc


def check_model(spec: str, *, base_url: str | None, temperature: float | None = None) -> None:
    """Fail fast, before a run, when `spec` cannot be built (raises ModelNotConfiguredError
    with a hint): an OpenAI model needs OPENAI_API_KEY or an OpenAI-compatible base URL."""
    provider = spec.partition(":")[0] if ":" in spec else "openai"
    has_server = base_url or os.environ.get("OPENAI_BASE_URL")
    if provider == "openai" and not (os.environ.get("OPENAI_API_KEY") or has_server):
        raise ModelNotConfiguredError(NO_MODEL_HINT)
    try:
        load_chat_model(spec, base_url=base_url, temperature=temperature)
    except ModelNotConfiguredError as exc:
        raise ModelNotConfiguredError(f"{exc}\nhint: {NO_MODEL_HINT}") from exc


def resolve_model(
    spec: ModelSpec,
    *,
    base_url: str | None,
    temperature: float | None,
    max_tokens: int | None = None,
    timeout: float = DEFAULT_MODEL_TIMEOUT_S,
) -> BaseChatModel:
    """An instance is used as given; a string is loaded with the run's settings."""
    if isinstance(spec, BaseChatModel):
        return spec
    return load_chat_model(
        spec, base_url=base_url, temperature=temperature, max_tokens=max_tokens, timeout=timeout
    )


def _retrying(attempts: int) -> AsyncRetrying:
    return AsyncRetrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(max(1, attempts + 1)),
        wait=wait_exponential_jitter(multiplier=0.5, max=8.0, jitter=0.5),
        reraise=True,
    )


async def astream_with_retry(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    *,
    retries: int,
    **kwargs: Any,
) -> AsyncGenerator[BaseMessageChunk, None]:
    """Stream `model`, retrying transient failures that happen before the first chunk."""
    prompt: LanguageModelInput = list(messages)
    stream: AsyncIterator[BaseMessageChunk] | None = None
    first: BaseMessageChunk | None = None
    async for attempt in _retrying(retries):
        with attempt:
            stream = aiter(model.astream(prompt, **kwargs))
            try:
                first = await anext(stream)
            except StopAsyncIteration:
                first = None
    if first is None or stream is None:
        return
    try:
        yield first
        async for chunk in stream:
            yield chunk
    finally:  # closed early (the plan ended at join()): close the model's stream too
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()


async def ainvoke_with_retry(
    model: BaseChatModel, messages: Sequence[BaseMessage], *, retries: int, **kwargs: Any
) -> BaseMessage:
    """Call `model` once, retrying transient failures with backoff."""
    async for attempt in _retrying(retries):
        with attempt:
            return await model.ainvoke(list(messages), **kwargs)
    raise AssertionError("unreachable: tenacity reraises the last error")
