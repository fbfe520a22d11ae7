"""The custom stream events of docs/protocol.md (`stream_mode="custom"`), as plain JSON-safe dicts.

Emitted from inside task bodies, so a resumed run emits events only for what it really does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langgraph.config import get_stream_writer

from agent._results import preview, preview_args
from agent._state import TaskRecord, new_record
from agent._task import Task


def _emit(event: str, **data: Any) -> None:
    get_stream_writer()({"event": event, **data})


def task_planned(task: Task, round_: int) -> None:
    _emit(
        "task_planned", idx=task.idx, tool=task.tool, args=task.args, deps=task.deps, round=round_
    )


def tasks_planned(tasks: Sequence[Task], round_: int, limit: int) -> int:
    """`task_planned` for each task (and `task_finished` for a static error); returns the
    number of tasks, `join` not counted."""
    count = 0
    for item in tasks:
        if item.is_join:
            continue
        count += 1
        task_planned(item, round_)
        if item.error is not None:
            task_finished(new_record(item, round_), limit)
    return count


def task_started(record: TaskRecord, resolved_args: dict[str, Any], limit: int) -> None:
    _emit(
        "task_started",
        idx=record["idx"],
        tool=record["tool"],
        args=preview_args(resolved_args, limit),
        round=record["round"],
    )


def task_finished(record: TaskRecord, limit: int) -> None:
    started, finished = record["started_at"], record["finished_at"]
    duration = finished - started if started is not None and finished is not None else 0.0
    outcome: dict[str, Any] = (
        {"result": preview(record["result"], limit)}
        if record["status"] == "done"
        else {"error": record["error"]}
    )
    if "deduplicated_from" in record:
        outcome["deduplicated_from"] = record["deduplicated_from"]
    if record.get("cache_hit"):
        outcome["cache_hit"] = True
    _emit(
        "task_finished",
        idx=record["idx"],
        tool=record["tool"],
        status=record["status"],
        duration_s=round(duration, 6),
        round=record["round"],
        **outcome,
    )


def plan_note(round_: int, text: str) -> None:
    """A plan line that was none of task, `Thought:` or the plan's end (never dropped)."""
    _emit("plan_note", round=round_, text=text)


def plan_finished(round_: int, n_tasks: int) -> None:
    _emit("plan_finished", round=round_, n_tasks=n_tasks)


def replan(round_: int, reason: str) -> None:
    _emit("replan", round=round_, reason=reason)


def answer_withdrawn(round_: int, message_id: str, text: str, reason: str) -> None:
    """Text of the answer message `message_id` already streamed is not the answer: a client
    removes it; the answer follows as a new message."""
    _emit("answer_withdrawn", round=round_, message_id=message_id, text=text, reason=reason)
