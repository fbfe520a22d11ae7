"""`langgraph dev` serves langgraph.json as shipped, driven through `langgraph-sdk`.

The real CLI runs on loopback with analytics and tracing off; its models (planner, joiner and
the `math` tool's own call) go to a scripted OpenAI-compatible server, so nothing leaves the
machine. The plan uses only `math`: the shipped `wikipedia_search` would need the internet.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from agent.testing import ModelProfile, ScriptedOpenAIServer

ROOT = Path(__file__).resolve().parents[1]
LANGGRAPH = ROOT / ".venv" / "bin" / "langgraph"
STARTUP_TIMEOUT_S = 60.0

FIRST = "What is 6 times 7?"
FOLLOW_UP = "And twice that, and that plus one?"
EXPRESSIONS = {"6 times 7": "6 * 7", "42 times 2": "42 * 2", "42 plus 1": "42 + 1"}
PLANS = {
    FIRST: '1. math("6 times 7")\n2. join()\n<END_OF_PLAN>',
    FOLLOW_UP: '1. math("42 times 2")\n2. math("42 plus 1")\n3. join()\n<END_OF_PLAN>',
}
ANSWERS = {FIRST: "6 times 7 is 42.", FOLLOW_UP: "Twice 42 is 84 (and 42 plus 1 is 43)."}


def _question(messages: list[dict[str, Any]]) -> str:
    """The turn's question, from the `Question: ...` line of the last message."""
    found = re.search(r"Question: (.*)", str(messages[-1]["content"]))
    assert found, messages[-1]
    return found.group(1).strip()


def respond(messages: list[dict[str, Any]]) -> str:
    """Planner, joiner and the `math` tool's model, told apart by their system prompts."""
    system = str(messages[0]["content"])
    if system.startswith("Plan how to answer"):
        return PLANS[_question(messages)]
    if "Finish(" in system:
        question = _question(messages)
        return f"Thought: the math results answer it\nAction: Finish({ANSWERS[question]})"
    problem = re.search(r"Problem: (.*)", str(messages[-1]["content"]))
    assert problem, messages
    return f"Expression: {EXPRESSIONS[problem.group(1).strip()]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DevServer:
    url: str
    models: ScriptedOpenAIServer
    log: Path


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the server's whole process group (the CLI spawns the API server as a child)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"langgraph dev exited early:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/ok", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"langgraph dev not ready in {STARTUP_TIMEOUT_S}s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    timing = ModelProfile(name="dev", ttft_s=0.01, prefill_tok_per_s=1e9, decode_tok_per_s=500)
    log = tmp_path_factory.mktemp("langgraph-dev") / "server.log"
    port = _free_port()
    with ScriptedOpenAIServer(respond=respond, timing=timing) as models:
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OPENAI_", "LLMCOMPILER_", "LANGSMITH_", "LANGCHAIN_"))
        }
        env = {
            **inherited,
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
            "LANGSMITH_TRACING": "false",
            "OPENAI_API_KEY": "dummy",
            "LLMCOMPILER_BASE_URL": models.base_url,
        }
        # --no-reload: files edited while the test runs must not restart the server mid-run.
        command = [
            str(LANGGRAPH),
            "dev",
            "--no-browser",
            "--no-reload",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--config",
            "langgraph.json",
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, process, log)
            yield DevServer(url=url, models=models, log=log)
        finally:
            _stop(process)


@dataclass
class StreamedRun:
    custom: list[dict[str, Any]]
    tokens: list[tuple[dict[str, Any], dict[str, Any]]]
    updated_nodes: list[str]


async def _stream_turn(
    server: DevServer, thread_id: str, question: str, context: dict[str, Any] | None = None
) -> StreamedRun:
    client = get_client(url=server.url)
    run = StreamedRun(custom=[], tokens=[], updated_nodes=[])
    async for part in client.runs.stream(
        thread_id,
        "llmcompiler",
        input={"messages": [{"role": "user", "content": question}]},
        context=context,
        stream_mode=["updates", "custom", "messages-tuple"],
    ):
        if part.event == "custom":
            run.custom.append(part.data)
        elif part.event == "messages":
            chunk, metadata = part.data
            run.tokens.append((chunk, metadata))
        elif part.event == "updates":
            run.updated_nodes.extend(part.data)
        elif part.event == "error":
            raise AssertionError(f"run failed: {part.data}\n{server.log.read_text()[-4000:]}")
    return run


