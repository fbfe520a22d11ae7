"""`wikipedia_search` against a stub MediaWiki API on 127.0.0.1: real sockets, no internet."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from langchain_core.tools import ToolException

from tools.wikipedia import URL_ENV, build_wikipedia_tool, wikipedia_search

EVEREST = {
    "batchcomplete": True,
    "query": {
        "pages": [
            {
                "pageid": 42179,
                "ns": 0,
                "title": "Mount Everest",
                "index": 1,
                "extract": "Mount Everest is Earth's highest mountain above sea level.",
            }
        ]
    },
}


@dataclass
class StubWiki:
    """Answers each GET with the next scripted (status, body, delay); records the requests."""

    url: str = ""
    script: list[tuple[int, Any, float]] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)

    def reply(self, status: int, body: Any, delay: float = 0.0) -> None:
        self.script.append((status, body, delay))


@pytest.fixture
def stub() -> Iterator[StubWiki]:
    wiki = StubWiki()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            wiki.requests.append({key: values[-1] for key, values in query.items()})
            wiki.user_agents.append(self.headers.get("User-Agent", ""))
            status, body, delay = wiki.script.pop(0) if wiki.script else (500, "empty", 0.0)
            time.sleep(delay)
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    wiki.url = f"http://127.0.0.1:{server.server_address[1]}/w/api.php"
    try:
        yield wiki
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_hit_returns_title_and_intro(stub: StubWiki) -> None:
    stub.reply(200, EVEREST)
    search = build_wikipedia_tool(stub.url)
    result = await search.ainvoke({"query": "Everest"})
    assert result == "Mount Everest: Mount Everest is Earth's highest mountain above sea level."
    request = stub.requests[0]
    assert request["gsrsearch"] == "Everest"
    assert request["generator"] == "search" and request["gsrlimit"] == "1"
    assert request["prop"] == "extracts" and request["explaintext"] == "1"
    assert stub.user_agents[0].startswith("llmcompiler-langgraph/")


async def test_no_results_is_a_result_not_an_error(stub: StubWiki) -> None:
    stub.reply(200, {"batchcomplete": True})
    result = await build_wikipedia_tool(stub.url).ainvoke({"query": "xyzzy plugh"})
    assert result == "No Wikipedia page found for 'xyzzy plugh'"


async def test_long_intro_is_trimmed_at_a_word(stub: StubWiki) -> None:
    page = {"title": "Long", "index": 1, "extract": "word " * 1000}
    stub.reply(200, {"query": {"pages": [page]}})
    result = await build_wikipedia_tool(stub.url).ainvoke({"query": "long"})
    assert len(result) <= 1502
    assert result.endswith("word …")


async def test_server_error_then_success_is_retried(stub: StubWiki) -> None:
    stub.reply(503, "busy")
    stub.reply(200, EVEREST)
    search = build_wikipedia_tool(stub.url, retries=2, backoff_s=0.01)
    assert (await search.ainvoke({"query": "Everest"})).startswith("Mount Everest:")
    assert len(stub.requests) == 2


async def test_persistent_server_errors_raise_after_the_retries(stub: StubWiki) -> None:
    for _ in range(3):
        stub.reply(429, "slow down")
    search = build_wikipedia_tool(stub.url, retries=2, backoff_s=0.01)
    with pytest.raises(ToolException, match="HTTP 429"):
        await search.ainvoke({"query": "Everest"})
    assert len(stub.requests) == 3


async def test_client_errors_are_not_retried(stub: StubWiki) -> None:
    stub.reply(404, "not here")
    search = build_wikipedia_tool(stub.url, retries=2, backoff_s=0.01)
    with pytest.raises(ToolException, match="HTTP 404"):
        await search.ainvoke({"query": "Everest"})
    assert len(stub.requests) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error": {"code": "badvalue", "info": "Bad gsrsearch"}}, "API error.*Bad gsrsearch"),
        ("<html>maintenance</html>", "invalid JSON"),
    ],
)
async def test_bad_answers_raise(stub: StubWiki, body: Any, message: str) -> None:
    stub.reply(200, body)
    with pytest.raises(ToolException, match=message):
        await build_wikipedia_tool(stub.url).ainvoke({"query": "Everest"})


async def test_unreachable_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/w/api.php"
    search = build_wikipedia_tool(url, retries=1, backoff_s=0.01)
    with pytest.raises(ToolException, match=r"Wikipedia is unreachable \(ConnectError") as info:
        await search.ainvoke({"query": "Everest"})
    assert f"check the network or set {URL_ENV}" in str(info.value)


async def test_timeouts_are_unreachable_too(stub: StubWiki) -> None:
    stub.reply(200, EVEREST, delay=1.0)
    search = build_wikipedia_tool(stub.url, timeout_s=0.1, retries=0)
    with pytest.raises(ToolException, match=r"unreachable \(ReadTimeout"):
        await search.ainvoke({"query": "Everest"})


async def test_environment_overrides_the_default_url(
    stub: StubWiki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URL_ENV, stub.url)
    stub.reply(200, EVEREST)
    assert (await wikipedia_search.ainvoke({"query": "Everest"})).startswith("Mount Everest:")


def test_tool_schema() -> None:
    assert wikipedia_search.name == "wikipedia_search"
    assert wikipedia_search.handle_tool_error is False
    assert list(wikipedia_search.args) == ["query"]
