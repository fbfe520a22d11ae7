"""Terminal rendering of a run, shared by `llmcompiler ask` and `llmcompiler demo`.

On an interactive terminal the run is a live table (`rich.live.Live`): tasks appear as they are
planned, spin while they run, show their duration when they finish, and the critical path is
highlighted once the run ends. Anywhere else (pipes, CI, tests, the stderr of `--json`) each
event is one plain line, so logs stay greppable and nothing redraws.
"""

from __future__ import annotations

import atexit
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from agent import result_text

_STYLE = {"done": "green", "error": "red", "skipped": "yellow"}
_ICON = {"done": "✓", "error": "✗", "skipped": "↷"}
CRITICAL_MARK = "◆"
LIVE_RESERVED_LINES = 6
"""Terminal lines the live view keeps free for the status lines around the task table."""


def _call(event: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in event.get("args", {}).items())
    return f"${event['idx']} {event['tool']}({args})"


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _tasks(n: int) -> str:
    return f"{n} task" if n == 1 else f"{n} tasks"


def _outcome(event: dict[str, Any]) -> str:
    """What a finished task produced, as one line of text."""
    if event["status"] == "done":
        text = result_text(event["result"])
        if event.get("cache_hit"):
            return f"(cached) {text}"
        if "deduplicated_from" in event:
            return f"(= ${event['deduplicated_from']}) {text}"
        return text
    return str(event.get("error"))


def critical_path(events: Sequence[dict[str, Any]]) -> list[int]:
    """The chain of tasks whose finish times decided when the last task finished.

    Walks back from the last task to finish through, at each step, the dependency that
    finished last (`deps` come from `task_planned`, times from each event's `t`). Tasks are
    returned first to last; empty when no task finished.
    """
    deps = {e["idx"]: e.get("deps", []) for e in events if e["event"] == "task_planned"}
    finished = {e["idx"]: e["t"] for e in events if e["event"] == "task_finished"}
    if not finished:
        return []
    path = [max(finished, key=lambda idx: finished[idx])]
    while True:
        done_deps = [d for d in deps.get(path[-1], []) if d in finished]
        if not done_deps:
            return path[::-1]
        path.append(max(done_deps, key=lambda idx: finished[idx]))


class _Elapsed:
    """A running task's age, computed whenever the live display redraws (so it ticks)."""

    def __init__(self, since: float) -> None:
        self.since = since

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(f"{time.monotonic() - self.since:.1f}s", style="blue")


@dataclass
class _Row:
    """One task as the table shows it, folded from its events."""

    idx: int
    tool: str
    call: str
    round: int
    deps: list[int]
    status: str = "planned"
    spinner: Spinner | None = None
    started: float | None = None
    duration: float | None = None
    outcome: str = ""


