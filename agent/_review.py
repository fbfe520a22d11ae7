"""Human approval of a plan (`Context.approve_plan`): pause before any of its tools runs.

The scheduler collects the whole plan, then calls LangGraph's `interrupt()` with it. The caller
resumes with `Command(resume=...)`:

- `"approve"` (or `True`, `{"action": "approve"}`): run the plan as planned;
- `{"action": "edit", "plan": "1. search(...)\\n2. join()"}`: run this plan instead, after the
  same static checks as a planned one (unknown tools, bad arguments, references to missing or
  later tasks; so no cycles);
- `{"action": "reject", "reason": "..."}` (or `"reject"`, `False`): run nothing; the joiner
  replans with the reason (or, with no replans left, says the plan was rejected).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langgraph.types import interrupt

from agent._task import Task
from agent._toolset import Toolset
from agent.plan import parse_plan

Verdict = Literal["approved", "edited", "rejected"]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    tasks: list[Task]
    reason: str | None = None


def render_plan(tasks: Sequence[Task]) -> str:
    """The plan in the plan language, as a reviewer reads (and edits) it."""
    lines = []
    for task in tasks:
        if task.thought:
            lines.append(f"Thought: {task.thought}")
        args = ", ".join(f"{name}={value!r}" for name, value in task.args.items())
        line = f"{task.idx}. {task.tool}({args})"
        lines.append(f"{line}  # error: {task.error}" if task.error else line)
    return "\n".join(lines)


def review_plan(
    tasks: Sequence[Task],
    round_: int,
    tools: Toolset,
    *,
    known: Iterable[int],
    max_tasks: int,
) -> Decision:
    """Interrupt with the plan; turn the resume value into the tasks to run."""
    answer = interrupt(
        {
            "type": "plan_approval",
            "round": round_,
            "plan": [
                {
                    "idx": t.idx,
                    "tool": t.tool,
                    "args": t.args,
                    "deps": t.deps,
                    "thought": t.thought,
                    "error": t.error,
                }
                for t in tasks
                if not t.is_join
            ],
            "plan_text": render_plan(tasks),
            "resume_with": ["approve", {"action": "edit", "plan": "..."}, {"action": "reject"}],
        }
    )
    action, body = _normalize(answer)
    if action == "approve":
        return Decision("approved", list(tasks))
    if action == "edit":
        edited = parse_plan(str(body), tools, known=known, max_tasks=max_tasks)
        return Decision("edited", edited)
    return Decision("rejected", [], str(body or "the reviewer rejected the plan"))


def _normalize(answer: Any) -> tuple[str, Any]:
    if answer is True or (isinstance(answer, str) and answer.lower() in {"approve", "yes", "y"}):
        return "approve", None
    if answer is False or (isinstance(answer, str) and answer.lower() in {"reject", "no", "n"}):
        return "reject", None
    if isinstance(answer, Mapping):
        action = str(answer.get("action", "")).lower()
        if action == "approve":
            return "approve", None
        if action == "edit" and isinstance(answer.get("plan"), str):
            return "edit", answer["plan"]
        if action == "reject":
            return "reject", answer.get("reason")
    return "reject", f"unrecognized review answer {answer!r}; nothing was run"
