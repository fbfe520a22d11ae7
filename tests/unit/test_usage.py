"""Token and cost accounting in process: planner, joiner, and the LLM calls tools make
themselves, whether the tool then succeeds, raises or times out."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool, tool

from agent import Context, create_llm_compiler
from agent._usage import PRICES_PER_M, price_per_m
from llmcompiler_scripted import ScriptedChatModel, count_tokens
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


async def test_a_plan_stream_closed_at_join_is_counted_with_estimated_tokens() -> None:
    """The planner stops reading at `join()`, so the provider never reports the call's usage:
    the engine counts it itself, from the prompt and the text it read."""
    plan = "1. join()\nThought: commentary after the plan, never read." + " More." * 50
    planner = ScriptedChatModel(responses=[plan])
    joiner = ScriptedChatModel(responses=["Action: Finish(hi)"])
    graph = create_llm_compiler([build_math_tool()], planner=planner, joiner=joiner)
    run = await run_graph(graph, "q")
    planner_usage = run.output["rounds"][0]["planner_usage"]
    assert planner_usage["calls"] == 1 and planner_usage["estimated_calls"] == 1
    assert planner_usage["input_tokens"] > 0
    assert 0 < planner_usage["output_tokens"] < count_tokens(plan)  # only what was read
    assert run.output["usage"]["calls"] == 2


def _consult_tool(model: BaseChatModel) -> BaseTool:
    @tool
    async def consult(question: str, then: str) -> str:
        """Ask the model, then fail the way `then` says: "raise" or "hang"."""
        await model.ainvoke(question)
        if then == "raise":
            raise RuntimeError("failed after the model call")
        await asyncio.Event().wait()  # until the engine's timeout cancels it
        return "unreachable"

    return consult


async def test_a_tools_model_call_is_counted_when_the_tool_then_raises_or_times_out() -> None:
    plan = '1. consult("a", then="raise")\n2. consult("b", then="hang")\n3. join()'
    planner = ScriptedChatModel(responses=[plan])
    joiner = ScriptedChatModel(responses=["Action: Finish(neither worked)"])
    tool_model = ScriptedChatModel(responses=["reply a", "reply b"])
    graph = create_llm_compiler([_consult_tool(tool_model)], planner=planner, joiner=joiner)
    run = await run_graph(graph, "q", context=Context(tool_timeout_s=0.5))
    assert "failed after the model call" in run.tasks[1]["error"]
    assert "timed out" in run.tasks[2]["error"]
    assert [run.tasks[i]["usage"]["calls"] for i in (1, 2)] == [1, 1]
    assert run.tasks[2]["usage"]["output_tokens"] == count_tokens("reply b")
    assert run.output["usage"]["calls"] == 4  # planner, two tool calls, joiner
