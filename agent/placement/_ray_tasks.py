"""Placement `"ray"`: a Ray task, on the Ray cluster of `RAY_ADDRESS`, on the connection the
program opened itself, or on a local Ray the engine starts.

Tool metadata `num_cpus`, `num_gpus` and `ray_options` (any other `.options(...)` of a Ray
task) ask for resources; a request no node of the cluster can meet fails at once, where Ray
would keep it waiting until the call timed out. Connecting is bounded and its failure
remembered (`RayBackend`). A timeout or cancellation cancels the task
(`ray.cancel(force=True)`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from agent._errors import PlacementError, WorkerCrashed
from agent.placement._own_thread import in_own_thread
from agent.placement._settings import env_number, env_seconds
from agent.placement._wire import RemoteCall, does_not_pickle, execute, unpack

RAY_INSTALL_HINT = "pip install 'llmcompiler-langgraph[ray]'"
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
                retry = env_number(
                    "LLMCOMPILER_RAY_RETRY_S",
                    RAY_RETRY_S,
                    f"use a number of seconds, 0 or more (unset: {RAY_RETRY_S:g})",
                    zero=True,
                )
                if self._attempt is not None or time.monotonic() < self._failed_at + retry:
                    raise PlacementError(self._failure)
                self._failure = None
            if self._attempt is None:
                timeout = env_seconds("LLMCOMPILER_RAY_CONNECT_TIMEOUT_S", RAY_CONNECT_TIMEOUT_S)
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

    async def run(self, call: RemoteCall, options: Mapping[str, Any]) -> Any:
        """Run `call` as a Ray task with these `.options()` (the tool's traits)."""
        ray = await self.ready()
        from ray import cloudpickle

        self._check_request(ray, call.tool, options)
        try:
            payload = cloudpickle.dumps(call)
        except Exception as exc:
            raise does_not_pickle(call, "on Ray", exc) from exc
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
        return unpack(data)

    def shutdown(self) -> None:
        """Disconnect, only if the engine opened the connection."""
        if not self.owned:
            return
        self.owned = False
        self._remote = None
        if "ray" in sys.modules:
            with contextlib.suppress(Exception):
                sys.modules["ray"].shutdown()
