"""The scripted OpenAI-compatible server in a child process of its own.

A load generator that measures latencies must not share its interpreter lock with the
server's streaming threads, which would inflate the figures: a child process keeps them
apart. The child (`python -m llmcompiler_scripted.server --respond ...`) imports its
`respond` function by dotted path, so this package needs nothing of its callers.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


@contextlib.contextmanager
def served_in_child(
    respond: str,
    *,
    kwargs: Mapping[str, Any] | None = None,
    profile: str = "instant",
    time_scale: float = 1.0,
) -> Iterator[str]:
    """Serve `respond` (a dotted path, `package.module.function`) from a child process at
    `PROFILES[profile]` speed scaled by `time_scale`; yields its base URL, stops it after.

    `kwargs` are bound to the function in the child, so they must be Python literals.
    """
    command = [
        *(sys.executable, "-m", "llmcompiler_scripted.server", "--port", "0"),
        *("--respond", respond, "--respond-kwargs", repr(dict(kwargs or {}))),
        *("--profile", profile, "--time-scale", repr(time_scale)),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT_S)
        line = process.stdout.readline().decode().strip() if ready else ""  # its base URL
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the model server did not start (exit {process.poll()})")
        yield line
    finally:
        stop_process_group(process)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """End a process started in a session of its own and everything it spawned, by its PID:
    SIGTERM to the group, SIGKILL if it is not gone in `STOP_TIMEOUT_S`."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
