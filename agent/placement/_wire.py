"""One call as shipped to a worker process or a Ray task, and its outcome shipped back.

Shared by both remote backends. The call (`RemoteCall`) holds the tool's function and its
arguments, already validated in the program; the worker side (`execute`) runs it and always
answers with an outcome, never an exception of the tool's; `unpack` turns the outcome back
into the value or the tool's exception, raised here. `process_dumps` pickles for the
engine's own worker processes (Ray pickles with cloudpickle).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import io
import pickle
import sys
import traceback
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool

from agent._errors import PlacementError, RemoteToolError
from agent._langgraph import runnable_config_param
from agent.placement._idempotency import idempotency_key_bound

# --- the call, as shipped ------------------------------------------------------------------


@dataclass
class RemoteCall:
    """What a worker needs to run one call: the function and its validated arguments, the
    names of the parameters to inject, a plain (picklable) config and the idempotency key."""

    tool: str
    target: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    config: dict[str, Any]
    idempotency_key: str | None
    config_param: str | None = None
    none_params: tuple[str, ...] = ()
    """Callback parameters (`callbacks`, `run_manager`): callbacks do not cross processes."""
    is_async: bool = False


def _plain_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The picklable part of a RunnableConfig: run name, tags and scalar metadata."""
    metadata = {
        key: value
        for key, value in (config.get("metadata") or {}).items()
        if isinstance(value, str | int | float | bool) or value is None
    }
    plain: dict[str, Any] = {"metadata": metadata, "tags": list(config.get("tags") or [])}
    if config.get("run_name"):
        plain["run_name"] = config["run_name"]
    return plain


def _target_of(tool: BaseTool) -> tuple[Callable[..., Any], bool]:
    """The callable a worker runs: a StructuredTool's `func` (its `coroutine` when it has no
    `func`); another tool's `_run` (its `_arun` when it overrides it), which pickles the tool
    whole."""
    if isinstance(tool, StructuredTool):
        if tool.func is not None:
            return tool.func, False
        if tool.coroutine is not None:
            return tool.coroutine, True
        raise PlacementError(f"tool {tool.name!r} has neither a function nor a coroutine")
    if type(tool)._arun is not BaseTool._arun:
        return tool._arun, True
    return tool._run, False


def remote_call(
    tool: BaseTool, args: tuple[Any, ...], kwargs: dict[str, Any], config: Mapping[str, Any]
) -> RemoteCall:
    target, is_async = _target_of(tool)
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        parameters = {}  # type: ignore[assignment]
    none_params = tuple(name for name in ("callbacks", "run_manager") if name in parameters)
    plain = _plain_config(config)
    return RemoteCall(
        tool=tool.name,
        target=target,
        args=args,
        kwargs={k: v for k, v in kwargs.items() if k not in none_params},
        config=plain,
        idempotency_key=plain["metadata"].get("idempotency_key"),
        config_param=runnable_config_param(target),
        none_params=none_params,
        is_async=is_async,
    )


# --- the worker side (a pool process or a Ray worker) --------------------------------------


def _portable_exception(exc: BaseException, dumps: Callable[[Any], bytes]) -> bytes | None:
    """`exc` pickled, if it survives a round trip (many exceptions pickle but fail to load)."""
    try:
        data = dumps(exc)
        pickle.loads(data)
    except Exception:
        return None
    return data


def _dump_outcome(outcome: tuple[Any, ...], dumps: Callable[[Any], bytes]) -> bytes:
    kind = outcome[0]
    if kind == "ok":
        try:
            return dumps(outcome)
        except Exception:
            # What the task would record anyway: the result's stored (JSON) form.
            from agent._results import to_stored

            return dumps(("ok", to_stored(outcome[1])))
    return dumps(outcome)


def _error_outcome(exc: BaseException, dumps: Callable[[Any], bytes]) -> tuple[Any, ...]:
    remote_traceback = "".join(traceback.format_exception(exc))
    pickled = _portable_exception(exc, dumps)
    return ("error", pickled, type(exc).__name__, str(exc), remote_traceback)


def execute(payload: bytes, dumps: Callable[[Any], bytes] = pickle.dumps) -> bytes:
    """Run one pickled `RemoteCall`; the pickled outcome, never an exception of the tool's.

    The outcome is `("ok", value)`, or `("error", pickled exception or None, type name,
    message, traceback)`.
    """
    try:
        call = pickle.loads(payload)
        if not isinstance(call, RemoteCall):
            raise TypeError(f"expected a RemoteCall, got {type(call).__name__}")
    except BaseException as exc:
        error = PlacementError(
            f"cannot load the call in the worker ({type(exc).__name__}: {exc}); the tool's "
            "module must be importable there"
        )
        return _dump_outcome(_error_outcome(error, dumps), dumps)
    kwargs = dict(call.kwargs)
    if call.config_param:
        kwargs[call.config_param] = call.config
    for name in call.none_params:
        kwargs[name] = None
    try:
        with idempotency_key_bound(call.idempotency_key):
            result = call.target(*call.args, **kwargs)
            if call.is_async:
                result = asyncio.run(result)
    except BaseException as exc:
        return _dump_outcome(_error_outcome(exc, dumps), dumps)
    return _dump_outcome(("ok", result), dumps)


# --- the outcome, back in the program ------------------------------------------------------


def unpack(data: bytes) -> Any:
    """The call's value, or its exception raised here."""
    outcome = pickle.loads(data)
    if outcome[0] == "ok":
        return outcome[1]
    _, pickled, type_name, message, remote_traceback = outcome
    exc: BaseException | None = None
    if pickled is not None:
        with contextlib.suppress(Exception):
            exc = pickle.loads(pickled)
    if not isinstance(exc, BaseException):
        exc = type(type_name, (RemoteToolError,), {"__module__": __name__})(message)
    exc.add_note(f"Raised in the worker:\n{remote_traceback}")
    raise exc


def does_not_pickle(call: RemoteCall, where: str, exc: Exception) -> PlacementError:
    return PlacementError(
        f"cannot run {call.tool!r} {where}: the call does not pickle "
        f"({type(exc).__name__}: {exc}); use a module-level function and picklable "
        "arguments, or placement 'thread'"
    )


# --- pickling for worker processes ---------------------------------------------------------


def _tool_function(module: str, name: str, attribute: str) -> Any:
    """Worker side of `_Pickler`: the function of the module-level tool `module.name`."""
    return getattr(getattr(importlib.import_module(module), name), attribute)


class _Pickler(pickle.Pickler):
    """Pickles the function of a module-level `@tool` by reference to the tool.

    `@tool def f(...)` leaves the module's `f` a StructuredTool, so the plain function cannot
    be found by its own name (plain pickle's rule); it is found as `module.f.func` instead.
    """

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.FunctionType | type) and obj.__module__ == "__main__":
            raise pickle.PicklingError(
                f"{obj.__qualname__} is defined in the program's __main__ module, which worker "
                "processes do not import; define it in a module"
            )
        if isinstance(obj, types.FunctionType) and "<" not in obj.__qualname__:
            module = sys.modules.get(obj.__module__)
            holder = getattr(module, obj.__qualname__, None) if module else None
            if isinstance(holder, StructuredTool) and holder is not obj:
                for attribute in ("func", "coroutine"):
                    if getattr(holder, attribute) is obj:
                        return _tool_function, (obj.__module__, obj.__qualname__, attribute)
        return NotImplemented


def process_dumps(value: Any) -> bytes:
    """`value` pickled for the engine's worker processes (`_Pickler`)."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()
