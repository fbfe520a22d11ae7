"""Where a tool call runs: a thread of its own, a worker process, or a Ray task.

A tool declares its placement in its metadata (`metadata={"placement": "process"}`); tools
that declare none take `Context.default_placement` (`"thread"`), and async tools stay on the
event loop unless they declare a placement themselves. See docs/placement.md.

- `"thread"`: in this process. Each sync call runs in a new thread of its own
  (`in_own_thread`); an async tool runs on the event loop.
- `"process"`: a worker process of the engine's pool (spawned, reused across calls and runs,
  at most `LLMCOMPILER_PROCESS_WORKERS` of them, default the CPU count). For CPU-bound sync
  tools: the GIL no longer serializes them. A worker is claimed for a call, started if need
  be, before the call's timeout starts (`prepare`): the timeout measures the call, not the
  pool warming up.
- `"ray"`: a Ray task, on the Ray cluster of `RAY_ADDRESS`, on the connection the program
  opened itself, or on a local Ray the engine starts. Tool metadata `num_cpus`, `num_gpus` and
  `ray_options` (any other `.options(...)` of a Ray task) ask for resources.

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

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import functools
import importlib
import inspect
import io
import math
import multiprocessing.connection
import os
import pickle
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.tools.base import _get_runnable_config_param
from pydantic import ConfigDict, SkipValidation

from agent.errors import PlacementError, WorkerCrashed

Placement = Literal["thread", "process", "ray"]
PLACEMENTS: tuple[str, ...] = ("thread", "process", "ray")
RAY_INSTALL_HINT = "pip install 'llmcompiler-langgraph[ray]'"


# --- settings from the environment --------------------------------------------------------


def _env_number(
    name: str, default: float, allowed: str, *, whole: bool = False, zero: bool = False
) -> float:
    """The number in environment variable `name` (unset or blank: `default`). A value that is
    not a positive (or, with `zero`, non-negative) finite number, or not a whole one with
    `whole`, is a `PlacementError` naming the variable, its value and what is allowed: the
    task's error, not a bare `ValueError` from deep inside."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(int(raw)) if whole else float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and (value > 0 or (zero and value == 0))):
        raise PlacementError(f"{name}={raw!r} is not allowed: {allowed}")
    return value


def _env_seconds(name: str, default: float) -> float:
    return _env_number(name, default, f"use a number of seconds above 0 (unset: {default:g})")


# --- placement of a tool ------------------------------------------------------------------


def placement_of(tool: BaseTool, default: str, *, is_async: bool = False) -> str:
    """The tool's declared placement; else the default (async tools: on the event loop,
    which is `"thread"`). An unknown name is a `PlacementError` (the task's error)."""
    declared = (tool.metadata or {}).get("placement")
    where = declared if declared is not None else ("thread" if is_async else default)
    if where not in PLACEMENTS:
        source = f"tool {tool.name!r} metadata" if declared is not None else "default_placement"
        raise PlacementError(
            f"unknown placement {where!r} ({source}); use one of {', '.join(PLACEMENTS)}"
        )
    return str(where)


# --- the idempotency key inside a call ----------------------------------------------------

_idempotency_key: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "llmcompiler_idempotency_key", default=None
)


def current_idempotency_key() -> str | None:
    """The idempotency key of the tool call running now (thread, event loop, worker process or
    Ray task); `None` outside a tool call. The same value as the config's
    `metadata["idempotency_key"]`."""
    return _idempotency_key.get()


@contextlib.contextmanager
def idempotency_key_bound(key: str | None) -> Iterator[None]:
    """Make `key` the current idempotency key for the code run inside (and the threads and
    tasks that copy this context)."""
    token = _idempotency_key.set(key)
    try:
        yield
    finally:
        _idempotency_key.reset(token)


# --- a thread of its own ------------------------------------------------------------------