def _assert_event_order(events: list[dict[str, Any]], indices: list[int]) -> None:
    kinds = [(e["event"], e.get("idx")) for e in events]
    plan_end = kinds.index(("plan_finished", None))
    for idx in indices:
        planned = kinds.index(("task_planned", idx))
        started = kinds.index(("task_started", idx))
        finished = kinds.index(("task_finished", idx))
        assert planned < plan_end, kinds
        assert planned < started < finished, kinds
    assert events[plan_end]["n_tasks"] == len(indices)
    assert all(e["status"] == "done" for e in events if e["event"] == "task_finished"), events


def _assert_answer_streamed(run: StreamedRun, answer: str) -> None:
    """The answer arrives as several tokens, and nothing else does (no plan, no scaffolding)."""
    chunks = [
        chunk
        for chunk, _ in run.tokens
        if chunk["type"] in ("AIMessageChunk", "ai") and chunk["content"]
    ]
    text = "".join(str(chunk["content"]) for chunk in chunks)
    assert text == answer, f"streamed {text!r}; tokens: {[c['content'] for c in chunks]}"
    assert len(chunks) > 1, "the answer arrived in one piece, not as tokens"
    assert {metadata.get("langgraph_node") for _, metadata in run.tokens} == {"joiner"}


async def test_two_turns_stream_events_tokens_and_keep_state(dev_server: DevServer) -> None:
    client = get_client(url=dev_server.url)
    thread = await client.threads.create()
    thread_id = thread["thread_id"]

    first = await _stream_turn(dev_server, thread_id, FIRST)
    _assert_event_order(first.custom, [1])
    assert {"planner", "scheduler", "joiner"} <= set(first.updated_nodes)
    state = await client.threads.get_state(thread_id)
    values = state["values"]
    assert values["messages"][-1]["content"] == ANSWERS[FIRST]
    assert [(t["idx"], t["tool"], t["result"]) for t in values["tasks"]] == [(1, "math", 42)]

    second = await _stream_turn(dev_server, thread_id, FOLLOW_UP, context={"max_replans": 0})
    _assert_event_order(second.custom, [1, 2])
    values = (await client.threads.get_state(thread_id))["values"]
    contents = [m["content"] for m in values["messages"]]
    assert contents == [FIRST, ANSWERS[FIRST], FOLLOW_UP, ANSWERS[FOLLOW_UP]]
    # A new turn starts a fresh task list: only the follow-up's two tasks.
    assert [(t["idx"], t["args"]["problem"], t["result"]) for t in values["tasks"]] == [
        (1, "42 times 2", 84),
        (2, "42 plus 1", 43),
    ]
    # The follow-up's planner saw the first turn (conversation history).
    planner_prompts = [
        r["messages"]
        for r in dev_server.models.requests
        if "Plan how" in r["messages"][0]["content"]
    ]
    assert ANSWERS[FIRST] in str(planner_prompts[-1])
    # The run's context reached the engine: no replans left, and the joiner was told so.
    joiner_systems = [
        r["messages"][0]["content"]
        for r in dev_server.models.requests
        if "Finish(" in r["messages"][0]["content"]
    ]
    assert "Replan(" in joiner_systems[0] and "Replan(" not in joiner_systems[-1]

    _assert_answer_streamed(first, ANSWERS[FIRST])
    _assert_answer_streamed(second, ANSWERS[FOLLOW_UP])


async def test_studio_sees_graphs_nodes_and_context_schema(dev_server: DevServer) -> None:
    client = get_client(url=dev_server.url)
    assistants = await client.assistants.search(limit=20)
    by_graph = {a["graph_id"]: a for a in assistants}
    declared = json.loads((ROOT / "langgraph.json").read_text())["graphs"]
    assert {"llmcompiler", "react"} <= set(declared) <= set(by_graph)

    assistant_id = by_graph["llmcompiler"]["assistant_id"]
    schemas = await client.assistants.get_schemas(assistant_id)
    properties = schemas["context_schema"]["properties"]
    for name in (
        "planner_model",
        "joiner_model",
        "base_url",
        "max_replans",
        "max_concurrency",
        "tool_timeout_s",
        "max_tasks_per_plan",
    ):
        assert properties[name].get("description"), name
    assert properties["max_replans"]["default"] == 2
    assert "messages" in schemas["input_schema"]["properties"]
    assert {"messages", "tasks"} <= set(schemas["output_schema"]["properties"])

    graph = await client.assistants.get_graph(assistant_id)
    assert {"planner", "scheduler", "joiner"} <= {node["id"] for node in graph["nodes"]}
