"""`langgraph dev` serves langgraph.json as shipped, driven through `langgraph-sdk`.

The real CLI runs on loopback with analytics and tracing off; its models (planner, joiner and
the `math` tool's own call) go to a scripted OpenAI-compatible server, so nothing leaves the
machine. The plan uses only `math`: the shipped `wikipedia_search` would need the internet.
The server is started and stopped by `llmcompiler_bench.dev_server.langgraph_dev` (also the
load benchmark's).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client

from llmcompiler_bench.dev_server import langgraph_dev
from llmcompiler_scripted import ModelProfile, ScriptedOpenAIServer

ROOT = Path(__file__).resolve().parents[2]

FIRST = "What is 6 times 7?"
FOLLOW_UP = "And twice that, and that plus one?"
APPROVED = "What is 5 plus 8?"
REJECTED = "What is 9 times 9?"
EXPRESSIONS = {
    "6 times 7": "6 * 7",
    "42 times 2": "42 * 2",
    "42 plus 1": "42 + 1",
    "5 plus 8": "5 + 8",
    "9 squared": "9 ** 2",
}
PLANS = {
    FIRST: '1. math("6 times 7")\n2. join()\n<END_OF_PLAN>',
    FOLLOW_UP: '1. math("42 times 2")\n2. math("42 plus 1")\n3. join()\n<END_OF_PLAN>',
    APPROVED: '1. math("5 plus 8")\n2. join()\n<END_OF_PLAN>',
    REJECTED: '1. math("9 times 9")\n2. join()\n<END_OF_PLAN>',
}
REPLANS = {REJECTED: '{n}. math("9 squared")\n{j}. join()\n<END_OF_PLAN>'}
"""Second plans, numbered from where the planner is told to start."""
ANSWERS = {
    FIRST: "6 times 7 is 42.",
    FOLLOW_UP: "Twice 42 is 84 (and 42 plus 1 is 43).",
    APPROVED: "5 plus 8 is 13.",
    REJECTED: "9 squared is 81.",
}


def _question(messages: list[dict[str, Any]]) -> str:
    """The turn's question, from the `Question: ...` line of the last message."""
    found = re.search(r"Question: (.*)", str(messages[-1]["content"]))
    assert found, messages[-1]
    return found.group(1).strip()


def respond(messages: list[dict[str, Any]]) -> str:
    """Planner, joiner and the `math` tool's model, told apart by their system prompts."""
    system = str(messages[0]["content"])
    if system.startswith("Plan how to answer"):
        first = re.search(r"Number new actions from (\d+)", str(messages[-1]["content"]))
        if first is None:
            return PLANS[_question(messages)]
        n = int(first.group(1))
        return REPLANS[_question(messages)].format(n=n, j=n + 1)
    if "Finish(" in system:
        question = _question(messages)
        return f"Thought: the math results answer it\nAction: Finish({ANSWERS[question]})"
    problem = re.search(r"Problem: (.*)", str(messages[-1]["content"]))
    assert problem, messages
    return f"Expression: {EXPRESSIONS[problem.group(1).strip()]}"


@dataclass
class DevServer:
    url: str
    models: ScriptedOpenAIServer
    log: Path


@pytest.fixture(scope="module")
def dev_server() -> Iterator[DevServer]:
    """`langgraph dev` in a scratch directory (empty threads and store: no result cached by an
    earlier session), its models on a scripted server; both stopped when the module ends."""
    timing = ModelProfile(name="dev", ttft_s=0.01, prefill_tok_per_s=1e9, decode_tok_per_s=500)
    with (
        ScriptedOpenAIServer(respond=respond, timing=timing) as models,
        langgraph_dev(models.base_url) as server,
    ):
        yield DevServer(url=server.url, models=models, log=server.log)


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
    joiner_requests = [
        r["messages"][-1]["content"]
        for r in dev_server.models.requests
        if "Finish(" in r["messages"][0]["content"]
    ]
    assert "Replanning is allowed" in joiner_requests[0]
    assert "No more replanning is possible" in joiner_requests[-1]

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


async def _run_events(server: DevServer, thread_id: str, **run: Any) -> list[dict[str, Any]]:
    """Stream one run of the llmcompiler graph (a question, or a resume with `command=`); return
    its custom events. The context goes with every run: a resumed run does not inherit it."""
    custom: list[dict[str, Any]] = []
    async for part in get_client(url=server.url).runs.stream(
        thread_id,
        "llmcompiler",
        context={"approve_plan": True},
        stream_mode=["custom", "updates"],
        **run,
    ):
        if part.event == "custom":
            custom.append(part.data)
        elif part.event == "error":
            raise AssertionError(f"run failed: {part.data}\n{server.log.read_text()[-4000:]}")
    return custom


async def _thread_status(server: DevServer, thread_id: str) -> str:
    return str((await get_client(url=server.url).threads.get(thread_id))["status"])


