"""The `math` tool with a scripted chat model: prompt, extraction, errors, model resolution."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import ToolException
from langgraph.graph import END, START, StateGraph
from pydantic import Field

import tools.math
from agent._context import Context
from agent._errors import ModelNotConfiguredError
from tools.math import build_math_tool, extract_expression


class ScriptedModel(BaseChatModel):
    """Replies from a script (an exception is raised instead); records prompts and tags."""

    script: list[str | Exception]
    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    seen_tags: list[list[str]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.prompts.append(messages)
        self.seen_tags.append(list(run_manager.tags) if run_manager else [])
        reply = self.script.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return ChatResult(generations=[ChatGeneration(message=AIMessage(reply))])


@pytest.mark.parametrize(
    ("reply", "expression"),
    [
        ("Expression: (8848 / 5895)", "(8848 / 5895)"),
        ("```text\n8848 / 5895\n```", "8848 / 5895"),
        ("```\n1 + 1\n```", "1 + 1"),
        ("First ```text\n1\n``` then ```text\n2 * 3\n```", "2 * 3"),
        ("Let me think.\nExpression: 1 + 1\nexpression: `2 + 2`", "2 + 2"),
        ("Expression: 8848 / 5895 = 1.5009", "8848 / 5895"),
        ("  3 * 4  \n", "3 * 4"),
    ],
)
def test_extract_expression(reply: str, expression: str) -> None:
    assert extract_expression(reply) == expression


async def test_word_problem_with_context() -> None:
    model = ScriptedModel(script=["Expression: (8848 / 5895)"])
    math = build_math_tool(model)
    result = await math.ainvoke(
        {
            "problem": "How many times taller is Everest than Kilimanjaro?",
            "context": ["Everest: 8848 m", "Kilimanjaro: 5895 m"],
        }
    )
    assert result == pytest.approx(1.5009, abs=1e-4)
    prompt = model.prompts[0][-1].text
    assert "How many times taller" in prompt
    assert "- Everest: 8848 m" in prompt and "- Kilimanjaro: 5895 m" in prompt
    assert "nostream" in model.seen_tags[0]  # its tokens are not the chat's answer


async def test_context_values_need_not_be_strings() -> None:
    model = ScriptedModel(script=["```text\n2 * 21\n```", "```text\n42 / 2\n```"])
    math = build_math_tool(model)
    assert await math.ainvoke({"problem": "double it", "context": [21]}) == 42
    assert await math.ainvoke({"problem": "halve it", "context": "42"}) == 21
    assert "- 21" in model.prompts[0][-1].text and "- 42" in model.prompts[1][-1].text


async def test_no_context_means_no_context_section() -> None:
    model = ScriptedModel(script=["Expression: 2 + 2"])
    assert await build_math_tool(model).ainvoke({"problem": "two plus two"}) == 4
    assert "Context" not in model.prompts[0][-1].text


async def test_bad_expression_is_a_tool_error() -> None:
    model = ScriptedModel(script=["Expression: height_of_everest / 2"])
    with pytest.raises(ToolException, match="unknown name 'height_of_everest'"):
        await build_math_tool(model).ainvoke({"problem": "half of Everest"})


async def test_transient_model_errors_are_retried() -> None:
    model = ScriptedModel(script=[ConnectionError("reset"), "Expression: 6 * 7"])
    assert await build_math_tool(model).ainvoke({"problem": "six times seven"}) == 42
    assert len(model.prompts) == 2


async def test_without_a_model_outside_a_graph_is_a_clear_error() -> None:
    with pytest.raises(ModelNotConfiguredError, match="build_math_tool"):
        await build_math_tool().ainvoke({"problem": "1 + 1"})


async def test_inside_a_graph_uses_the_runs_planner_model(monkeypatch: pytest.MonkeyPatch) -> None:
    model = ScriptedModel(script=["Expression: 40 + 2"])
    loaded: list[tuple[str, str | None, float | None, float]] = []

    def fake_load(
        spec: str,
        *,
        base_url: str | None,
        temperature: float | None,
        max_tokens: int | None,
        timeout: float,
    ) -> BaseChatModel:
        loaded.append((spec, base_url, temperature, timeout))
        return model

    monkeypatch.setattr(tools.math, "load_chat_model", fake_load)
    math = build_math_tool()

    class State(TypedDict):
        result: float

    async def solve(state: State) -> State:
        return {"result": await math.ainvoke({"problem": "forty plus two"})}

    graph = StateGraph(State, context_schema=Context)
    graph.add_node("solve", solve)
    graph.add_edge(START, "solve")
    graph.add_edge("solve", END)
    context = Context(
        planner_model="test:planner",
        base_url="http://127.0.0.1:9",
        temperature=0.3,
        model_timeout_s=7.5,
    )
    out = await graph.compile().ainvoke({"result": 0}, context=context)

    assert out["result"] == 42
    assert loaded == [("test:planner", "http://127.0.0.1:9", 0.3, 7.5)]


def test_tool_schema() -> None:
    math = build_math_tool(ScriptedModel(script=[]))
    assert math.name == "math"
    assert math.metadata == {"pure": True, "cache_ttl_s": 3600}
    assert math.handle_tool_error is False
    assert list(math.args) == ["problem", "context"]
