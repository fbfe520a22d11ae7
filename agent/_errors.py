"""The engine's exceptions, in one place (all but `RemoteToolError` exported from `agent`).

Few of them ever reach a caller: a tool's failure, a bad plan line or a model that cannot be
reached becomes a recorded task error or plan note that the joiner sees. These are for the
cases a caller must handle itself.
"""

from __future__ import annotations


class LLMCompilerError(Exception):
    """Base class of the engine's own exceptions."""


class ModelNotConfiguredError(LLMCompilerError, RuntimeError):
    """No usable model: missing provider package, API key or base URL."""


class InvalidInputError(LLMCompilerError, ValueError):
    """A Context value or a question the run refuses before any model call; the message
    names the field, the value and what is allowed."""


class FieldAccessError(LLMCompilerError, ValueError):
    """A field path (`$1.name`, `$2[0]`) that does not exist in the referenced result."""


class PlanAborted(LLMCompilerError, RuntimeError):
    """The partner node (planner or scheduler) failed; this one fails too, so that LangGraph
    re-runs both on resume."""


class PlacementError(LLMCompilerError, RuntimeError):
    """A call could not be run where its tool is placed (unknown placement, Ray missing, a
    call that does not pickle, a tool the worker cannot load); recorded as that task's error."""


class WorkerCrashed(PlacementError):
    """The worker process or Ray worker running a call died before returning a result."""


class RemoteToolError(Exception):
    """Stands in for a tool's exception that could not be pickled back from a worker process
    or a Ray task; its class carries the original exception's name, so the task's error reads
    the same. Neither an `LLMCompilerError` nor exported: it is the tool's own exception, which
    reaches no caller, only the task's recorded error."""


class InternalsChanged(LLMCompilerError, RuntimeError):
    """A private LangGraph or langchain-core API the engine relies on is missing or changed
    (docs/langgraph.md, "LangGraph internals we rely on"): a version outside the tested range."""
