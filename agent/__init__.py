"""LLMCompiler engine: planner, streaming scheduler and joiner as LangGraph nodes.

The public surface is what this package exports, plus three modules: `agent.plan` (the plan
language's parser), `agent.models` (chat models from strings, with the engine's timeouts and
retries, for tools and graphs that call a model) and `agent.placement` (where tool calls run,
and the idempotency key inside a call). Every other module is private (its name starts with
`_`) and may change without notice; `tests/unit/test_layout.py` holds the line.
"""

from agent._causes import Cause, cause_of
from agent._context import Context, context_of
from agent._errors import (
    FieldAccessError,
    InternalsChanged,
    InvalidInputError,
    LLMCompilerError,
    ModelNotConfiguredError,
    PlacementError,
    PlanAborted,
    WorkerCrashed,
)
from agent._graph import create_llm_compiler
from agent._inputs import check_question
from agent._references import result_text
from agent._state import State, TaskRecord
from agent.placement import current_idempotency_key
from agent.plan import PlanParser, Task, parse_plan, read_plan

__all__ = [
    "Cause",
    "Context",
    "FieldAccessError",
    "InternalsChanged",
    "InvalidInputError",
    "LLMCompilerError",
    "ModelNotConfiguredError",
    "PlacementError",
    "PlanAborted",
    "PlanParser",
    "State",
    "Task",
    "TaskRecord",
    "WorkerCrashed",
    "cause_of",
    "check_question",
    "context_of",
    "create_llm_compiler",
    "current_idempotency_key",
    "parse_plan",
    "read_plan",
    "result_text",
]
