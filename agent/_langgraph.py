"""Every private LangGraph (and langchain-core) API the engine relies on, each behind one function.

No public API does these jobs; docs/langgraph.md ("LangGraph internals we rely on") lists each
one with the versions tested. An accessor raises `InternalsChanged`, naming the installed
version, when what it reads is missing or has another shape: a silent fallback would hang a
round or mix up two runs. tests/unit/test_langgraph_internals.py runs each accessor inside real
graph runs, and `make test-oldest-langgraph` runs the engine's tests on the oldest LangGraph
that pyproject.toml allows, so an upgrade or downgrade that moves one fails the suite.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import Any

from langchain_core.tools import base as _tools_base
from langgraph.config import get_config
from langgraph.types import PregelExecutableTask

from agent._errors import InternalsChanged

_CALL_KEY = "__pregel_call"


def _changed(package: str, what: str) -> InternalsChanged:
    return InternalsChanged(
        f"{package} {version(package)} no longer provides {what}, which LLMCompiler relies on "
        "(docs/langgraph.md, 'LangGraph internals we rely on'); use a version within the "
        "range pyproject.toml declares"
    )


def pregel_loop() -> Any:
    """The Pregel loop running the current node (call it in a node's body, not in a `@task`).

    Reads `config["configurable"]["__pregel_call"]`, the hook LangGraph gives each node for
    calling `@task`s: a `functools.partial` whose `schedule_task` is a method of the
    invocation's own loop (`accept_push` or `aaccept_push`). No public API hands a node its
    invocation. A node declared with `timeout=` gets that hook wrapped in a closure instead:
    the engine's nodes declare none.
    """
    call = get_config().get("configurable", {}).get(_CALL_KEY)
    schedule = call.keywords.get("schedule_task") if isinstance(call, functools.partial) else None
    loop = getattr(schedule, "__self__", None)
    if not isinstance(getattr(loop, "tasks", None), Mapping) or not isinstance(
        getattr(loop, "channels", None), Mapping
    ):
        raise _changed("langgraph", f"configurable[{_CALL_KEY!r}] bound to the Pregel loop")
    return loop


def invocation_id() -> str:
    """Tells apart concurrent invocations of the graph, even two that resume the same
    checkpoint of the same thread; the same for every node of one step.

    The identity of the Pregel loop (`pregel_loop`). The public `execution_info.run_id` is set
    only when the caller passes a `run_id`, and two resumes share the checkpoint id.
    """
    return f"{id(pregel_loop()):x}"


def step_task_writes(node: str) -> list[tuple[str, Any]] | None:
    """The writes to the graph's channels that the current step's task of `node` holds, or
    None when it holds none (or the step has no task of `node`).

    Before that task returns in this run, these can only be writes a resume restored from the
    checkpoint: LangGraph hands a task that finished before the process died its saved writes
    and runs only tasks that hold none, while a task that fails or is interrupted holds only
    control markers (`__error__`, ...), which are not channels. Reads the loop's `tasks` and
    `channels`. No public API shows a node what the other tasks of its step did.
    """
    loop = pregel_loop()
    for task in loop.tasks.values():
        if not isinstance(task, PregelExecutableTask):
            raise _changed("langgraph", "Pregel loop tasks of type PregelExecutableTask")
        if task.name == node:
            writes = [(name, value) for name, value in task.writes if name in loop.channels]
            return writes or None
    return None


def runnable_config_param(func: Callable[..., Any]) -> str | None:
    """The parameter of `func` that langchain-core fills with the call's `RunnableConfig`
    (the one annotated `RunnableConfig`), or None.

    Calls langchain-core's `tools.base._get_runnable_config_param`, the rule a tool applies in
    this process, so that a worker process or Ray task fills the same parameter; it has no
    public counterpart.
    """
    finder = getattr(_tools_base, "_get_runnable_config_param", None)
    if finder is None:
        raise _changed("langchain-core", "langchain_core.tools.base._get_runnable_config_param")
    found: str | None = finder(func)
    return found
