"""A model server that misbehaves: one that accepts the connection and never answers fails
the run as timed out after `model_timeout_s` (it cannot hang it), and a context-length
refusal is named as such, through the real OpenAI client (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from agent import Context, create_llm_compiler
from agent._causes import Cause, cause_of
from llmcompiler_cli.main import hint_for
from llmcompiler_scripted import ScriptedOpenAIServer
from tests.helpers import run_graph, search


@contextlib.contextmanager
def _silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers; yields its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


async def test_a_server_that_never_answers_fails_the_run_as_timed_out() -> None:
    graph = create_llm_compiler([search])
    with _silent_server() as url:
        context = Context(
            planner_model="openai:hung", base_url=url, model_timeout_s=0.2, llm_retries=0
        )
        run = await asyncio.wait_for(run_graph(graph, "q", context=context), timeout=60)
    assert run.output["error"].startswith(
        "model timed out: the planner model gave no reply within Context.model_timeout_s"
    )
    assert cause_of(run.output["error"]) is Cause.MODEL_TIMED_OUT
    assert "sent nothing for 0.2 s" in hint_for(run.output["error"], context)


CONTEXT_REFUSALS = [
    "This model's maximum context length is 4096 tokens. However, you requested 25123 tokens.",
    "Requested tokens (25123) exceed context window of 4096",  # llama-cpp-python
    "the request exceeds the available context size, try increasing it",  # llama.cpp server
]


@pytest.mark.parametrize("refusal", CONTEXT_REFUSALS)
async def test_a_context_length_refusal_is_named_as_such_not_as_a_missing_key(
    openai_server: Callable[..., ScriptedOpenAIServer], refusal: str
) -> None:
    graph = create_llm_compiler([search])
    server = openai_server([{"status": 400, "message": refusal}])
    context = Context(planner_model="openai:small", base_url=server.base_url)
    run = await run_graph(graph, "a long question", context=context)
    assert len(server.requests) == 1  # a 400 is not retried
    error = run.output["error"]
    assert error.startswith("context window exceeded: the planner's prompt does not fit")
    assert refusal in error
    hint = hint_for(error, context)
    assert "context window" in hint and "OPENAI_API_KEY" not in hint
