"""Where a tool call runs: a thread of its own, a worker process, or a Ray task.

A tool declares its placement in its metadata (`metadata={"placement": "process"}`); tools
that declare none take `Context.default_placement` (`"thread"`), and async tools stay on the
event loop unless they declare a placement themselves. See docs/placement.md.

- `"thread"`: in this process (`threads`). Each sync call runs in a new thread of its own;
  an async tool runs on the event loop.
- `"process"`: a worker process of the engine's pool (`processes`), for CPU-bound sync tools.
- `"ray"`: a Ray task (`ray_tasks`), on a cluster or on a local Ray the engine starts.

This module is the entry point: the scheduler resolves where a call runs and makes it ready
(`prepare`: Ray connected, a worker claimed, before the call's timeout starts), then runs it
(`PlacedCall.run`). It also holds the engine's backends, made on first use, stopped at exit.
The backend modules import nothing of each other; they share the wire format (`wire`), the
settings read from the environment (`settings`), the idempotency key (`idempotency`) and
threads for blocking waits (`own_thread`).

Wherever it runs, a call keeps the guarantees of a thread call: it stays inside the scheduler's
checkpointed `call_tool` task (a recorded call never re-runs after a resume), arguments are
validated in this process against the tool's schema (errors read the same), LangChain's tool
callbacks fire here, an exception comes back as the same exception, and a timeout or
cancellation stops the remote work: the worker process is killed (and replaced on demand),
the Ray task cancelled with `ray.cancel(force=True)`. A crashed worker, a call that does not
pickle, a Ray cluster that cannot be reached or cannot meet a call's request, a worker that
does not start and a bad setting in the environment each become the task's error with a clear
message.

The call's idempotency key reaches the remote function two ways: a parameter annotated
`config: RunnableConfig` receives a plain config whose `metadata["idempotency_key"]` holds it
(as in a thread), and `current_idempotency_key()` returns it inside the call, in any
placement.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import ConfigDict, Field, SkipValidation

from agent._errors import PlacementError
from agent._toolset import ToolTraits
from agent.placement import _threads as threads
from agent.placement._idempotency import current_idempotency_key, idempotency_key_bound
from agent.placement._processes import ProcessPool, Ticket
from agent.placement._ray_tasks import RayBackend
from agent.placement._wire import remote_call

__all__ = [
    "PLACEMENTS",
    "PlacedCall",
    "Placement",
    "current_idempotency_key",
    "placement_of",
    "prepare",
    "process_pool",
    "ray_backend",
    "shutdown",
]

Placement = Literal["thread", "process", "ray"]
PLACEMENTS: tuple[Placement, ...] = get_args(Placement)


# --- placement of a tool ------------------------------------------------------------------


def _is_async(tool: BaseTool) -> bool:
    if isinstance(tool, StructuredTool):
        return tool.coroutine is not None
    return type(tool)._arun is not BaseTool._arun


def placement_of(
    tool: str, traits: ToolTraits, default: str, *, is_async: bool = False
) -> Placement:
    """The placement `tool` declares (its traits); else the default (async tools: on the
    event loop, which is `"thread"`). An unknown name is a `PlacementError` (the task's
    error)."""
    declared = traits.placement
    where = declared if declared is not None else ("thread" if is_async else default)
    if where not in PLACEMENTS:
        source = f"tool {tool!r} metadata" if declared is not None else "default_placement"
        raise PlacementError(
            f"unknown placement {where!r} ({source}); use one of {', '.join(PLACEMENTS)}"
        )
    return cast(Placement, where)


# --- the engine's backends -----------------------------------------------------------------

_backends_lock = threading.Lock()
_pool: ProcessPool | None = None
_ray: RayBackend | None = None
_atexit_registered = False


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(shutdown)
        _atexit_registered = True


def process_pool() -> ProcessPool:
    """The engine's process pool, created on first use."""
    global _pool
    with _backends_lock:
        if _pool is None:
            _pool = ProcessPool()
            _register_atexit()
        return _pool


def ray_backend() -> RayBackend:
    """The engine's Ray backend, created on first use (it connects on its first call)."""
    global _ray
    with _backends_lock:
        if _ray is None:
            _ray = RayBackend()
            _register_atexit()
        return _ray


