"""The idempotency key of the tool call running now, in any placement.

The engine binds it around each call (in this process, and again in the worker process or
Ray task that runs it), so a tool can read it without a `config` parameter.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_idempotency_key: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "llmcompiler_idempotency_key", default=None
)


def current_idempotency_key() -> str | None:
    """The idempotency key of the tool call running now (thread, event loop, worker process or
    Ray task); `None` outside a tool call. The same value as the config's
    `metadata["idempotency_key"]`."""
    return _idempotency_key.get()


@contextlib.contextmanager
def idempotency_key_bound(key: str | None) -> Iterator[None]:
    """Make `key` the current idempotency key for the code run inside (and the threads and
    tasks that copy this context)."""
    token = _idempotency_key.set(key)
    try:
        yield
    finally:
        _idempotency_key.reset(token)