async def in_own_thread(call: Callable[[], Any]) -> Any:
    """Run `call` in a new daemon thread; a late result after cancellation is discarded."""
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[Any] = loop.create_future()

    def deliver(settle: Callable[[Any], None], value: Any) -> None:
        if not outcome.done():
            settle(value)

    def target() -> None:
        try:
            result = call()
        except BaseException as exc:
            settle, value = outcome.set_exception, exc
        else:
            settle, value = outcome.set_result, result
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(deliver, settle, value)

    threading.Thread(target=target, name="llmcompiler-tool", daemon=True).start()
    return await outcome


# --- one call, as shipped to a worker ----------------------------------------------------


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
        config_param=_get_runnable_config_param(target),
        none_params=none_params,
        is_async=is_async,
    )


# --- the worker side (a pool process or a Ray worker) --------------------------------------


class RemoteToolError(Exception):
    """Stands in for a tool's exception that could not be pickled back; its class carries the
    original exception's name, so the task's error reads the same."""


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
            from agent.results import to_stored

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


def _unpack(data: bytes) -> Any:
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


def _process_dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def _does_not_pickle(call: RemoteCall, where: str, exc: Exception) -> PlacementError:
    return PlacementError(
        f"cannot run {call.tool!r} {where}: the call does not pickle "
        f"({type(exc).__name__}: {exc}); use a module-level function and picklable "
        "arguments, or placement 'thread'"
    )


# --- the process pool ----------------------------------------------------------------------


_WORKER_COMMAND = "from agent.placement import _worker_main; _worker_main()"
_READY = b"ready"
PROCESS_START_TIMEOUT_S = 60.0
"""How long a worker may take to start (`LLMCOMPILER_PROCESS_START_TIMEOUT_S` overrides it):
a cold interpreter and the engine's imports take about a second of CPU, several when many
workers start at once on a loaded machine."""


def _exit_with(parent: int) -> None:
    """End this worker as soon as `parent`, the program that started it, is gone.

    It watches the process itself (a pidfd; where there is none, its parent pid), not a pipe:
    a child the program forks would inherit the program's end of a pipe and keep the worker
    running its call after the program died, and a resume would then run the call again."""
    with contextlib.suppress(AttributeError, OSError):  # no pidfd (not Linux): poll below
        handle = os.pidfd_open(parent)
        if os.getppid() == parent:  # the program, not a process that reused its pid
            select.select([handle], [], [])
    while os.getppid() == parent:
        time.sleep(0.1)
    os._exit(1)


