"""Token and cost accounting: planner, joiner, and the LLM calls tools make themselves."""

from __future__ import annotations

from typing import Any

import pytest

from agent import Context, create_llm_compiler
from agent.usage import PRICES_PER_M, price_per_m
from llmcompiler_scripted import ScriptedChatModel, ScriptedOpenAIServer, count_tokens
from tests.helpers import run_graph
from tools import build_math_tool

PLAN = '1. math("What is 6 times 7?")\n2. math("What is 2 plus 2?")\n3. join()'
ANSWER = "Thought: done\nAction: Finish(42 and 4)"


async def test_every_llm_call_of_the_turn_is_counted_with_its_cost() -> None:
    planner = ScriptedChatModel(responses=[PLAN])
    joiner = ScriptedChatModel(responses=[ANSWER])
    math_model = ScriptedChatModel(responses=["Expression: 6 * 7", "Expression: 2 + 2"])
    graph = create_llm_compiler([build_math_tool(math_model)], planner=planner, joiner=joiner)
    run = await run_graph(
        graph, "q", context=Context(price_per_m_input=1.0, price_per_m_output=10.0)
    )
    usage = run.output["usage"]
    assert usage["calls"] == 4  # planner, two math calls, joiner
    tool_usage = [run.tasks[i]["usage"] for i in (1, 2)]
    assert [u["calls"] for u in tool_usage] == [1, 1]
    assert tool_usage[0]["output_tokens"] == count_tokens("Expression: 6 * 7")
    planner_out = count_tokens(PLAN)
    joiner_out = count_tokens(ANSWER)
    expected_out = planner_out + joiner_out + sum(u["output_tokens"] for u in tool_usage)
    assert usage["output_tokens"] == expected_out
    assert usage["input_tokens"] > 0
    expected_cost = (usage["input_tokens"] * 1.0 + usage["output_tokens"] * 10.0) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected_cost)


async def test_unknown_model_prices_give_no_cost_rather_than_a_wrong_one() -> None:
    planner = ScriptedChatModel(responses=["1. join()"])
    joiner = ScriptedChatModel(responses=["Action: Finish(hi)"])
    graph = create_llm_compiler([build_math_tool()], planner=planner, joiner=joiner)
    run = await run_graph(graph, "q")
    assert run.output["usage"]["calls"] == 2 and run.output["usage"]["cost_usd"] is None


def test_list_prices_match_by_longest_model_prefix() -> None:
    assert price_per_m("gpt-4o-mini-2024-07-18", None) == PRICES_PER_M["gpt-4o-mini"]
    assert price_per_m("gpt-4o-2024-08-06", None) == PRICES_PER_M["gpt-4o"]
    assert price_per_m("llama3", None) is None
    assert price_per_m("llama3", (0.0, 0.0)) == (0.0, 0.0)


async def test_usage_through_the_openai_client_uses_list_prices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "dummy")

    def respond(messages: list[dict[str, Any]]) -> str:
        system = str(messages[0]["content"])
        if system.startswith("Plan how to answer"):
            return PLAN
        return ANSWER if "Finish(" in system else "Expression: 6 * 7"

    with ScriptedOpenAIServer(respond=respond) as server:
        graph = create_llm_compiler([build_math_tool()])
        context = Context(planner_model="openai:gpt-4o-mini", base_url=server.base_url)
        run = await run_graph(graph, "q", context=context)
    usage = run.output["usage"]
    assert usage["calls"] == 4
    prices = PRICES_PER_M["gpt-4o-mini"]
    expected = (usage["input_tokens"] * prices[0] + usage["output_tokens"] * prices[1]) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected)
