"""`calculate`: the planner's arithmetic tool, a thin wrapper over the safe `evaluate`.

Failures raise (`handle_tool_error=False`) so the engine records them as the task's error and
the joiner can replan, instead of passing an error string on as if it were a number.
"""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, Field

from tools.arithmetic import EvaluationError, evaluate

__all__ = ["EvaluationError", "calculate", "evaluate"]


class CalculateArgs(BaseModel):
    expression: str = Field(
        description="Numbers, operators, parentheses and the listed functions only; no words."
    )


def _calculate(expression: str) -> int | float:
    try:
        return evaluate(expression)
    except EvaluationError as exc:
        raise ToolException(str(exc)) from exc


calculate: BaseTool = StructuredTool.from_function(
    func=_calculate,
    name="calculate",
    description=(
        "Evaluate one arithmetic expression, e.g. `(8849 - 8611) / 2` or `200 * 15%`: "
        "+ - * / // % ^ (power), parentheses, pi, e, min, max, abs, round, sqrt, "
        "log (natural, or log(x, base)), log10, exp, floor, ceil. "
        "Returns a number (an int when exact)."
    ),
    args_schema=CalculateArgs,
    metadata={"pure": True},
    handle_tool_error=False,
)