def _worker_main() -> None:
    """A pool worker (`python -c _WORKER_COMMAND CALL_FD PARENT_PID`): take the parent's
    `sys.path`, say it is ready, then run calls one at a time until the parent closes the pipe
    or dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    conn = multiprocessing.connection.Connection(int(sys.argv[1]))
    parent = int(sys.argv[2])
    threading.Thread(
        target=_exit_with, args=(parent,), name="llmcompiler-lifeline", daemon=True
    ).start()
    try:
        sys.path[:] = pickle.loads(conn.recv_bytes())
        conn.send_bytes(_READY)
        while True:
            payload = conn.recv_bytes()
            conn.send_bytes(execute(payload, _process_dumps))
    except (EOFError, OSError):
        return


@dataclass(eq=False)
class _Worker:
    """One worker process, started as `python -c`: unlike multiprocessing's spawn, it never
    re-imports the program's `__main__` module (a script without a main guard would run
    again in every worker)."""

    process: subprocess.Popen[bytes]
    conn: multiprocessing.connection.Connection

    @classmethod
    def start(cls, timeout: float) -> _Worker:
        """A worker ready for calls (its interpreter and imports started) within `timeout`
        seconds; else it is killed and this is a `PlacementError`."""
        ours, theirs = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_COMMAND, str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        worker = cls(process, multiprocessing.connection.Connection(ours.detach()))
        try:
            worker.conn.send_bytes(pickle.dumps(list(sys.path)))
            started = worker.conn.poll(timeout)
            if started and worker.conn.recv_bytes() == _READY:
                return worker
        except (EOFError, OSError):
            started = True  # the pipe closed: the worker exited
        if not started:
            worker.kill()
            worker.close()
            raise PlacementError(
                f"a worker process (pid {worker.pid}) did not start within {timeout:g}s "
                "(LLMCOMPILER_PROCESS_START_TIMEOUT_S); the machine may be overloaded: raise "
                "the limit or lower LLMCOMPILER_PROCESS_WORKERS"
            )
        raise PlacementError(
            f"a worker process (pid {worker.pid}) exited while starting (exit code "
            f"{worker.close()}); its error, if any, is on the program's stderr"
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()

    def close(self, timeout: float = 1.0) -> int | None:
        """Close the pipe, reap the process (killing it if it lingers); its exit code.
        Safe to call twice (a shutdown and the thread serving the worker's call)."""
        with contextlib.suppress(Exception):
            self.conn.close()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.wait()


@dataclass(eq=False)
class _Ticket:
    """One call's claim on the pool, shared by the awaiting task and the thread serving it."""

    worker: _Worker | None = None
    cancelled: bool = False
    done: bool = False


class _Abandoned(Exception):
    """The call was cancelled; nobody awaits this outcome."""


def _default_workers() -> int:
    cpus = os.cpu_count() or 1
    allowed = f"use a whole number of worker processes, 1 or more (unset: the CPU count, {cpus})"
    return int(_env_number("LLMCOMPILER_PROCESS_WORKERS", cpus, allowed, whole=True))


@dataclass(eq=False)
class ProcessPool:
    """Worker processes for `placement="process"`, one call at a time each.

    Workers are spawned on demand, up to `max_workers`, and kept for later calls and runs;
    a call beyond that waits for a free worker. A call claims its worker (`reserve`) before its
    timeout starts, so that neither that wait nor a worker's start-up (bounded on its own) is
    counted as the call's time. A call that is cancelled (a timeout) kills its worker, whose
    late result is thus never seen; the next call that needs a worker spawns a fresh one. A
    worker that dies fails only the call it was running.
    """

    max_workers: int = field(default_factory=_default_workers)
    _idle: list[_Worker] = field(default_factory=list)
    _busy: set[_Worker] = field(default_factory=set)
    _starting: int = 0
    _closed: bool = False
    _cond: threading.Condition = field(default_factory=threading.Condition)

    @property
    def pids(self) -> set[int]:
        """Processes of the live workers, idle and busy."""
        with self._cond:
            return {w.pid for w in [*self._idle, *self._busy]}

    async def reserve(self) -> _Ticket:
        """A worker ready for one call, claimed for it: a free one, else one started for it
        (waiting, if all `max_workers` are busy, for one to be free)."""
        ticket = _Ticket()
        try:
            await in_own_thread(functools.partial(self._acquire, ticket))
        except BaseException:
            self.release(ticket)
            raise
        return ticket

    def release(self, ticket: _Ticket) -> None:
        """Give back the worker of a claim that no call used (its arguments were refused, or
        it was cancelled while waiting); no-op for a claim a call used."""
        with self._cond:
            if ticket.done or ticket.cancelled:
                return
            ticket.cancelled = True  # a worker still starting for it goes to the idle ones
            worker, ticket.worker = ticket.worker, None
            if worker is not None and worker in self._busy:
                self._busy.discard(worker)
                self._idle.append(worker)
            self._cond.notify_all()

    async def run(self, call: RemoteCall, ticket: _Ticket | None = None) -> Any:
        """Run `call` on the worker `ticket` claimed (`reserve`), or on one claimed now."""
        try:
            payload = _process_dumps(call)
        except Exception as exc:
            raise _does_not_pickle(call, "in a worker process", exc) from exc
        ticket = _Ticket() if ticket is None else ticket
        try:
            data = await in_own_thread(functools.partial(self._serve, payload, ticket, call.tool))
        finally:
            if not ticket.done:  # cancelled (a timeout): stop the work, discard its result
                self._cancel(ticket)
        return _unpack(data)

    def _serve(self, payload: bytes, ticket: _Ticket, tool: str) -> bytes:
        """In a thread of the call's own: send the call to its worker, wait for the outcome."""
        worker = ticket.worker if ticket.worker is not None else self._acquire(ticket)
        try:
            worker.conn.send_bytes(payload)
            data = worker.conn.recv_bytes()
        except (EOFError, OSError) as exc:
            with self._cond:
                self._busy.discard(worker)
                self._cond.notify()
            code = worker.close()
            if ticket.cancelled:
                raise _Abandoned from exc
            how = f"exit code {code}" if code is not None else "no exit code"
            raise WorkerCrashed(
                f"the worker process running {tool!r} (pid {worker.pid}) died before "
                f"returning ({how}); the call's effects, if any, are unknown"
            ) from exc
        with self._cond:
            ticket.done = True
            ticket.worker = None
            self._busy.discard(worker)
            keep = not (ticket.cancelled or self._closed)
            if keep:
                self._idle.append(worker)
            self._cond.notify()
        if not keep:  # cancelled just as it finished (the worker was killed), or shut down
            worker.close()
        return data

    def _acquire(self, ticket: _Ticket) -> _Worker:
        with self._cond:
            while True:
                if ticket.cancelled:
                    raise _Abandoned
                if self._closed:
                    raise PlacementError("the engine's process pool was shut down")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        self._busy.add(worker)
                        ticket.worker = worker
                        return worker
                    worker.close(0)
                if len(self._busy) + self._starting < self.max_workers:
                    self._starting += 1
                    break
                self._cond.wait()
        try:
            worker = _Worker.start(
                _env_seconds("LLMCOMPILER_PROCESS_START_TIMEOUT_S", PROCESS_START_TIMEOUT_S)
            )
        finally:
            with self._cond:
                self._starting -= 1
                self._cond.notify()  # a failed start frees its place for a waiting call
        with self._cond:
            closed = self._closed
            if not (closed or ticket.cancelled):
                self._busy.add(worker)
                ticket.worker = worker
                return worker
            if not closed:  # cancelled meanwhile: the fresh worker waits for the next call
                self._idle.append(worker)
                self._cond.notify()
        if closed:
            worker.close(0)
            raise PlacementError("the engine's process pool was shut down")
        raise _Abandoned

    def _cancel(self, ticket: _Ticket) -> None:
        with self._cond:
            ticket.cancelled = True
            worker = ticket.worker
            if worker is not None and not ticket.done:
                self._busy.discard(worker)
                worker.kill()  # the serving thread sees the pipe close, reaps it and ends
            self._cond.notify_all()

    def shutdown(self) -> None:
        """Stop every worker (busy ones are killed)."""
        with self._cond:
            self._closed = True
            workers, busy = [*self._idle, *self._busy], list(self._busy)
            self._idle.clear()
            self._busy.clear()
            self._cond.notify_all()
        for worker in busy:
            worker.kill()
        for worker in workers:
            worker.close()  # an idle worker exits when its pipe closes


# --- Ray -----------------------------------------------------------------------------------

RAY_CONNECT_TIMEOUT_S = 60.0
"""How long connecting to Ray, or starting a local Ray, may take
(`LLMCOMPILER_RAY_CONNECT_TIMEOUT_S` overrides it). Left alone, `ray.init` retries an address
that does not answer for many minutes."""
RAY_RETRY_S = 10.0
"""How long a failed connection is remembered, Ray-placed calls failing at once meanwhile
(`LLMCOMPILER_RAY_RETRY_S` overrides it; 0: every call tries again)."""
RAY_PROBE_TIMEOUT_S = 5.0
"""The TCP probe of the cluster's address before `ray.init`: a live cluster accepts at once."""


def _ray_module() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise PlacementError(
            f"a tool is placed on Ray but ray is not installed: {RAY_INSTALL_HINT}"
        ) from exc
    return ray


def _ray_execute(payload: bytes) -> bytes:
    """The Ray task: `execute`, answering with cloudpickle (a Ray worker has it)."""
    from ray import cloudpickle

    return execute(payload, cloudpickle.dumps)


def _ray_options(tool: BaseTool) -> dict[str, Any]:
    metadata = tool.metadata or {}
    options: dict[str, Any] = {
        "num_cpus": metadata.get("num_cpus", 1),
        "num_gpus": metadata.get("num_gpus", 0),
        "name": f"llmcompiler:{tool.name}",
    }
    options.update(metadata.get("ray_options") or {})
    return options


def _ray_target(address: str | None) -> str:
    return f"the Ray cluster at RAY_ADDRESS={address!r}" if address else "a local Ray"


def _probe_ray(address: str, timeout: float) -> None:
    """A `PlacementError` at once if nothing accepts a TCP connection at `address`, where
    `ray.init` would retry for many minutes. Addresses without a port (`auto`) are left to
    `ray.init`, under the connection's time limit all the same."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not (sep and host and port.isdigit()):
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise PlacementError(
            f"cannot reach {_ray_target(address)} ({type(exc).__name__}: {exc}); start the "
            "cluster, correct RAY_ADDRESS, or unset it for a local Ray"
        ) from exc


_RESOURCE_OPTIONS = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}


def _requested(options: Mapping[str, Any]) -> dict[str, float]:
    """What a Ray task with these `.options()` asks for, named as Ray names node resources."""
    wanted = {name: options.get(option) for option, name in _RESOURCE_OPTIONS.items()}
    wanted.update(options.get("resources") or {})
    return {name: float(amount) for name, amount in wanted.items() if amount}


def _amounts(resources: Mapping[str, float]) -> str:
    return ", ".join(f"{amount:g} {name}" for name, amount in resources.items())


def _unmet(tool: str, wanted: Mapping[str, float], nodes: list[Mapping[str, float]]) -> str | None:
    """Why no node of the cluster can run a task asking for `wanted`; None if one can."""
    if any(all(node.get(name, 0) >= amount for name, amount in wanted.items()) for node in nodes):
        return None
    most = {name: max((node.get(name, 0.0) for node in nodes), default=0.0) for name in wanted}
    return (
        f"cannot run {tool!r} on Ray: it asks for {_amounts(wanted)}, which no node of the "
        f"cluster has (the most one node has: {_amounts(most)}); ask for less in the tool's "
        "metadata (num_cpus, num_gpus, ray_options), or, on an autoscaling cluster that adds "
        "such nodes on demand, set LLMCOMPILER_RAY_CHECK_RESOURCES=0"
    )


def _checks_resources() -> bool:
    raw = os.environ.get("LLMCOMPILER_RAY_CHECK_RESOURCES", "").strip()
    if raw not in ("", "0", "1"):
        raise PlacementError(
            f"LLMCOMPILER_RAY_CHECK_RESOURCES={raw!r} is not allowed: use 1 (check each "
            "request against the cluster's nodes; unset: 1) or 0 (submit it regardless)"
        )
    return raw != "0"


@dataclass(eq=False)
class RayBackend:
    """Ray tasks for `placement="ray"`, on the program's own Ray connection if it opened one
    (never shut down by the engine), else on one the engine opens: to `RAY_ADDRESS` if set,
    else a local Ray it starts. The engine's own connection lives until the program exits.

    The engine calls `ray.init` from a thread of its own that lives as long as the program:
    a local Ray's processes die with the thread that started them. Connecting is bounded:
    the address is probed first (nothing listening fails at once), and callers stop waiting
    for `ray.init` after `LLMCOMPILER_RAY_CONNECT_TIMEOUT_S`. One attempt at a time, shared
    by the calls that wait for it; its failure is remembered, and Ray-placed calls fail at
    once with it for `LLMCOMPILER_RAY_RETRY_S` (and while a `ray.init` that did not answer
    still runs); then the next call tries again.
    """

    owned: bool = False
    _remote: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] | None = None
    _attempt: Future[Any] | None = None
    _deadline: float = 0.0
    _failure: str | None = None
    _failed_at: float = 0.0
    _hung: str = ""
    _feasible: set[tuple[tuple[str, float], ...]] = field(default_factory=set)

    def _connect(self, address: str | None, timeout: float) -> None:
        """Blocking, on the engine's Ray thread: connect, or start a local Ray."""
        ray = _ray_module()
        if not ray.is_initialized():
            if address:
                _probe_ray(address, min(timeout, RAY_PROBE_TIMEOUT_S))
            try:
                if address:
                    ray.init(address=address)
                else:
                    ray.init(include_dashboard=False)
            except Exception as exc:
                raise PlacementError(
                    f"ray.init failed for {_ray_target(address)} ({type(exc).__name__}: {exc})"
                ) from exc
            self.owned = True
        if self._remote is None:
            self._remote = ray.remote(max_retries=0)(_ray_execute)

    def _on_ray_thread(self, job: Callable[[], Any], future: Future[Any]) -> None:
        """Run `job` on the engine's Ray thread, settling `future`. Called under `_lock`."""
        if self._jobs is None:
            jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()

            def serve() -> None:
                while True:
                    task, settled = jobs.get()
                    if settled.set_running_or_notify_cancel():
                        try:
                            settled.set_result(task())
                        except BaseException as exc:
                            settled.set_exception(exc)

            threading.Thread(target=serve, name="llmcompiler-ray", daemon=True).start()
            self._jobs = jobs
        self._jobs.put((job, future))

    def _attempt_to_await(self) -> tuple[Future[Any], float]:
        """The connection attempt to wait for and its deadline (started if none runs); the
        remembered failure instead, while it holds."""
        address = os.environ.get("RAY_ADDRESS") or None
        with self._lock:
            if self._failure is not None:
                retry = _env_number(
                    "LLMCOMPILER_RAY_RETRY_S",
                    RAY_RETRY_S,
                    f"use a number of seconds, 0 or more (unset: {RAY_RETRY_S:g})",
                    zero=True,
                )
                if self._attempt is not None or time.monotonic() < self._failed_at + retry:
                    raise PlacementError(self._failure)
                self._failure = None
            if self._attempt is None:
                timeout = _env_seconds("LLMCOMPILER_RAY_CONNECT_TIMEOUT_S", RAY_CONNECT_TIMEOUT_S)
                attempt: Future[Any] = Future()
                attempt.add_done_callback(self._settled)
                self._attempt, self._deadline = attempt, time.monotonic() + timeout
                self._hung = (
                    f"{_ray_target(address)} did not answer within {timeout:g}s "
                    "(LLMCOMPILER_RAY_CONNECT_TIMEOUT_S); ray.init goes on trying in the "
                    "background, and Ray-placed calls fail at once until it connects"
                )
                self._on_ray_thread(functools.partial(self._connect, address, timeout), attempt)
            return self._attempt, self._deadline

    def _settled(self, attempt: Future[Any]) -> None:
        """When a connection attempt ends (perhaps after its callers stopped waiting)."""
        error = attempt.exception()
        with self._lock:
            self._attempt = None
            if error is None:
                self._failure = None
            else:
                self._failure = (
                    f"{error}; Ray-placed calls fail at once with this error for the next "
                    f"LLMCOMPILER_RAY_RETRY_S seconds (default {RAY_RETRY_S:g}), then one "
                    "tries again"
                )
                self._failed_at = time.monotonic()

    async def ready(self) -> Any:
        """Ray, connected (the first call connects, or starts a local Ray); else the
        connection's `PlacementError`, naming the address."""
        ray = _ray_module()
        if self._remote is not None and ray.is_initialized():
            return ray
        attempt, deadline = self._attempt_to_await()
        remaining = max(0.0, deadline - time.monotonic())
        await in_own_thread(functools.partial(concurrent.futures.wait, [attempt], remaining))
        with self._lock:
            if self._attempt is attempt and self._failure is None:  # still waiting for Ray
                self._failure, self._failed_at = self._hung, time.monotonic()
            failure = self._failure
        if failure is not None:
            raise PlacementError(failure)
        return ray

    def _check_request(self, ray: Any, tool: str, options: Mapping[str, Any]) -> None:
        """A `PlacementError` for a request that no node of the cluster can meet, which Ray
        would keep waiting until the call timed out. A request found feasible is not checked
        again."""
        if not _checks_resources():
            return
        wanted = _requested(options)
        key = tuple(sorted(wanted.items()))
        if not wanted or key in self._feasible:
            return
        nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
        unmet = _unmet(tool, wanted, nodes)
        if unmet is not None:
            raise PlacementError(unmet)
        self._feasible.add(key)

    async def run(self, call: RemoteCall, tool: BaseTool) -> Any:
        ray = await self.ready()
        from ray import cloudpickle

        options = _ray_options(tool)
        self._check_request(ray, call.tool, options)
        try:
            payload = cloudpickle.dumps(call)
        except Exception as exc:
            raise _does_not_pickle(call, "on Ray", exc) from exc
        ref = self._remote.options(**options).remote(payload)
        try:
            data = await ref
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
            raise
        except ray.exceptions.RayError as exc:
            summary = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise WorkerCrashed(
                f"the Ray task running {call.tool!r} failed before returning "
                f"({type(exc).__name__}: {summary}); the call's effects, if any, are unknown"
            ) from exc
        return _unpack(data)

    def shutdown(self) -> None:
        """Disconnect, only if the engine opened the connection."""
        if not self.owned:
            return
        self.owned = False
        self._remote = None
        if "ray" in sys.modules:
            with contextlib.suppress(Exception):
                sys.modules["ray"].shutdown()


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


# --- the tool as the scheduler calls it ----------------------------------------------------

_Claim = tuple[ProcessPool, _Ticket]
_claimed: contextvars.ContextVar[_Claim | None] = contextvars.ContextVar(
    "llmcompiler_claimed_worker", default=None
)
"""The worker `prepare` claimed for the call that `run_placed` runs next in this task."""


class _PlacedTool(BaseTool):
    """The tool as seen in this process: LangChain validates the arguments and fires the
    callbacks here, and the validated call is shipped to the worker."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: SkipValidation[BaseTool]
    where: str
    claim: SkipValidation[_Claim | None] = None

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("placed tools run asynchronously")

    async def _arun(
        self, *args: Any, config: RunnableConfig, run_manager: Any = None, **kwargs: Any
    ) -> Any:
        call = remote_call(self.inner, args, kwargs, config)
        if self.where == "process":
            pool, ticket = self.claim if self.claim is not None else (process_pool(), None)
            return await pool.run(call, ticket)
        return await ray_backend().run(call, self.inner)


def _placed(tool: BaseTool, where: str, claim: _Claim | None) -> _PlacedTool:
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
    )


async def prepare(where: str) -> None:
    """What a call needs before its timeout starts, so that the timeout measures the call:
    connecting to Ray (or starting a local Ray) for a Ray-placed call; for a process-placed
    one, a worker claimed for it, ready (waiting for a free one, or for one to start, each
    bounded on its own). The scheduler runs the call with `run_placed` next, in the same task,
    which takes the claim."""
    if where == "ray":
        await ray_backend().ready()
    elif where == "process":
        pool = process_pool()
        _claimed.set((pool, await pool.reserve()))


async def run_placed(
    tool: BaseTool, args: dict[str, Any], config: RunnableConfig, where: str
) -> Any:
    """Run one call of `tool` in a worker process (`"process"`) or as a Ray task (`"ray"`),
    on the worker `prepare` claimed for it if it did (else one is claimed now)."""
    claim = _claimed.get() if where == "process" else None
    _claimed.set(None)
    try:
        return await _placed(tool, where, claim).ainvoke(args, config)
    finally:
        if claim is not None:  # unused if the arguments were refused before the call
            pool, ticket = claim
            pool.release(ticket)