@dataclass
class RunView:
    """Shows a run's events as they arrive, with times relative to the start of the run.

    `live=None` animates only when the console is an interactive terminal writing to stdout: a
    console on stderr means stdout carries machine output (`--json`), so it stays plain.
    """

    console: Console = field(default_factory=Console)
    start: float = field(default_factory=time.monotonic)
    events: list[dict[str, Any]] = field(default_factory=list)
    live: bool | None = None
    _rows: dict[int, _Row] = field(default_factory=dict, init=False, repr=False)
    _reviewed: set[int] = field(default_factory=set, init=False, repr=False)
    _live: Live | None = field(default=None, init=False, repr=False)
    _waiting: Spinner = field(
        default_factory=lambda: Spinner("dots", style="magenta"), init=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.live is None:
            self.live = self.console.is_interactive and self.console.file is sys.stdout
        if self.live:
            self._start_live()

    def __call__(self, event: dict[str, Any]) -> None:
        at = time.monotonic() - self.start
        self.events.append({**event, "t": at})
        self._fold(event, at)
        if not self.live:
            self._print_plain(event, at)
            return
        (self._live or self._start_live()).update(self.render(), refresh=True)

    def pause(self) -> Console:
        """Clear the live display until the next event, so the caller can talk to the person
        (`input()` under a live display would be overdrawn); returns the console to print on."""
        self._stop_live()
        return self.console

    def _start_live(self) -> Live:
        self._live = Live(
            self.render(),
            console=self.console,
            transient=True,  # the final frame is printed once, statically, by print_summary
            refresh_per_second=8,
            redirect_stderr=False,
        )
        self._live.start()
        atexit.register(self._stop_live)  # restore the cursor even if the run dies mid-way
        return self._live

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
            atexit.unregister(self._stop_live)

    def _fold(self, event: dict[str, Any], at: float) -> None:
        kind, idx = event["event"], event.get("idx")
        if kind == "task_planned":
            if self._replaces_plan(event["round"]):
                self._rows = {i: r for i, r in self._rows.items() if r.round != event["round"]}
            self._rows[event["idx"]] = _Row(
                idx=event["idx"],
                tool=event["tool"],
                call=_call(event).split(" ", 1)[1],
                round=event["round"],
                deps=list(event.get("deps", [])),
            )
        elif idx in self._rows and kind == "task_started":
            row = self._rows[idx]
            row.status, row.started, row.spinner = "running", at, Spinner("dots", style="blue")
        elif idx in self._rows and kind == "task_finished":
            row = self._rows[idx]
            row.status, row.duration = event["status"], event["duration_s"]
            row.outcome = _outcome(event)
            if row.started is None:  # a cache hit or a static error: it never ran here
                row.started = at - row.duration

    def _replaces_plan(self, round_: int) -> bool:
        """True for the first task of a reviewer's edited plan: the round's plan had ended
        (`plan_finished`), so its tasks are announced again and replace the planned ones."""
        ended = any(e["event"] == "plan_finished" and e["round"] == round_ for e in self.events)
        if not ended or round_ in self._reviewed:
            return False
        self._reviewed.add(round_)
        return True

    def _print_plain(self, event: dict[str, Any], at: float) -> None:
        kind = event["event"]
        stamp = f"[dim]{at:6.2f}s[/dim]"
        if kind == "task_planned":
            self._line(f"{stamp} [cyan]planned [/cyan] {escape(_short(_call(event)))}")
        elif kind == "task_started":
            self._line(f"{stamp} [blue]started [/blue] {escape(_short(_call(event)))}")
        elif kind == "task_finished":
            status = event["status"]
            self._line(
                f"{stamp} [{_STYLE[status]}]{status:<8}[/{_STYLE[status]}] "
                f"${event['idx']} {event['tool']} ({event['duration_s']:.2f}s) "
                f"{escape(_short(_outcome(event), 70))}"
            )
        elif kind == "plan_finished":
            self._line(
                f"{stamp} [magenta]plan {event['round']} complete[/magenta]: "
                f"{event['n_tasks']} tasks"
            )
        elif kind == "replan":
            self._line(
                f"{stamp} [magenta]replanning (round {event['round']})[/magenta]: "
                f"{escape(_short(event['reason']))}"
            )
        elif kind == "plan_note":
            self._line(f"{stamp} [yellow]not a task[/yellow] {escape(_short(event['text']))}")

    def _line(self, text: str) -> None:
        self.console.print(text, no_wrap=True, overflow="ellipsis", highlight=False)

    def render(self, *, final: bool = False) -> RenderableType:
        """The table of tasks and the plan's status; `final` marks the critical path and shows
        every row (the live frame keeps to the terminal's height)."""
        path = critical_path(self.events) if final else []
        critical = set(path)
        rounds = {row.round for row in self._rows.values()}
        table = Table(box=None, pad_edge=False, expand=True, header_style="dim")
        table.add_column("", width=1, no_wrap=True)
        table.add_column("task", justify="right", no_wrap=True)
        table.add_column("", width=1, no_wrap=True)
        if len(rounds) > 1:
            table.add_column("plan", justify="right", no_wrap=True)
        table.add_column("call", ratio=3, no_wrap=True, overflow="ellipsis")
        table.add_column("start", justify="right", width=6, no_wrap=True)
        table.add_column("took", justify="right", width=6, no_wrap=True)
        table.add_column("result", ratio=2, no_wrap=True, overflow="ellipsis")
        rows = sorted(self._rows.values(), key=lambda row: row.idx)
        hidden = [] if final else rows[: max(len(rows) - self._max_rows(), 0)]
        if hidden:
            gap = ["", "…", "", *([""] if len(rounds) > 1 else [])]
            table.add_row(*gap, f"{len(hidden)} earlier tasks")
        for row in rows[len(hidden) :]:
            on_path = row.idx in critical
            cells: list[RenderableType] = [
                self._icon(row),
                Text(f"${row.idx}", style="bold magenta" if on_path else ""),
                Text(CRITICAL_MARK if on_path else "", style="bold magenta"),
            ]
            if len(rounds) > 1:
                cells.append(str(row.round))
            cells += [
                Text(row.call, style="bold" if on_path else ""),
                "" if row.started is None else f"{row.started:.2f}s",
                self._took(row),
                self._result(row, final),
            ]
            table.add_row(*cells)
        parts: list[RenderableType] = [table, *self._status(final)]
        if path:
            chain = " → ".join(f"${idx}" for idx in path)
            parts.append(
                Text.assemble(
                    (f"{CRITICAL_MARK} critical path: ", "bold magenta"),
                    chain,
                    " (each the last of its successor's dependencies to finish)",
                )
            )
        return Group(*parts)

    def _max_rows(self) -> int:
        return max(self.console.height - LIVE_RESERVED_LINES, 3)

    def _icon(self, row: _Row) -> RenderableType:
        if row.spinner is not None and row.status == "running":
            return row.spinner
        if row.status == "planned":
            return Text("·", style="dim")
        return Text(_ICON[row.status], style=_STYLE[row.status])

    def _took(self, row: _Row) -> RenderableType:
        if row.duration is not None:
            return f"{row.duration:.2f}s"
        if row.status == "running" and row.started is not None:
            return _Elapsed(self.start + row.started)
        return ""

    def _result(self, row: _Row, final: bool) -> RenderableType:
        if row.status == "planned" and final:
            return Text("not run", style="dim")
        if row.status == "planned":
            pending = [d for d in row.deps if d in self._rows and self._rows[d].status != "done"]
            waits = ", ".join(f"${d}" for d in pending)
            return Text(f"waits for {waits}" if waits else "queued", style="dim")
        if row.status == "running":
            return Text("running…", style="dim")
        style = "" if row.status == "done" else _STYLE[row.status]
        return Text(" ".join(row.outcome.split()), style=style)

    def _status(self, final: bool) -> list[RenderableType]:
        """One line per plan (streaming, complete, replanned) and what the run waits for."""
        lines: list[RenderableType] = []
        round_ = 1
        complete = False
        for event in self.events:
            if event["event"] == "plan_finished":
                complete = True
                lines.append(
                    Text(
                        f"plan {event['round']} complete: {_tasks(event['n_tasks'])} "
                        f"({event['t']:.2f}s)",
                        style="magenta",
                    )
                )
            elif event["event"] == "replan":
                round_, complete = event["round"], False
                lines.append(
                    Text(
                        f"replanning (round {event['round']}): {_short(event['reason'])}",
                        style="magenta",
                    )
                )
        if final:
            return lines
        running = [row for row in self._rows.values() if row.status in ("planned", "running")]
        if not complete:
            waiting = f"plan {round_} streaming…"
        elif running:
            waiting = f"{_tasks(len(running))} to go…"
        else:
            waiting = "joining the results…"
        self._waiting.update(text=Text(waiting, style="dim"))
        return [*lines, self._waiting]

    def timeline(self) -> dict[str, Any]:
        """Overlap figures of the run: when the plan ended versus when tools ran."""
        plan_end = next((e["t"] for e in self.events if e["event"] == "plan_finished"), None)
        starts = {e["idx"]: e["t"] for e in self.events if e["event"] == "task_started"}
        ends = {e["idx"]: e["t"] for e in self.events if e["event"] == "task_finished"}
        first_start = min(starts.values(), default=None)
        return {
            "plan_stream_end_s": plan_end,
            "first_tool_start_s": first_start,
            "tools": {idx: (starts[idx], ends.get(idx)) for idx in sorted(starts)},
            "tools_started_before_plan_end": sum(
                1 for t in starts.values() if plan_end is not None and t < plan_end
            ),
        }

    def print_summary(self, answer: str, elapsed: float, usage: dict[str, Any] | None) -> None:
        """End the live display with its final frame, then the answer and the run's figures."""
        if self.live:
            self._stop_live()
            self.console.print(self.render(final=True))
        elif path := critical_path(self.events):
            self.console.print(
                "critical path: " + " → ".join(f"${idx}" for idx in path), highlight=False
            )
        tl = self.timeline()
        notes = [e["text"] for e in self.events if e["event"] == "plan_note"]
        if notes and self.live:
            self.console.print(
                f"[yellow]plan lines that were not tasks ({len(notes)}):[/yellow] "
                + escape(" | ".join(_short(n) for n in notes[:3])),
                highlight=False,
            )
        self.console.print()
        self.console.rule("answer")
        self.console.print(escape(answer))
        self.console.rule()
        if tl["plan_stream_end_s"] is not None and tl["first_tool_start_s"] is not None:
            lead = tl["plan_stream_end_s"] - tl["first_tool_start_s"]
            self.console.print(
                f"first tool started at {tl['first_tool_start_s']:.2f}s, the plan finished "
                f"streaming at {tl['plan_stream_end_s']:.2f}s ({lead:+.2f}s of overlap); "
                f"{tl['tools_started_before_plan_end']} of {len(tl['tools'])} tools started "
                f"before the plan ended; total {elapsed:.2f}s"
            )
        if usage:
            cost = "unknown" if usage["cost_usd"] is None else f"${usage['cost_usd']:.6f}"
            estimated = usage.get("estimated_calls", 0)
            mark = "~" if estimated else ""
            note = f" (estimated for {estimated} of the calls: not reported)" if estimated else ""
            self.console.print(
                f"LLM calls: {usage['calls']}, tokens in/out: {mark}{usage['input_tokens']}/"
                f"{mark}{usage['output_tokens']}{note}, cost: {cost}"
            )


def dump_json(answer: str, output: dict[str, Any], events: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "answer": answer,
            "tasks": output.get("tasks", []),
            "usage": output.get("usage"),
            "error": output.get("error"),
            "events": events,
        },
        ensure_ascii=False,
        indent=2,
        default=str,
    )
