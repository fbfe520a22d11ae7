"""The scripted OpenAI-compatible server, driven through the real OpenAI client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import openai
import pytest
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from llmcompiler_scripted import ModelProfile, ScriptedOpenAIServer, count_tokens
from llmcompiler_scripted.server import Reply

TEXT = "Paris is the capital of France, and Berlin is the capital of Germany."
ROOT = Path(__file__).resolve().parents[2]


@tool
def search(query: str) -> str:
    """Search the web for a query."""
    return query


def _client(srv: ScriptedOpenAIServer, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model="scripted", base_url=srv.base_url, api_key=SecretStr("dummy"), max_retries=0, **kwargs
    )


async def _collect(stream: AsyncIterator[BaseMessage]) -> AIMessageChunk:
    """Aggregate a streamed reply the way LangChain consumers do."""
    chunks = [chunk async for chunk in stream]
    assert all(isinstance(chunk, AIMessageChunk) for chunk in chunks)
    total = cast(AIMessageChunk, chunks[0])
    for chunk in chunks[1:]:
        total = total + cast(AIMessageChunk, chunk)
    return total


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ScriptedOpenAIServer] = []

    def start(responses: list[Reply], **kwargs: Any) -> ScriptedOpenAIServer:
        servers.append(ScriptedOpenAIServer(responses, **kwargs).start())
        return servers[-1]

    yield start
    for srv in servers:
        srv.stop()


async def test_stream_arrives_token_by_token_on_deadlines(serve: Any) -> None:
    profile = ModelProfile(name="test", ttft_s=0.1, prefill_tok_per_s=1000, decode_tok_per_s=200)
    srv = serve([TEXT], timing=profile)
    start = time.monotonic()
    arrivals: list[float] = []
    chunks: list[AIMessageChunk] = []
    async for chunk in _client(srv, streaming=True).astream("Capitals?"):
        arrivals.append(time.monotonic() - start)
        chunks.append(chunk)
    n = count_tokens(TEXT)
    assert len([c for c in chunks if c.content]) >= n
    assert "".join(str(c.content) for c in chunks) == TEXT
    assert arrivals == sorted(arrivals)
    nominal = profile.duration_s(count_tokens("Capitals?"), n)
    assert arrivals[-1] >= nominal
    assert arrivals[-1] < nominal + 2.0  # very generous
    # chunks are read as they are written, not all at once at the end
    decode_span = profile.offset_s(0, n - 1) - profile.offset_s(0, 0)
    assert arrivals[-1] - arrivals[0] >= 0.5 * decode_span
    assert srv.requests[0]["stream"] is True


async def test_tool_calls_streamed_and_not(serve: Any) -> None:
    reply = {
        "content": "",
        "tool_calls": [
            {"name": "search", "args": {"query": "capital of France"}, "id": "call_1"},
            {"name": "search", "args": {"query": "capital of Germany"}},
        ],
    }
    srv = serve([reply, reply])
    expected = [{"query": "capital of France"}, {"query": "capital of Germany"}]
    total = await _collect(_client(srv, streaming=True).bind_tools([search]).astream("go"))
    assert [c["args"] for c in total.tool_calls] == expected
    assert total.tool_calls[0]["id"] == "call_1"
    assert total.response_metadata["finish_reason"] == "tool_calls"
    message = await _client(srv).bind_tools([search]).ainvoke("go")
    assert [c["args"] for c in message.tool_calls] == expected
    assert srv.requests[0]["tools"][0]["function"]["name"] == "search"


async def test_non_stream_invoke_and_usage(serve: Any) -> None:
    srv = serve(["plain answer", "streamed answer"])
    message = await _client(srv).ainvoke("question")
    assert message.content == "plain answer"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == count_tokens("plain answer")
    assert message.response_metadata["finish_reason"] == "stop"
    total = await _collect(_client(srv, streaming=True, stream_usage=True).astream("question"))
    assert total.content == "streamed answer"
    assert total.usage_metadata is not None
    assert total.usage_metadata["input_tokens"] == count_tokens("question")
    assert total.usage_metadata["output_tokens"] == count_tokens("streamed answer")
    assert srv.requests[1]["stream_options"] == {"include_usage": True}


async def test_scripted_http_errors(serve: Any) -> None:
    srv = serve([{"status": 429}, {"status": 401, "message": "bad key"}, "fine"])
    model = _client(srv, streaming=True)
    with pytest.raises(openai.RateLimitError):
        await model.ainvoke("a")
    with pytest.raises(openai.AuthenticationError, match="bad key"):
        await model.ainvoke("b")
    assert (await model.ainvoke("c")).content == "fine"
    with pytest.raises(openai.InternalServerError, match="exhausted"):
        await model.ainvoke("d")


async def test_respond_callable_loop_and_models_route(serve: Any) -> None:
    echo = serve([], respond=lambda messages: f"echo {messages[-1]['content']}")
    assert (await _client(echo).ainvoke("hi")).content == "echo hi"
    looping = serve(["one", "two"], loop=True)
    answers = [(await _client(looping).ainvoke("q")).content for _ in range(3)]
    assert answers == ["one", "two", "one"]
    async with httpx.AsyncClient() as http:
        models = (await http.get(f"{looping.base_url}/models")).json()
    assert models["data"][0]["id"] == "scripted"


async def test_stop_is_prompt_with_a_stream_in_flight() -> None:
    slow = ModelProfile(name="slow", ttft_s=0.0, prefill_tok_per_s=1000, decode_tok_per_s=2)
    srv = ScriptedOpenAIServer(["x" * 400], timing=slow).start()
    received: list[AIMessageChunk] = []

    async def consume() -> None:
        async for chunk in _client(srv, streaming=True).astream("go"):
            received.append(chunk)

    task = asyncio.create_task(consume())
    while not received:
        await asyncio.sleep(0.01)
    start = time.monotonic()
    await asyncio.to_thread(srv.stop)
    assert time.monotonic() - start < 2.0
    # the cut-off stream ends (with an error) instead of trickling on for 50 s
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), timeout=5)
    assert len(received) < 10


def test_runs_as_a_process(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["from the process"]))
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "llmcompiler_scripted.server", "--port", "0"),
            *("--script", str(script), "--profile", "gpt-4o-mini-like"),
            *("--time-scale", "0.1", "--loop"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        model = ChatOpenAI(
            model="scripted", base_url=base_url, api_key=SecretStr("dummy"), max_retries=0
        )
        assert model.invoke("hello").content == "from the process"
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "Warning" not in stderr
