"""End to end through the real `langchain-openai` client and a scripted server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.tools import tool

from agent import Context, create_llm_compiler
from llmcompiler_scripted import ScriptedOpenAIServer
from tests.helpers import run_graph

PLAN = """Thought: both heights first
1. height("Mount Everest")
2. height("K2")
3. difference(a="$1", b="$2")
4. join()
<END_OF_PLAN>"""

ANSWER = "Thought: 8849 - 8611 = 238\nAction: Finish(Everest is taller, by 238 m (8,849 vs 8,611))"

HEIGHTS = {"Mount Everest": 8849, "K2": 8611}


@tool
async def height(mountain: str) -> int:
    """Height of `mountain` in meters."""
    await asyncio.sleep(0.05)
    return HEIGHTS[mountain]


@tool
def difference(a: int, b: int) -> int:
    """a - b."""
    return a - b


def respond(messages: list[dict[str, Any]]) -> str:
    system = str(messages[0]["content"])
    return PLAN if system.startswith("Plan how to answer") else ANSWER


@pytest.fixture
def server(openai_server: Callable[..., ScriptedOpenAIServer]) -> ScriptedOpenAIServer:
    return openai_server(respond=respond)


async def test_graph_runs_through_the_openai_client(server: ScriptedOpenAIServer) -> None:
    graph = create_llm_compiler([height, difference])  # models come from the Context
    context = Context(planner_model="openai:scripted-model", base_url=server.base_url)
    run = await run_graph(
        graph, "Which is taller, Everest or K2, and by how much?", context=context
    )

    assert run.answer == "Everest is taller, by 238 m (8,849 vs 8,611)"
    assert [run.tasks[i]["result"] for i in (1, 2, 3)] == [8849, 8611, 238]
    # Streamed dispatch through the real client: a tool started before the plan finished.
    assert run.position("task_started", 1) < run.position("plan_finished")
    planner_request, joiner_request = server.requests
    assert planner_request["stream"] is True and planner_request["model"] == "scripted-model"
    assert "height(mountain: str)" in planner_request["messages"][0]["content"]
    assert "8849" in joiner_request["messages"][-1]["content"]


async def test_rate_limit_is_retried_once_by_tenacity_only(
    openai_server: Callable[..., ScriptedOpenAIServer],
) -> None:
    srv = openai_server([{"status": 429}, PLAN, ANSWER])
    graph = create_llm_compiler([height, difference])
    context = Context(planner_model="openai:m", base_url=srv.base_url)
    run = await run_graph(graph, "q", context=context)
    assert len(srv.requests) == 3  # one 429, one plan, one joiner: no client-side retries
    assert run.tasks[3]["result"] == 238


async def test_bad_key_fails_once_with_a_clear_answer(
    openai_server: Callable[..., ScriptedOpenAIServer],
) -> None:
    srv = openai_server([{"status": 401, "message": "Incorrect API key"}])
    graph = create_llm_compiler([height, difference])
    run = await run_graph(
        graph, "q", context=Context(planner_model="openai:m", base_url=srv.base_url)
    )
    assert len(srv.requests) == 1
    assert "AuthenticationError" in run.answer and "Incorrect API key" in run.answer


async def test_model_follows_the_environment_between_runs(
    openai_server: Callable[..., ScriptedOpenAIServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model built from a string is not reused after OPENAI_BASE_URL points elsewhere."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    graph = create_llm_compiler([height, difference])
    for _ in range(2):
        srv = openai_server(respond=respond)
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        run = await run_graph(graph, "q", context=Context(planner_model="openai:m"))
        assert len(srv.requests) == 2  # this server, not the previous one
        assert run.tasks[3]["result"] == 238


def test_plain_functions_without_docstrings_become_tools() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    async def shout(text: str) -> str:
        return text.upper()

    graph = create_llm_compiler([add, shout])
    assert graph.get_graph().nodes.keys() >= {"planner", "scheduler", "joiner"}


@pytest.mark.parametrize("cut_before", ["customers", " only if"], ids=["in a string", "after )"])
async def test_a_call_cut_off_by_the_servers_token_cap_is_not_run(
    openai_server: Callable[..., ScriptedOpenAIServer], cut_before: str
) -> None:
    """The cap reaches the server as langchain-openai sends it; the stream ends with finish
    reason `length` inside a string argument, or just after a call's `)` (the line may have
    gone on with a condition): that call is a task error, never run."""
    from agent.plan import CUT_OFF
    from llmcompiler_scripted.timing import tokenize

    sent: list[str] = []

    @tool
    async def notify(message: str) -> str:
        """Email every customer (a side effect)."""
        sent.append(message)
        return "sent"

    plan = (
        '1. height("Mount Everest")\n'
        '2. notify("The launch is postponed. Do NOT tell customers about it.") only if $1 > 0\n'
        "3. join()"
    )
    cap = len(tokenize(plan[: plan.index(cut_before)]))
    server = openai_server(
        respond=lambda messages: (
            plan
            if str(messages[0]["content"]).startswith("Plan how to answer")
            else "Action: Finish(done)"
        )
    )
    graph = create_llm_compiler([height, notify])
    context = Context(
        planner_model="openai:scripted-model", base_url=server.base_url, max_output_tokens=cap
    )
    run = await run_graph(graph, "Tell the customers", context=context)
    assert sent == []
    assert run.tasks[1]["status"] == "done"
    assert run.tasks[2]["status"] == "error" and run.tasks[2]["error"].startswith(CUT_OFF)


async def test_the_output_cap_reaches_a_compatible_server_in_both_fields(
    server: ScriptedOpenAIServer,
) -> None:
    """`max_completion_tokens` (what langchain-openai sends) and `max_tokens` (what
    llama-cpp-python's server reads): every OpenAI-compatible server sees the cap."""
    graph = create_llm_compiler([height, difference])
    context = Context(
        planner_model="openai:scripted-model", base_url=server.base_url, max_output_tokens=500
    )
    await run_graph(graph, "Which is taller, Everest or K2?", context=context)
    assert server.requests
    for body in server.requests:
        assert body["max_tokens"] == 500 and body["max_completion_tokens"] == 500
