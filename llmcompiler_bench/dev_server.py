"""`langgraph dev` serving this repository's graphs on loopback, started and stopped by PID.

The load benchmark (`llmcompiler_bench.load`) and the tests that drive the real server
through `langgraph-sdk` start it here, each with its models on a scripted server: nothing a
server started here does leaves the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from llmcompiler_scripted.child import stop_process_group

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DevServer:
    url: str
    log: Path
    pid: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(models_url: str) -> dict[str, str]:
    """This environment without model, engine or LangSmith settings, with analytics and
    tracing off and the models at `models_url` (an OpenAI-compatible base URL)."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "LLMCOMPILER_", "LANGSMITH_", "LANGCHAIN_"))
    }
    return {
        **inherited,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGSMITH_TRACING": "false",
        "OPENAI_API_KEY": "dummy",
        "LLMCOMPILER_BASE_URL": models_url,
    }


@contextlib.contextmanager
def langgraph_dev(models_url: str, *, n_jobs: int = 10) -> Iterator[DevServer]:
    """`langgraph dev` serving this repository's graphs on a free loopback port, its models at
    `models_url`, running at most `n_jobs` runs at once.

    It runs in a scratch directory with a copy of `langgraph.json` whose paths are absolute, so
    its `.langgraph_api/` (threads, and the store holding the result cache) starts empty and
    is not shared with another server; the copy drops `env` so a developer's `.env` cannot
    point the models elsewhere. It runs in a process group of its own (it spawns children),
    stopped as a whole when the block ends.
    """
    config = json.loads((ROOT / "langgraph.json").read_text())
    config["dependencies"] = [str(ROOT / dep) for dep in config["dependencies"]]
    config["graphs"] = {name: str(ROOT / spec) for name, spec in config["graphs"].items()}
    config.pop("env", None)
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="llmcompiler-dev-") as scratch:
        work = Path(scratch)
        (work / "langgraph.json").write_text(json.dumps(config))
        log = work / "server.log"
        command = [
            str(Path(sys.executable).with_name("langgraph")),
            "dev",
            "--no-browser",
            "--no-reload",  # edits elsewhere must not restart the server mid-run
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n-jobs-per-worker",
            str(n_jobs),
            "--config",
            "langgraph.json",
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=work,
                env=_server_env(models_url),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, process, log)
            yield DevServer(url=url, log=log, pid=process.pid)
        finally:
            stop_process_group(process)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"langgraph dev exited early:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/ok", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"langgraph dev not ready in {STARTUP_TIMEOUT_S:.0f}s:\n{log.read_text()}")
