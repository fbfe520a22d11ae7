"""The paper's `math` tool: an LLM writes one arithmetic expression, `evaluate` computes it.

The model only translates words into an expression; the arithmetic itself is exact and never
left to the model. Without a model given, the tool uses the running graph's planner model
(LangGraph runtime context), so one configuration serves planner and tool alike.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langgraph.runtime import get_runtime
from pydantic import BaseModel, BeforeValidator, Field

from agent import Context, ModelNotConfiguredError
from agent.models import ainvoke_with_retry, load_chat_model
from tools.arithmetic import EvaluationError, evaluate

RETRIES = 2

SYSTEM_PROMPT = """\
Translate the math problem into ONE arithmetic expression; do not compute it.
Use numbers, + - * / // % ** parentheses, pi, e, and min max abs round sqrt log log10 exp \
floor ceil. Take the numbers you need from the context. No variables, units or words.
Reply with only the expression in a ```text fenced block."""

_FENCED = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)
_EXPRESSION_LINE = re.compile(r"^\s*expression\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def _as_texts(value: Any) -> Any:
    """Accept one string or non-string results (a `$N` that resolved to a number) as text."""
    if value is None:
        return None
    items = value if isinstance(value, list | tuple) else [value]
    return [item if isinstance(item, str) else str(item) for item in items]


class MathArgs(BaseModel):
    problem: str = Field(description="The question, in words, e.g. 'ratio of $1 to $2'.")
    context: Annotated[list[str] | None, BeforeValidator(_as_texts)] = Field(
        default=None, description="Earlier results the problem needs, e.g. ['$1', '$2']."
    )


def extract_expression(reply: str) -> str:
    """The last fenced block, else the last `Expression:` line, else the whole reply."""
    found = _FENCED.findall(reply) or _EXPRESSION_LINE.findall(reply) or [reply]
    expression = found[-1].strip().strip("`").strip()
    return expression.split("=", 1)[0].strip()  # "8848 / 5895 = 1.5" keeps the left side


def _prompt(problem: str, context: list[str] | None) -> list[SystemMessage | HumanMessage]:
    text = f"Problem: {problem}"
    if context:
        text += "\nContext:\n" + "\n".join(f"- {item}" for item in context)
    return [SystemMessage(SYSTEM_PROMPT), HumanMessage(text)]


def _model_from_runtime() -> BaseChatModel:
    """The running graph's planner model; outside a graph there is none to fall back on."""
    try:
        context = get_runtime(Context).context
    except (RuntimeError, KeyError, AttributeError):  # not inside a LangGraph run
        context = None
    if context is None:
        raise ModelNotConfiguredError(
            "the math tool has no chat model: pass one to build_math_tool(model) "
            "or call the tool inside an LLMCompiler graph run"
        )
    return load_chat_model(
        context.planner_model,
        base_url=context.base_url,
        temperature=context.temperature,
        max_tokens=context.max_output_tokens,
        timeout=context.model_timeout_s,
    )


def build_math_tool(model: BaseChatModel | None = None) -> BaseTool:
    """The `math` tool, with `model` or else the graph's planner model at call time."""

    async def _math(problem: str, context: list[str] | None = None) -> int | float:
        llm = model or _model_from_runtime()
        reply = await ainvoke_with_retry(
            llm, _prompt(problem, context), retries=RETRIES, config={"tags": ["nostream"]}
        )
        expression = extract_expression(reply.text)
        try:
            return evaluate(expression)
        except EvaluationError as exc:
            raise ToolException(f"the model's expression failed: {exc}") from exc

    return StructuredTool.from_function(
        coroutine=_math,
        name="math",
        description=(
            "Solve a math word problem exactly: an LLM turns `problem` (plus `context`, "
            "earlier results it refers to) into one arithmetic expression, which is then "
            "computed. Returns a number."
        ),
        args_schema=MathArgs,
        metadata={"pure": True, "cache_ttl_s": 3600},
        handle_tool_error=False,
    )
