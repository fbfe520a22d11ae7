"""Placement `"process"`: a worker process of the engine's pool, on this machine.

For CPU-bound sync tools: the GIL no longer serializes them. Workers are spawned on demand
(at most `LLMCOMPILER_PROCESS_WORKERS`, default the CPU count), reused across calls and runs,
one call at a time each. A worker is claimed for a call, started if need be, before the
call's timeout starts (`ProcessPool.reserve`): the timeout measures the call, not the pool
warming up. A timeout kills the worker of that call; a worker dies with the program that
started it (`_exit_with`), so a resumed run never finds an old call still running.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing.connection
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from agent._errors import PlacementError, WorkerCrashed
from agent.placement._own_thread import in_own_thread
from agent.placement._settings import env_number, env_seconds
from agent.placement._wire import RemoteCall, does_not_pickle, execute, process_dumps, unpack

_WORKER_COMMAND = "from agent.placement._processes import _worker_main; _worker_main()"
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
            conn.send_bytes(execute(payload, process_dumps))
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
class Ticket:
    """One call's claim on the pool, shared by the awaiting task and the thread serving it."""

    worker: _Worker | None = None
    cancelled: bool = False
    done: bool = False


class _Abandoned(Exception):
    """The call was cancelled; nobody awaits this outcome."""


def _default_workers() -> int:
    cpus = os.cpu_count() or 1
    allowed = f"use a whole number of worker processes, 1 or more (unset: the CPU count, {cpus})"
    return int(env_number("LLMCOMPILER_PROCESS_WORKERS", cpus, allowed, whole=True))


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

    async def reserve(self) -> Ticket:
        """A worker ready for one call, claimed for it: a free one, else one started for it
        (waiting, if all `max_workers` are busy, for one to be free)."""
        ticket = Ticket()
        try:
            await in_own_thread(functools.partial(self._acquire, ticket))
        except BaseException:
            self.release(ticket)
            raise
        return ticket

    def release(self, ticket: Ticket) -> None:
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

    async def run(self, call: RemoteCall, ticket: Ticket | None = None) -> Any:
        """Run `call` on the worker `ticket` claimed (`reserve`), or on one claimed now."""
        try:
            payload = process_dumps(call)
        except Exception as exc:
            raise does_not_pickle(call, "in a worker process", exc) from exc
        ticket = Ticket() if ticket is None else ticket
        try:
            data = await in_own_thread(functools.partial(self._serve, payload, ticket, call.tool))
        finally:
            if not ticket.done:  # cancelled (a timeout): stop the work, discard its result
                self._cancel(ticket)
        return unpack(data)

    def _serve(self, payload: bytes, ticket: Ticket, tool: str) -> bytes:
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

    def _acquire(self, ticket: Ticket) -> _Worker:
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
                env_seconds("LLMCOMPILER_PROCESS_START_TIMEOUT_S", PROCESS_START_TIMEOUT_S)
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

    def _cancel(self, ticket: Ticket) -> None:
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
