"""Shared fixtures, and the layout of the suite.

- `tests/unit/`: in-process, scripted models, no server and no subprocess; fast.
- `tests/integration/`: each starts something real (the scripted OpenAI-compatible HTTP server,
  `langgraph dev`, PostgreSQL, an MCP stdio server, a process it kills); marked `integration`.

`pytest tests/unit` (or `-m "not integration"`) runs the fast half; `make test` runs both.
Plain helpers (scripted graphs, event recording) live in `tests/helpers.py`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from typing import Any

import pytest

from llmcompiler_scripted import ModelProfile, ScriptedOpenAIServer
from llmcompiler_scripted.chat_model import Reply
from llmcompiler_scripted.server import ServerResponder

FAST_SERVER = ModelProfile(
    name="test-server", ttft_s=0.02, prefill_tok_per_s=1e9, decode_tok_per_s=300
)
"""Streams quickly but token by token, like a real server."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def openai_server(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., ScriptedOpenAIServer]]:
    """Start scripted OpenAI-compatible servers on 127.0.0.1: `openai_server(respond=f)` or
    `openai_server([reply, ...])`, the arguments of `ScriptedOpenAIServer` (`timing` defaults
    to `FAST_SERVER`).

    Every server started is stopped when the test ends. A dummy OPENAI_API_KEY is set so the
    real `langchain-openai` client path runs unchanged.
    """
    monkeypatch.setenv("OPENAI_API_KEY", "dummy-key")
    with ExitStack() as servers:

        def start(
            responses: Sequence[Reply] = (),
            *,
            respond: ServerResponder | None = None,
            timing: ModelProfile = FAST_SERVER,
        ) -> ScriptedOpenAIServer:
            server = ScriptedOpenAIServer(responses, respond=respond, timing=timing)
            return servers.enter_context(server)

        yield start


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model settings or tracing from the environment, and no network connections."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "LLMCOMPILER_", "LANGSMITH_", "LANGCHAIN_")):
            monkeypatch.delenv(name)

    def refuse(self: socket.socket, *args: Any) -> Any:
        raise OSError("documentation code blocks must run offline")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
