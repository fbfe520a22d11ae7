"""Token and cost accounting through the real `langchain-openai` client and an HTTP server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agent import Context, create_llm_compiler
from agent._usage import PRICES_PER_M
from llmcompiler_scripted import ScriptedOpenAIServer
from tests.helpers import run_graph
from tools import build_math_tool

PLAN = '1. math("What is 6 times 7?")\n2. math("What is 2 plus 2?")\n3. join()'
ANSWER = "Thought: done\nAction: Finish(42 and 4)"


async def test_usage_through_the_openai_client_uses_list_prices(
    openai_server: Callable[..., ScriptedOpenAIServer],
) -> None:
    def respond(messages: list[dict[str, Any]]) -> str:
        system = str(messages[0]["content"])
        if system.startswith("Plan how to answer"):
            return PLAN
        return ANSWER if "Finish(" in system else "Expression: 6 * 7"

    server = openai_server(respond=respond)
    graph = create_llm_compiler([build_math_tool()])
    context = Context(planner_model="openai:gpt-4o-mini", base_url=server.base_url)
    run = await run_graph(graph, "q", context=context)
    usage = run.output["usage"]
    assert usage["calls"] == 4
    prices = PRICES_PER_M["gpt-4o-mini"]
    expected = (usage["input_tokens"] * prices[0] + usage["output_tokens"] * prices[1]) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected)
