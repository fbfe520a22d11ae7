"""Exactly-once across crashes: SIGKILL a real process at seeded points, resume, compare.

Each trial kills `tests/integration/apps/crash_run.py` at a point spread over the whole run
(while the planner streams, while tools run, during the joiner, during the replan), reads the SQLite
checkpoint to learn which task results were recorded, resumes on the same thread, and checks:
no recorded call ran again, every result belongs to its own task, every call kept its
idempotency key, and the answer equals an uninterrupted run's. `LLMCOMPILER_CRASH_TRIALS`
sets the number of trials (default 20).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

ROOT = Path(__file__).resolve().parents[2]
TRIALS = int(os.environ.get("LLMCOMPILER_CRASH_TRIALS", "20"))
SEED = 20261128
RESULTS = {
    1: "value(alpha)",
    2: "value(beta)",
    3: "value(gamma:value(alpha))",
    5: "value(delta:value(beta):value(gamma:value(alpha)))",
    6: "value(epsilon)",
}


def _run(db: Path, journal: Path, mode: str, kill_after: float | None = None) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.apps.crash_run",
            str(db),
            str(journal),
            mode,
            "t",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if kill_after is None:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        return
    deadline = time.monotonic() + 30
    while "ready" not in _lines(journal):  # imports done: the run starts now
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(kill_after)
    process.send_signal(signal.SIGKILL)
    process.wait()


def _lines(journal: Path) -> list[str]:
    return journal.read_text().splitlines() if journal.exists() else []


def _recorded(db: Path) -> set[int]:
    """Task indices whose results the checkpoint holds (committed state or pending writes)."""
    with SqliteSaver.from_conn_string(str(db)) as saver:
        snapshot = saver.get_tuple({"configurable": {"thread_id": "t"}})
    if snapshot is None:
        return set()
    committed = snapshot.checkpoint["channel_values"].get("tasks", [])
    pending = [value for _, channel, value in snapshot.pending_writes if channel == "__return__"]
    return {r["idx"] for r in [*committed, *pending] if isinstance(r, dict) and "idx" in r}


@dataclass
class Trial:
    kill_after: float
    phase: str
    recorded: set[int]
    starts: Counter[int]
    keys: dict[int, set[str]]
    answer: str


def _trial(tmp: Path, kill_after: float) -> Trial | None:
    """One kill and resume; None when the run had already finished when the kill came."""
    db, journal = tmp / "checkpoints.sqlite", tmp / "journal.txt"
    _run(db, journal, "start", kill_after)
    before = _lines(journal)
    if any(line.startswith("answer") for line in before):
        return None
    events = [line for line in before if line.startswith("event")]
    phase = events[-1] if events else "before the first event"
    recorded = _recorded(db)
    starts_before = Counter(int(line.split()[1]) for line in before if line.startswith("start"))
    _run(db, journal, "resume")
    lines = _lines(journal)
    starts = Counter(int(line.split()[1]) for line in lines if line.startswith("start"))
    keys: dict[int, set[str]] = {}
    for line in lines:
        if line.startswith("start"):
            _, idx, key = line.split()
            keys.setdefault(int(idx), set()).add(key)
    for idx in recorded:
        assert starts[idx] == starts_before[idx], f"recorded task {idx} ran again ({phase})"
    answers = [line.removeprefix("answer ") for line in lines if line.startswith("answer")]
    return Trial(kill_after, phase, recorded, starts, keys, answers[-1])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, float]:
    tmp = tmp_path_factory.mktemp("reference")
    journal = tmp / "journal.txt"
    _run(tmp / "db.sqlite", journal, "start")
    lines = _lines(journal)
    answer = next(line.removeprefix("answer ") for line in lines if line.startswith("answer"))
    assert answer == " + ".join(RESULTS.values())
    return answer, 1.6  # the run after "ready" takes about 1.3 s; kills spread a bit beyond


def test_killed_anywhere_and_resumed_every_call_runs_at_most_once_more(
    reference: tuple[str, float], tmp_path: Path
) -> None:
    answer, span = reference
    rng = random.Random(SEED)
    points = [(i + rng.random()) * span / TRIALS for i in range(TRIALS)]
    dirs = [tmp_path / f"trial{i}" for i in range(TRIALS)]
    for directory in dirs:
        directory.mkdir()
    with ThreadPoolExecutor(max_workers=3) as pool:
        trials = [t for t in pool.map(_trial, dirs, points) if t is not None]
    assert len(trials) >= TRIALS * 3 // 4, "most kills must land before the run ends"
    for trial in trials:
        assert trial.answer == answer, trial
        assert all(len(keys) == 1 for keys in trial.keys.values()), trial.keys  # stable keys
        assert set(trial.starts) == set(RESULTS)
        assert all(count <= 2 for count in trial.starts.values())
    # The seeded kill points cover the run's stages, told apart by what the checkpoint held.
    stages = {_stage(t.recorded) for t in trials}
    assert "between rounds" in stages and len(stages) >= 3, stages


def _stage(recorded: set[int]) -> str:
    if not recorded:
        return "first plan streaming"
    if recorded < {1, 2, 3}:
        return "first round's tools"
    if recorded == {1, 2, 3}:
        return "between rounds"  # the joiner, the replan, or the second plan streaming
    return "second round's tools or final joiner"
