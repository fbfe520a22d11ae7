"""Kill a real process mid-run, resume on the same thread: finished calls never re-run."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import kill_mid_run_and_resume


def test_sigkill_mid_run_then_resume_reruns_only_unfinished_calls(tmp_path: Path) -> None:
    kill_mid_run_and_resume(str(tmp_path / "checkpoints.sqlite"), tmp_path / "journal.txt", "t-1")
