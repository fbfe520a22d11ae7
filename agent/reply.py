"""The joiner's reply protocol: read a decision from whatever a chat model wrote.

In order of preference: an `Action: Finish(...)` / `Action: Replan(...)` line (the first one
wins, so the streamed answer and the final one agree), else a JSON object
`{"action": "finish" | "replan", "answer": ..., "reason": ...}` (bare or fenced), else the
prose itself as the answer, without its `Thought:` lines. A reply that is itself a plan or a
tool call is no answer: it counts as a Replan.

Where an answer ends: at the last `)` of its region, which runs from after `Finish(` to the
first blank line or the first line that starts a new `Thought:` / `Action:` (or the end of the
reply). Answers may hold parentheses and single newlines; chatter after them is not answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

_ACTION = re.compile(
    r"^[ \t>*_`#-]*Action\s*:\s*[*_`]*\s*(Finish|Replan)\b[*_`]*\s*(\(|:)?", re.I | re.M
)
_THOUGHT_LINE = re.compile(r"^[ \t>*_`#-]*(Thought|Observation)\s*:.*$", re.I | re.M)
_THOUGHT = re.compile(r"Thought\s*:\s*(.*?)(?=\n[ \t>*_`#-]*Action\s*:|\Z)", re.I | re.S)
_REGION_END = re.compile(r"\n[ \t]*\n|\n(?=[ \t>*_`#-]*(Thought|Action|Observation)\s*:)", re.I)
_JSON = re.compile(r"\{.*\}", re.S)
_CALL_START = re.compile(r"^\s*(?:[*_`]*(?:Step\s+)?\d+[.):][*_`]*\s*)?[*_`]*[A-Za-z_]\w*\(")
SCAFFOLDING = re.compile(r"\b(Thought|Action)\s*:|\b(Finish|Replan)\(", re.I)
"""What an answer shown to a user must never contain."""


@dataclass(frozen=True)
class JoinerDecision:
    """The joiner's verdict: `content` is the answer (finish) or the reason (replan)."""

    action: Literal["finish", "replan"]
    content: str
    thought: str | None = None


@dataclass(frozen=True)
class ActionStart:
    """Where the first `Action:` line of a reply stands."""

    action: Literal["finish", "replan"]
    body_start: int
    """Offset of the action's argument (after `Finish(`, `Replan:` or the bare word)."""
    parenthesized: bool


def find_action(text: str) -> ActionStart | None:
    match = _ACTION.search(text)
    if match is None:
        return None
    kind: Literal["finish", "replan"] = "replan" if match.group(1).lower() == "replan" else "finish"
    return ActionStart(kind, match.end(), match.group(2) == "(")


def answer_region(body: str) -> tuple[str, bool]:
    """The part of `body` (the text after `Finish(`) that may hold the answer, and whether it
    is complete (a blank line or a new `Thought:`/`Action:` line has closed it)."""
    end = _REGION_END.search(body)
    return (body, False) if end is None else (body[: end.start()], True)


def argument_of(body: str, parenthesized: bool) -> str:
    """An action's argument: up to the region's last `)` when it opened with `(`."""
    region, _ = answer_region(body)
    if parenthesized:
        close = region.rfind(")")
        region = region if close < 0 else region[:close]
    return region.strip()


def _thought(text: str) -> str | None:
    match = _THOUGHT.search(text)
    return match.group(1).strip() if match else None


def _from_json(text: str) -> JoinerDecision | None:
    match = _JSON.search(text)
    if match is None:
        return None
    try:
        data = json.loads(match.group(0))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("action"), str):
        return None
    action = data["action"].strip().lower()
    thought = data.get("thought") if isinstance(data.get("thought"), str) else None
    if action == "replan":
        reason = data.get("reason") or data.get("answer") or ""
        return JoinerDecision("replan", str(reason).strip(), thought)
    if action == "finish":
        answer = data.get("answer", data.get("final", ""))
        text_answer = answer if isinstance(answer, str) else json.dumps(answer)
        return JoinerDecision("finish", text_answer.strip(), thought)
    return None


_ECHO_LINE = re.compile(r"^\s*->")


def is_call_line(line: str) -> bool:
    """`name(...)` (numbered or not, in Markdown or not) whose first parenthesis closes at the
    end of the line: a plan line or a tool call, not an answer like `f(x) = 2` or
    `value(a) + value(b)`."""
    start = _CALL_START.match(line)
    if start is None:
        return False
    depth = 1
    rest = line[start.end() :]
    for position, char in enumerate(rest):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return rest[position + 1 :].strip(" \t*_`") == ""
    return False


"""A line of the results listing the joiner was shown (`   -> result`), copied back."""


def protocol_lines(text: str) -> list[str]:
    """Lines of `text` that are plan lines, tool calls or copied result lines: never answer."""
    return [
        line
        for line in text.splitlines()
        if is_call_line(line) or _ECHO_LINE.match(line) or SCAFFOLDING.match(line.strip())
    ]


def is_plan_or_call(text: str) -> bool:
    """True when every line of `text` is a plan line or a tool call (no answer in it)."""
    lines = [line for line in text.strip().strip("`").splitlines() if line.strip()]
    lines = [line for line in lines if not line.strip().startswith("```")]
    return bool(lines) and all(is_call_line(line) for line in lines)


def parse_joiner_output(text: str) -> JoinerDecision:
    """Read the joiner's decision (see the module docstring for the rules)."""
    thought = _thought(text)
    start = find_action(text)
    if start is not None:
        content = argument_of(text[start.body_start :], start.parenthesized)
        return JoinerDecision(start.action, content, thought)
    decision = _from_json(text)
    if decision is not None:
        return decision
    prose = _THOUGHT_LINE.sub("", text).strip()
    if is_plan_or_call(prose):
        return JoinerDecision("replan", "the reply was a plan or a tool call, not an answer")
    return JoinerDecision("finish", prose or (thought or ""), thought)
