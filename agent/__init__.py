"""LLMCompiler engine: planner, streaming scheduler and joiner as LangGraph nodes."""

from agent.context import Context
from agent.errors import (
    FieldAccessError,
    InvalidInputError,
    LLMCompilerError,
    ModelNotConfiguredError,
    PlacementError,
    PlanAborted,
    WorkerCrashed,
)
from agent.graph import create_llm_compiler
from agent.plan import PlanParser, Task, parse_plan
from agent.state import State, TaskRecord

__all__ = [
    "Context",
    "FieldAccessError",
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
    "create_llm_compiler",
    "parse_plan",
]
