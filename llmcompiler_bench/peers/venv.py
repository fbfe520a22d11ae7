"""Each peer in a virtualenv of its own (`.peers/<name>/.venv`), made on first use.

Their dependencies conflict with ours (other LangChain / llama-index / OpenAI pins), so each
gets `python3.11 -m venv` and `pip install <package>==<version>` (the original: `pip install -r
<checkout>/requirements.txt`), then one import to check it (the original's from its checkout).
A stamp file records what was installed, so later runs start at once. `make test`
never gets here: only `llmcompiler bench --peers` (`make bench-peers`) installs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

from llmcompiler_bench.peers.registry import Peer

PEERS_DIR_ENV = "LLMCOMPILER_PEERS_DIR"
"""Where the peers' folders go (default `.peers` in the current directory)."""
PYTHON_ENV = "LLMCOMPILER_PEERS_PYTHON"
"""The interpreter the venvs are made with (default `python3.11`)."""
PYTHON = "python3.11"
STAMP = ".installed"
VENV = ".venv"
"""The venv folder's name in `.peers/<name>/` (a `.venv` folder is skipped by the repository's
file checks, as the project's own `.venv` is)."""


class PeerUnavailableError(RuntimeError):
    """The peer cannot be installed or imported here; the message says why."""


def peers_dir() -> Path:
    return Path(os.environ.get(PEERS_DIR_ENV) or ".peers")


def venv_python(peer: Peer, root: Path) -> Path:
    return root / peer.name / VENV / "bin" / "python"


def _tail(text: str, lines: int = 6) -> str:
    kept = [line for line in text.strip().splitlines() if not line.startswith("WARNING: Location")]
    return " | ".join(kept[-lines:])


def environment(peer: Peer) -> dict[str, str]:
    """Ours, less what would reach into this project or send traces anywhere; the peer's
    checkout (if any) is its whole PYTHONPATH."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env.update(LANGCHAIN_TRACING_V2="false", LANGSMITH_TRACING="false", PYTHONUNBUFFERED="1")
    if peer.source is not None:
        env["PYTHONPATH"] = str(peer.source)
    return env


async def _run(*argv: str | Path, log: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *map(str, argv),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
        env=env,
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(map(str, argv))}\n{text}\nexit {process.returncode}\n")
    return process.returncode or 0, text


async def ensure_venv(peer: Peer, root: Path | None = None) -> Path:
    """The python of the peer's venv, installing it first if needed."""
    root = root or peers_dir()
    python = venv_python(peer, root)
    stamp = python.parent.parent / STAMP
    if python.exists() and stamp.exists() and stamp.read_text().strip() == peer.stamp():
        return python
    base = shutil.which(os.environ.get(PYTHON_ENV) or PYTHON)
    if base is None:
        raise PeerUnavailableError(
            f"{os.environ.get(PYTHON_ENV) or PYTHON} is not on PATH (each peer's venv is made "
            f"with it; set {PYTHON_ENV} to another Python 3.11)"
        )
    folder = root / peer.name
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "install.log"
    if not python.exists():
        code, text = await _run(base, "-m", "venv", folder / VENV, log=log)
        if code:
            raise PeerUnavailableError(f"`{base} -m venv` failed: {_tail(text)}")
    code, text = await _run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        *peer.install,
        log=log,
    )
    if code:
        raise PeerUnavailableError(f"`pip install {' '.join(peer.install)}` failed: {_tail(text)}")
    code, text = await _run(python, "-c", f"import {peer.module}", log=log, env=environment(peer))
    if code:
        raise PeerUnavailableError(f"installed, but `import {peer.module}` fails: {_tail(text)}")
    stamp.write_text(peer.stamp() + "\n")
    return python


def own_python() -> Path:
    """This interpreter (tests drive a fake peer with it, without any install)."""
    return Path(sys.executable)