async def _pending_review(server: DevServer, thread_id: str) -> dict[str, Any]:
    state = await get_client(url=server.url).threads.get_state(thread_id)
    (interrupt,) = [i for task in state["tasks"] for i in task["interrupts"]]
    value: dict[str, Any] = interrupt["value"]
    assert value["type"] == "plan_approval"
    return value


async def test_plan_approval_through_the_sdk_pauses_then_runs_once_approved(
    dev_server: DevServer,
) -> None:
    client = get_client(url=dev_server.url)
    thread_id = (await client.threads.create())["thread_id"]
    question = {"messages": [{"role": "user", "content": APPROVED}]}

    paused = await _run_events(dev_server, thread_id, input=question)
    assert [e["event"] for e in paused] == ["task_planned", "plan_finished"]  # no tool ran
    assert await _thread_status(dev_server, thread_id) == "interrupted"
    review = await _pending_review(dev_server, thread_id)
    assert review["round"] == 1
    assert [(t["idx"], t["tool"], t["args"]) for t in review["plan"]] == [
        (1, "math", {"problem": "5 plus 8"})
    ]
    assert "1. math(problem='5 plus 8')" in review["plan_text"]

    resumed = await _run_events(dev_server, thread_id, command={"resume": "approve"})
    assert await _thread_status(dev_server, thread_id) == "idle"
    assert [(e["event"], e.get("idx")) for e in resumed] == [
        ("task_started", 1),
        ("task_finished", 1),
    ]
    values = (await client.threads.get_state(thread_id))["values"]
    assert values["messages"][-1]["content"] == ANSWERS[APPROVED]
    assert [(t["idx"], t["status"], t["result"]) for t in values["tasks"]] == [(1, "done", 13)]


async def test_a_rejected_plan_is_replanned_with_the_reason_then_approved(
    dev_server: DevServer,
) -> None:
    client = get_client(url=dev_server.url)
    thread_id = (await client.threads.create())["thread_id"]
    question = {"messages": [{"role": "user", "content": REJECTED}]}
    await _run_events(dev_server, thread_id, input=question)
    assert (await _pending_review(dev_server, thread_id))["round"] == 1

    reason = "square it instead"
    rejected = await _run_events(
        dev_server, thread_id, command={"resume": {"action": "reject", "reason": reason}}
    )
    assert await _thread_status(dev_server, thread_id) == "interrupted"
    assert not [e for e in rejected if e["event"] == "task_started"]  # nothing of plan 1 ran
    replan = next(e for e in rejected if e["event"] == "replan")
    assert replan["round"] == 2 and reason in replan["reason"]
    review = await _pending_review(dev_server, thread_id)
    assert review["round"] == 2
    assert [(t["idx"], t["args"]["problem"]) for t in review["plan"]] == [(3, "9 squared")]
    planner_prompts = [
        str(r["messages"][-1]["content"])
        for r in dev_server.models.requests
        if "Plan how" in r["messages"][0]["content"] and REJECTED in str(r["messages"])
    ]
    assert reason in planner_prompts[-1]  # the planner was told why

    await _run_events(dev_server, thread_id, command={"resume": "approve"})
    values = (await client.threads.get_state(thread_id))["values"]
    assert values["messages"][-1]["content"] == ANSWERS[REJECTED]
    assert [(t["idx"], t["result"]) for t in values["tasks"]] == [(3, 81)]
    assert [r["decision"] for r in values["rounds"]] == ["replan", "finish"]


async def _failed_run(server: DevServer, question: str, context: dict[str, Any]) -> str:
    """Stream a run that must fail; return its error event's text."""
    client = get_client(url=server.url)
    thread_id = (await client.threads.create())["thread_id"]
    errors = [
        json.dumps(part.data)
        async for part in client.runs.stream(
            thread_id,
            "llmcompiler",
            input={"messages": [{"role": "user", "content": question}]},
            context=context,
            stream_mode=["updates"],
        )
        if part.event == "error"
    ]
    assert errors, "the run did not fail"
    return errors[0]


@pytest.mark.parametrize(
    ("context", "question", "expected"),
    [
        (
            {"max_concurrency": "abc"},
            FIRST,
            "Context.max_concurrency='abc' is not allowed: it must be an integer >= 1",
        ),
        ({"tool_timeout_s": -5}, FIRST, "Context.tool_timeout_s=-5 is not allowed"),
        ({}, "   ", "the question is empty"),
    ],
)
async def test_bad_input_through_the_sdk_fails_the_run_naming_it_with_no_model_call(
    dev_server: DevServer, context: dict[str, Any], question: str, expected: str
) -> None:
    before = len(dev_server.models.requests)
    error = await _failed_run(dev_server, question, context)
    assert expected in json.loads(error)["message"], error
    assert "InvalidInputError" in error
    assert len(dev_server.models.requests) == before
