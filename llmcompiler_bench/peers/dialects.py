"""What the scripted models say to a peer: the gold plan in the peer's own plan syntax, the
joiner's answer in the peer's own reply format, and how to tell the two calls apart.

Each rendering follows the peer's own prompt, as a model following that prompt would write it:
data, not a shim. The answer is correct only when every task's evidence reached the joiner's
prompt, as for our joiner (`llmcompiler_bench/replies.py`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmcompiler_bench.plans import GoldTask, PlanText, literal
from llmcompiler_bench.replies import NOT_FOUND
from llmcompiler_bench.workloads import Item

THOUGHT = "the results answer the question."
"""The joiner's thought, the one our scripted joiner writes."""


def _content(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


@dataclass(frozen=True)
class Dialect:
    """How one peer plans and joins.

    `call` writes a task as a plan line without its index; `join` is the last line after its
    `N. ` (the peer's prompt asks for `<END_OF_PLAN>` there); `planner` / `joiner` recognise a
    request's messages by their prompt; `reply` is the joiner's answer from (thought, answer).
    """

    call: Callable[[GoldTask], str]
    join: str
    planner: Callable[[Sequence[Mapping[str, Any]]], bool]
    joiner: Callable[[Sequence[Mapping[str, Any]]], bool]
    reply: Callable[[str, str], str]

    def plan(self, tasks: Sequence[GoldTask]) -> PlanText:
        """The gold plan in this syntax, with the offset of each line's closing paren (as
        `llmcompiler_bench.plans.render_plan`, for the bound T*)."""
        lines: list[str] = []
        closes: dict[int, int] = {}
        offset = 0
        join_idx = max((t.idx for t in tasks), default=0) + 1
        for idx, body in [*((t.idx, self.call(t)) for t in tasks), (join_idx, self.join)]:
            line = f"{idx}. {body}"
            closes[idx] = offset + len(f"{idx}. ") + body.rindex(")")
            lines.append(line)
            offset += len(line) + 1
        return PlanText("\n".join(lines), closes, join_idx)

    def respond(self, item: Item) -> Callable[[list[dict[str, Any]]], tuple[str, str]]:
        """(kind, reply) for a request's messages: `planner`, `joiner` or `unknown`."""
        plan = self.plan(item.tasks).text

        def respond(messages: list[dict[str, Any]]) -> tuple[str, str]:
            if self.planner(messages):
                return "planner", plan
            if self.joiner(messages):
                text = "\n".join(_content(m) for m in messages)
                complete = all(task.evidence in text for task in item.tasks)
                return "joiner", self.reply(THOUGHT, item.answer if complete else NOT_FOUND)
            return "unknown", ""

        return respond


def _keywords(task: GoldTask) -> str:
    """`tool(name="value", other=["$1"])`: PyPI llmcompiler parses `name=` pairs only."""
    return f"{task.tool}({', '.join(f'{k}={literal(v)}' for k, v in task.args.items())})"


def _positional(task: GoldTask) -> str:
    """`tool("value", ["$1"])`: the llama-index pack's prompt forbids keyword arguments."""
    return f"{task.tool}({', '.join(literal(v) for v in task.args.values())})"


def _system_starts(prefix: str) -> Callable[[Sequence[Mapping[str, Any]]], bool]:
    def check(messages: Sequence[Mapping[str, Any]]) -> bool:
        return bool(messages) and _content(messages[0]).startswith(prefix)

    return check


PLANNER_PROMPT = "Given a user query, create a plan to solve it with the utmost parallelizability."
"""The first words of both peers' planner prompt (the original LLMCompiler's)."""

PYPI = Dialect(
    call=_keywords,
    join="join() <END_OF_PLAN>",  # its prompt's example: `3. join() <END_OF_PLAN>`
    planner=_system_starts(PLANNER_PROMPT),
    joiner=_system_starts("Solve a question answering task. Here are some guidelines"),
    # Its joiner prompt's "Option #2": a Markdown JSON block with `_thought_` and `_finish_`.
    reply=lambda thought, answer: (
        "```json\n"
        + json.dumps({"_thought_": thought, "_finish_": answer}, ensure_ascii=False, indent=4)
        + "\n```"
    ),
)

ORIGINAL = Dialect(
    call=_positional,  # its parser reads the arguments with `ast.literal_eval`, positional
    join="join()<END_OF_PLAN>",  # its prompts' examples: `3. join(){END_OF_PLAN}`
    planner=_system_starts(PLANNER_PROMPT),
    joiner=_system_starts("Solve a question answering task with interleaving"),
    # Its joiner prompts' examples: `Thought: …` then `Action: Finish(answer)`.
    reply=lambda thought, answer: f"Thought: {thought}\nAction: Finish({answer})",
)

LLAMA_INDEX = Dialect(
    call=_positional,
    join="join()<END_OF_PLAN>",  # its prompt's examples: `8. join()<END_OF_PLAN>`
    planner=_system_starts(PLANNER_PROMPT),
    joiner=_system_starts("Solve a question answering task with interleaving"),
    # Its joiner prompt's examples: `Thought: …` then `Action: finish(answer)`.
    reply=lambda thought, answer: f"Thought: {thought}\nAction: finish({answer})",
)
