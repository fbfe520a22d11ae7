"""Kill a real process mid-run, resume on the same thread: finished calls never re-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _spawn(db: Path, journal: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.apps.durable_run", str(db), str(journal), mode, "t-1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _lines(journal: Path) -> list[str]:
    return journal.read_text().splitlines() if journal.exists() else []


def test_sigkill_mid_run_then_resume_reruns_only_unfinished_calls(tmp_path: Path) -> None:
    db, journal = tmp_path / "checkpoints.sqlite", tmp_path / "journal.txt"
    first = _spawn(db, journal, "start")
    deadline = time.monotonic() + 30
    # Kill once the fast branch (1 then 3) has finished while slow task 2 is still running.
    while not {"end fast", "end after-fast"} <= set(_lines(journal)):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, _lines(journal)
        time.sleep(0.02)
    time.sleep(0.3)  # let the finished calls' writes reach the checkpointer
    assert "end slow" not in _lines(journal)
    first.send_signal(signal.SIGKILL)
    first.wait()

    second = _spawn(db, journal, "resume")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])

    ends = Counter(line for line in _lines(journal) if line.startswith("end"))
    starts = Counter(line for line in _lines(journal) if line.startswith("start"))
    assert ends == Counter({"end fast": 1, "end after-fast": 1, "end slow": 1, "end after-slow": 1})
    assert starts["start fast"] == 1 and starts["start after-fast"] == 1
    assert starts["start slow"] == 2  # interrupted, so it ran again
    by_idx = {task["idx"]: task for task in result["tasks"]}
    assert by_idx[1]["result"] == "value of fast"
    assert by_idx[2]["result"] == "value of slow"
    assert by_idx[3]["result"] == "value of after-fast:value of fast"
    assert by_idx[4]["result"] == "value of after-slow:value of slow"
    assert all(task["status"] == "done" for task in result["tasks"])
    assert result["answer"] == "done"