def shutdown() -> None:
    """Stop the process pool and close the Ray connection the engine opened (not one the
    program opened). Runs at exit; a later call starts them again."""
    global _pool, _ray
    with _backends_lock:
        pool, ray_, _pool, _ray = _pool, _ray, None, None
    if pool is not None:
        pool.shutdown()
    if ray_ is not None:
        ray_.shutdown()


def _forget_after_fork() -> None:
    """A forked child shares neither the workers nor the Ray connection (nor a lock that a
    thread of the parent held at the fork)."""
    global _pool, _ray, _backends_lock
    _pool, _ray, _backends_lock = None, None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


# --- a call, placed ------------------------------------------------------------------------

_Claim = tuple[ProcessPool, Ticket]


class _PlacedTool(BaseTool):
    """The tool as seen in this process: LangChain validates the arguments and fires the
    callbacks here, and the validated call is shipped to the worker."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: SkipValidation[BaseTool]
    where: Placement
    claim: SkipValidation[_Claim | None] = None
    ray_options: dict[str, Any] = Field(default_factory=dict)

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("placed tools run asynchronously")

    async def _arun(
        self, *args: Any, config: RunnableConfig, run_manager: Any = None, **kwargs: Any
    ) -> Any:
        call = remote_call(self.inner, args, kwargs, config)
        if self.where == "process":
            pool, ticket = self.claim if self.claim is not None else (process_pool(), None)
            return await pool.run(call, ticket)
        return await ray_backend().run(call, self.ray_options)


def _placed(
    tool: BaseTool, where: Placement, claim: _Claim | None, ray_options: Mapping[str, Any]
) -> _PlacedTool:
    return _PlacedTool(
        name=tool.name,
        description=tool.description,
        args_schema=tool.args_schema,
        return_direct=tool.return_direct,
        verbose=tool.verbose,
        callbacks=tool.callbacks,
        tags=tool.tags,
        metadata=tool.metadata,
        handle_tool_error=tool.handle_tool_error,
        handle_validation_error=tool.handle_validation_error,
        response_format=tool.response_format,
        inner=tool,
        where=where,
        claim=claim,
        ray_options=dict(ray_options),
    )


@dataclass(eq=False)
class PlacedCall:
    """One call of `tool`, its placement resolved (once per call) and made ready by
    `prepare`; `claim` is the worker claimed for a process-placed call until `run` takes it."""

    tool: BaseTool
    traits: ToolTraits
    where: Placement
    on_loop: bool
    """An async tool: on the event loop when placed on `"thread"`."""
    claim: _Claim | None = None

    async def run(self, args: dict[str, Any], config: RunnableConfig) -> Any:
        """Run the call where it is placed, its idempotency key current inside: in this
        process, in a worker process (on the worker `prepare` claimed, else one claimed now)
        or as a Ray task. The concurrency cap bounds the calls running at once wherever they
        run (a timed-out call gives its slot back)."""
        claim, self.claim = self.claim, None
        try:
            with idempotency_key_bound((config.get("metadata") or {}).get("idempotency_key")):
                if self.where == "thread":
                    return await threads.run(self.tool, args, config, on_loop=self.on_loop)
                placed = _placed(self.tool, self.where, claim, self.traits.ray_options)
                return await placed.ainvoke(args, config)
        finally:
            if claim is not None:  # unused if the arguments were refused before the call
                pool, ticket = claim
                pool.release(ticket)


async def prepare(tool: BaseTool, traits: ToolTraits, default: str) -> PlacedCall:
    """Where a call of `tool` runs (its `traits`, else `default`: `Context.default_placement`),
    and what it needs
    before its timeout starts, so that the timeout measures the call: connecting to Ray (or
    starting a local Ray) for a Ray-placed call; for a process-placed one, a worker claimed
    for it, ready (waiting for a free one, or for one to start, each bounded on its own).
    An unknown placement and a failure to get ready are `PlacementError`s."""
    on_loop = _is_async(tool)
    where = placement_of(tool.name, traits, default, is_async=on_loop)
    call = PlacedCall(tool, traits, where, on_loop)
    if call.where == "ray":
        await ray_backend().ready()
    elif call.where == "process":
        pool = process_pool()
        call.claim = (pool, await pool.reserve())
    return call
