"""How the scripted planner and joiner behave: a perfect script, or the habits of real models.

Real models do not stop exactly at `join()`, write bare plans or answer in the protocol every
time. Each persona rewrites the gold plan and the joiner's reply the way a kind of real model
would, so `llmcompiler bench --persona NAME` measures latency and correctness under imperfect
behaviour instead of assuming it. The ReAct baselines are native tool calls and keep their
script; the persona's `report_usage` applies to every scripted model of the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

COMMENTARY = " ".join(
    [
        "This plan looks up each fact it needs in parallel, since none of the searches depends",
        "on another, and then reads the results together. If a search fails, the joiner can",
        "ask for a new plan with what was learned, so the answer does not rest on a guess.",
    ]
    * 6
)
"""About 270 tokens of commentary, the length a chatty model writes after its plan."""

LONG_THOUGHT = " ".join(
    ["I compare what each result says with the question, check that every part of it is"]
    + ["covered by a result, and that the numbers agree with each other"] * 4
)


def _markdown(plan: str) -> str:
    """The plan as a chat model formats it: a preamble, a fence, bold numbers, backticks."""
    lines = []
    for line in plan.splitlines():
        number, dot, call = line.partition(". ")
        lines.append(f"**{number}.** `{call}`" if dot and number.isdigit() else line)
    return "Here is the plan:\n```\n" + "\n".join(lines) + "\n```"


def _protocol(thought: str | None, answer: str) -> str:
    action = f"Action: Finish({answer})"
    return action if thought is None else f"Thought: {thought}\n{action}"


@dataclass(frozen=True)
class Persona:
    name: str
    description: str
    plan: Callable[[str], str] = lambda plan: plan
    reply: Callable[[str | None, str], str] = _protocol
    """The joiner's reply from (thought, answer); the thought is None when the joiner's prompt
    asks for none (`Context.joiner_thought` off, the default)."""
    report_usage: bool = True


PERSONAS = {
    p.name: p
    for p in (
        Persona(
            "clean",
            "stops at join(); answers `Action: Finish(...)`, after a `Thought:` when asked",
        ),
        Persona(
            "chatty",
            "writes ~270 tokens of commentary after join() and after its answer",
            plan=lambda plan: f"{plan}\n\n{COMMENTARY}",
            reply=lambda thought, answer: f"{_protocol(thought, answer)}\n\n{COMMENTARY}",
        ),
        Persona("markdown", "plans in a fenced block with bold numbers and backticks", _markdown),
        Persona(
            "verbose",
            "the joiner thinks at length before it answers",
            reply=lambda thought, answer: _protocol(
                f"{thought or 'The results are in.'} {LONG_THOUGHT}.", answer
            ),
        ),
        Persona(
            "json",
            "the joiner answers with a JSON object",
            reply=lambda thought, answer: json.dumps(
                {"action": "finish", "answer": answer}
                | ({} if thought is None else {"thought": thought})
            ),
        ),
        Persona("no-usage", "the server streams no token usage", report_usage=False),
    )
}
