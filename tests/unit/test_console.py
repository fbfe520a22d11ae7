"""The CLI's run view: the critical path, the live table, the plain log, and pausing for input."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text

from llmcompiler_cli.console import CRITICAL_MARK, RunView, critical_path


def planned(idx: int, deps: list[int], t: float = 0.0, round_: int = 1) -> dict[str, Any]:
    return {
        "event": "task_planned",
        "idx": idx,
        "tool": "search",
        "args": {"query": f"q{idx}"},
        "deps": deps,
        "round": round_,
        "t": t,
    }


def started(idx: int, t: float = 0.0) -> dict[str, Any]:
    return {"event": "task_started", "idx": idx, "tool": "search", "args": {}, "round": 1, "t": t}


def finished(idx: int, t: float = 0.0, status: str = "done", **extra: Any) -> dict[str, Any]:
    outcome = {"result": f"result {idx}"} if status == "done" else {"error": f"failure {idx}"}
    return {
        "event": "task_finished",
        "idx": idx,
        "tool": "search",
        "status": status,
        "duration_s": 0.5,
        "round": 1,
        "t": t,
        **outcome,
        **extra,
    }


def test_critical_path_follows_the_dependency_that_finished_last() -> None:
    events = [
        planned(1, [], 0.1),
        planned(2, [], 0.2),
        planned(3, [1, 2], 0.3),
        planned(4, [], 0.4),
        finished(2, 1.0),
        finished(1, 1.5),  # 3 waited for 1, not 2
        finished(4, 1.8),
        finished(3, 2.0),
    ]
    assert critical_path(events) == [1, 3]


def test_critical_path_of_a_chain_and_of_a_lone_last_task() -> None:
    chain = [planned(1, []), planned(2, [1]), planned(3, [2])]
    ends = [finished(i, float(i)) for i in (1, 2, 3)]
    assert critical_path(chain + ends) == [1, 2, 3]
    lone = [planned(1, []), planned(2, []), finished(1, 1.0)]
    assert critical_path([*lone, finished(2, 2.0)]) == [2]


def test_critical_path_ignores_dependencies_that_never_finished() -> None:
    events = [planned(1, []), planned(2, [1]), finished(2, 1.0, "skipped")]
    assert critical_path(events) == [2]
    assert critical_path([planned(1, [])]) == []


def _view(*, height: int = 40) -> RunView:
    """A live view on an in-memory terminal; rendered frames are read with `_text`."""
    console = Console(file=io.StringIO(), force_terminal=True, width=100, height=height)
    return RunView(console=console, live=True)


def _text(view: RunView, *, final: bool = False) -> str:
    out = Console(record=True, force_terminal=True, width=100, file=io.StringIO())
    out.print(view.render(final=final))
    return out.export_text()


def _feed(view: RunView, events: list[dict[str, Any]]) -> None:
    for event in events:
        view({k: v for k, v in event.items() if k != "t"})


@pytest.fixture
def view() -> Iterator[RunView]:
    made = _view()
    yield made
    made.pause()  # stops the live display's refresh thread


def test_the_live_table_shows_each_state_of_a_task(view: RunView) -> None:
    _feed(
        view,
        [
            planned(1, []),
            planned(2, []),
            planned(3, [1]),
            planned(4, [2]),
            started(1),
            started(2),
            finished(2, 0.0, "error"),
            finished(4, 0.0, "skipped", error="skipped: dependency $2 (search) error"),
        ],
    )
    lines = _text(view).splitlines()
    row = {n: next(line for line in lines if f" ${n} " in line) for n in (1, 2, 3, 4)}
    assert row[1].lstrip()[0] not in "·✓✗↷" and "running…" in row[1]  # a spinner
    assert row[2].startswith("✗") and "0.50s" in row[2] and "failure 2" in row[2]
    assert row[3].startswith("·") and "waits for $1" in row[3]
    assert row[4].startswith("↷") and "skipped: dependency $2" in row[4]
    assert "plan 1 streaming…" in lines[-1]

    _feed(view, [{"event": "plan_finished", "round": 1, "n_tasks": 4}, finished(1)])
    text = _text(view)
    assert "✓    $1" in text and "result 1" in text
    assert "plan 1 complete: 4 tasks" in text and "1 task to go…" in text


def test_the_final_frame_marks_the_critical_path(view: RunView) -> None:
    _feed(view, [planned(1, []), planned(2, []), planned(3, [1, 2])])
    _feed(view, [started(1), started(2), finished(1), finished(2)])
    _feed(view, [started(3), finished(3), {"event": "plan_finished", "round": 1, "n_tasks": 3}])
    assert CRITICAL_MARK not in _text(view)
    marked = [line for line in _text(view, final=True).splitlines() if CRITICAL_MARK in line]
    assert [line.split()[1] for line in marked[:2]] == ["$2", "$3"]
    assert f"{CRITICAL_MARK} critical path: $2 → $3" in marked[-1]


def test_a_replan_adds_the_plan_column_and_says_why(view: RunView) -> None:
    _feed(view, [planned(1, []), started(1), finished(1, 0.0, "error")])
    _feed(view, [{"event": "plan_finished", "round": 1, "n_tasks": 1}])
    _feed(view, [{"event": "replan", "round": 2, "reason": "the search failed"}])
    _feed(view, [planned(2, [], 0, round_=2)])
    text = _text(view)
    assert "plan" in text.splitlines()[0].split()
    assert "replanning (round 2): the search failed" in text
    assert "plan 2 streaming…" in text


def test_an_edited_plan_replaces_the_planned_tasks(view: RunView) -> None:
    _feed(view, [planned(1, []), planned(2, [])])
    _feed(view, [{"event": "plan_finished", "round": 1, "n_tasks": 2}])
    edited = {**planned(1, []), "tool": "lookup", "args": {"name": "x"}}
    _feed(view, [edited])
    text = _text(view)
    assert "lookup(name='x')" in text and "search" not in text and "$2" not in text


def test_a_long_plan_keeps_to_the_terminal_height() -> None:
    view = _view(height=12)
    try:
        _feed(view, [planned(i, [], 0) for i in range(1, 31)])
        lines = _text(view).splitlines()
        assert len(lines) <= 12
        assert any("earlier tasks" in line for line in lines) and "$30" in lines[-2]
        assert "$1 " in _text(view, final=True)  # the final frame shows every task
    finally:
        view.pause()


def test_pause_stops_redrawing_until_the_next_event(view: RunView) -> None:
    buffer = view.console.file
    assert isinstance(buffer, io.StringIO)
    _feed(view, [planned(1, []), started(1)])
    assert view.pause() is view.console
    written = buffer.tell()
    time.sleep(0.4)  # three refresh periods: a running display would redraw its spinner
    assert buffer.tell() == written
    _feed(view, [finished(1)])  # the display comes back, drawn at once
    assert buffer.tell() > written


def test_print_summary_ends_with_the_final_frame_and_the_answer(view: RunView) -> None:
    _feed(view, [planned(1, []), started(1), finished(1)])
    _feed(view, [{"event": "plan_finished", "round": 1, "n_tasks": 1}])
    view.print_summary(
        "forty-two", 1.0, {"calls": 2, "input_tokens": 9, "output_tokens": 3, "cost_usd": None}
    )
    output = view.console.file.getvalue()  # type: ignore[attr-defined]
    tail = output[output.rindex("\x1b[?25h") :]  # after the live display handed back the cursor
    plain = Text.from_ansi(tail).plain
    assert f"{CRITICAL_MARK} critical path: $1" in plain
    assert plain.index("critical path") < plain.index("forty-two") < plain.index("LLM calls: 2")


def test_a_console_that_is_not_a_terminal_gets_one_plain_line_per_event() -> None:
    console = Console(file=io.StringIO(), width=100)
    view = RunView(console=console)
    assert view.live is False
    _feed(view, [planned(1, []), started(1), finished(1)])
    _feed(view, [{"event": "plan_finished", "round": 1, "n_tasks": 1}])
    view.print_summary("forty-two", 1.0, None)
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert [line.split()[1] for line in lines[:4]] == ["planned", "started", "done", "plan"]
    assert "$1 search(query='q1')" in lines[0]
    assert "critical path: $1" in lines[4] and "forty-two" in lines


def test_a_terminal_on_stderr_stays_plain() -> None:
    """`--json` prints machine output on stdout, so its progress view on stderr never redraws."""
    console = Console(file=sys.stderr, force_terminal=True)
    assert RunView(console=console).live is False
