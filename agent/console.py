"""Terminal rendering of a run: each task as it is planned, started and finished.

Shared by `llmcompiler ask` and `llmcompiler demo`, so both show the same view.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape

from agent.references import result_text

_STYLE = {"done": "green", "error": "red", "skipped": "yellow"}


def _call(event: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in event.get("args", {}).items())
    return f"${event['idx']} {event['tool']}({args})"


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class RunView:
    """Prints events as they arrive, with times relative to the start of the run."""

    console: Console = field(default_factory=Console)
    start: float = field(default_factory=time.monotonic)
    events: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any]) -> None:
        at = time.monotonic() - self.start
        self.events.append({**event, "t": at})
        kind = event["event"]
        stamp = f"[dim]{at:6.2f}s[/dim]"
        if kind == "task_planned":
            self._line(f"{stamp} [cyan]planned [/cyan] {escape(_short(_call(event)))}")
        elif kind == "task_started":
            self._line(f"{stamp} [blue]started [/blue] {escape(_short(_call(event)))}")
        elif kind == "task_finished":
            status = event["status"]
            outcome = result_text(event["result"]) if status == "done" else str(event.get("error"))
            self._line(
                f"{stamp} [{_STYLE[status]}]{status:<8}[/{_STYLE[status]}] "
                f"${event['idx']} {event['tool']} ({event['duration_s']:.2f}s) "
                f"{escape(_short(outcome, 70))}"
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

    def _line(self, text: str) -> None:
        self.console.print(text, no_wrap=True, overflow="ellipsis", highlight=False)

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
        tl = self.timeline()
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
            self.console.print(
                f"LLM calls: {usage['calls']}, tokens in/out: {usage['input_tokens']}/"
                f"{usage['output_tokens']}, cost: {cost}"
            )


def dump_json(answer: str, output: dict[str, Any], events: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "answer": answer,
            "tasks": output.get("tasks", []),
            "usage": output.get("usage"),
            "events": events,
        },
        ensure_ascii=False,
        indent=2,
        default=str,
    )
