"""Planner and joiner prompts: lean (every token is prefill latency), never vague.

The planner sees the tool list, the plan language, worked examples, the conversation, and on a
replan the earlier plans with their observations and the joiner's reasons. The joiner sees the
question and the results and answers in the text protocol of docs/protocol.md, which any chat
model can follow (no tool calling needed).

Each system prompt is byte-identical across questions and rounds (what changes, the first
index of a replan and whether the joiner may replan, sits in the last message), so servers
that reuse a prompt prefix (llama.cpp's prompt cache, hosted prompt caching) prefill only the
question. The wording shows real indices (`1. tool(...)`), never a placeholder a weak model
could copy into its plan or answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AnyMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from agent._references import result_text
from agent._results import preview
from agent._state import RoundRecord, TaskRecord

HISTORY_MESSAGES = 6
"""Earlier conversation messages shown to the planner and joiner (follow-up questions)."""

PLANNER_SYSTEM = """\
Plan how to answer the user's question with the tools below, running as many calls in \
parallel as possible.

Tools:
{tools}
join(): ends the plan; afterwards the results are read and the question answered.

Write one numbered action per line, arguments as Python literals: `1. tool(arguments)`, \
then `2. tool(arguments)`, and so on.
- Pass an earlier result with the string "$N" (e.g. context=["$1", "$2"]), one field of a \
structured result with "$N.field" or "$N[0]"; inside a longer string $N is replaced by that \
result's text. Never guess a result you can fetch.
- Independent actions must not reference each other, so they run at once.
- An optional `Thought: ...` line may precede an action.
- Use only the tools above. Write only the plan: no Markdown, no prose. End with a numbered \
`join()` line and write nothing after it.{direct}

Examples (tools in examples may differ from yours):
{examples}"""

REPLAN_CONTEXT = """\
Earlier plans for this question and their results:
{history}
Make a new plan for what is still missing. Reuse earlier results by reference (such as "$1") \
instead of repeating calls. Number new actions from {first_idx}."""

JOINER_SYSTEM = """\
Answer the user's question using the results of the executed plan.
Reply in exactly this form:
{thought}Action: Finish(<the answer>)
When replanning is allowed and the results cannot answer the question (failed calls, missing \
facts), instead reply
Action: Replan(<what is missing and why>)
Be concise; the answer should state the result directly."""

JOINER_THOUGHT = "Thought: <one short sentence on what the results show>\n"
"""The thought the joiner writes first when `Context.joiner_thought` is on (the paper's
format); off, the reply starts with its answer, ~10-20 output tokens sooner."""


def joiner_system(thought: bool) -> str:
    """The joiner's system prompt: byte-identical for every question of one setting."""
    return JOINER_SYSTEM.format(thought=JOINER_THOUGHT if thought else "")


JOINER_PLACEHOLDERS = frozenset(re.findall(r"<[^<>\n]+>", JOINER_SYSTEM + JOINER_THOUGHT))
"""The reply format's placeholders (`<the answer>`, ...): a weak model copies one as its whole
answer or replan reason (`Action: Replan(<what is missing and why>)`), which decides nothing."""


NOTES_HEADER = "Plan lines that were not actions (the plan may be incomplete):"

REPLAN_ALLOWED = "Replanning is allowed."

REPLAN_FORBIDDEN = "No more replanning is possible: answer with the best you can from the results."

_JSON_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "array": "list",
    "object": "dict",
    "null": "None",
}


def _type_name(schema: Mapping[str, Any]) -> str:
    if "anyOf" in schema:
        return " | ".join(_type_name(option) for option in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array" and isinstance(schema.get("items"), Mapping) and schema["items"]:
        return f"list[{_type_name(schema['items'])}]"
    if isinstance(kind, str):
        return _JSON_TYPES.get(kind, kind)
    return "Any"


_PLACEHOLDERS: dict[str, Any] = {"integer": 1, "number": 1.5, "boolean": True, "object": {}}


def _example_call(tool: BaseTool, what: str, refs: Sequence[str] = ()) -> str:
    """`tool(first_param=...)`, its value saying what goes there (or the references)."""
    parameters = convert_to_openai_tool(tool)["function"].get("parameters", {})
    properties = parameters.get("properties", {})
    if not properties:
        return f"{tool.name}()"
    name, schema = next(iter(properties.items()))
    kind = schema.get("type")
    if kind == "array":
        value: Any = list(refs) or [what]
    elif kind in _PLACEHOLDERS:
        value = _PLACEHOLDERS[kind]
    else:
        value = f"{what} {' and '.join(refs)}".strip() if refs else what
    literal = json.dumps(value) if isinstance(value, str | list) else repr(value)
    return f"{tool.name}({name}={literal})"  # strings in double quotes, as plans write them


def derived_examples(tools: Sequence[BaseTool]) -> str:
    """The planner's worked example when none is given: the plan language's shape written
    with the graph's own tools and parameter names (a model copies what it sees, so an
    example naming tools the graph lacks would be copied as unknown calls)."""
    if not tools:
        return "Question: Say hello.\n1. join()"
    first, last = tools[0], tools[-1]
    return "\n".join(
        [
            "Question: (a question needing two independent facts, then a step using both)",
            f"1. {_example_call(first, 'the first fact to find')}",
            f"2. {_example_call(first, 'the second fact to find')}",
            "Thought: the last step needs both results",
            f"3. {_example_call(last, 'combine', ['$1', '$2'])}",
            "4. join()",
        ]
    )


def describe_tool(tool: BaseTool) -> str:
    """`name(arg: type, opt: type = default): description`, from the tool's call schema."""
    parameters = convert_to_openai_tool(tool)["function"].get("parameters", {})
    required = set(parameters.get("required", []))
    rendered = []
    for name, schema in parameters.get("properties", {}).items():
        text = f"{name}: {_type_name(schema)}"
        if name not in required:
            text += f" = {schema.get('default')!r}"
        rendered.append(text)
    description = " ".join((tool.description or "").split())
    return f"{tool.name}({', '.join(rendered)}): {description}"


def _history(messages: Sequence[AnyMessage]) -> list[BaseMessage]:
    """Earlier turns as plain text messages (tool-call scaffolding is not the planner's)."""
    earlier = [m for m in messages if m.type in ("human", "ai") and m.text]
    return [
        HumanMessage(m.text) if m.type == "human" else HumanMessage(f"(your answer) {m.text}")
        for m in earlier[-HISTORY_MESSAGES - 1 : -1]
    ]


def format_task_line(record: TaskRecord, limit: int) -> str:
    """One executed task as the planner and joiner read it: call, then outcome."""
    args = ", ".join(f"{name}={value!r}" for name, value in record["args"].items())
    call = f"{record['idx']}. {record['tool']}({args})"
    if record["status"] == "done":
        return f"{call}\n   -> {result_text(preview(record['result'], limit))}"
    return f"{call}\n   -> {record['status'].upper()}: {record['error']}"


DIRECT_ANSWER_RULE = """
- If one action's result, exactly as returned, is the whole answer (e.g. the number asked \
for), end with `join(final="$3")` (3 being that action's number) to answer with it directly."""


def planner_messages(
    *,
    direct_answers: bool,
    tools: Sequence[BaseTool],
    examples: str,
    messages: Sequence[AnyMessage],
    question: str,
    earlier_tasks: Sequence[TaskRecord],
    earlier_rounds: Sequence[RoundRecord],
    first_idx: int,
    limit: int,
) -> list[BaseMessage]:
    system = PLANNER_SYSTEM.format(
        tools="\n".join(describe_tool(t) for t in tools),
        examples=examples,
        direct=DIRECT_ANSWER_RULE if direct_answers else "",
    )
    prompt: list[BaseMessage] = [SystemMessage(system), *_history(messages)]
    request = f"Question: {question}"
    if earlier_rounds:
        history = []
        for round_record in earlier_rounds:
            lines = [
                format_task_line(r, limit)
                for r in earlier_tasks
                if r["round"] == round_record["round"]
            ]
            history.append(
                f"Plan {round_record['round']}:\n"
                + ("\n".join(lines) or "(no tasks)")
                + f"\nWhy it was not enough: {round_record['replan_reason']}"
            )
        request += "\n\n" + REPLAN_CONTEXT.format(history="\n\n".join(history), first_idx=first_idx)
    prompt.append(HumanMessage(request))
    return prompt


@dataclass(frozen=True)
class JoinerPrompt:
    """The joiner's messages, and the lines of its last message the engine wrote around the
    results: each result's `-> ...` line, the `Note:` line, the notes' header and `- note`
    lines, the replan line; and the reply format's placeholders.

    A weak model copies the end of its prompt into its answer; a line of the answer equal to
    one of `framing` is that copy, never an honest answer of its own (the question, the
    `Results:` header and the call lines are not among them: generic words, or protocol the
    reply reader already knows)."""

    messages: list[BaseMessage]
    framing: frozenset[str]


def joiner_prompt(
    *,
    messages: Sequence[AnyMessage],
    question: str,
    tasks: Sequence[TaskRecord],
    plan_note: str | None,
    can_replan: bool,
    plan_notes: Sequence[str] = (),
    limit: int,
    thought: bool = False,
) -> JoinerPrompt:
    listings = [format_task_line(r, limit) for r in tasks]
    body = f"Question: {question}\n\nResults:\n" + ("\n".join(listings) or "(no tasks were run)")
    framing = {lines[1] for lines in map(str.splitlines, listings) if len(lines) > 1}
    framing.update(JOINER_PLACEHOLDERS)
    sections = [f"Note: {plan_note}"] if plan_note else []
    if plan_notes:
        sections.append("\n".join([NOTES_HEADER, *(f"- {note}" for note in plan_notes)]))
    sections.append(REPLAN_ALLOWED if can_replan else REPLAN_FORBIDDEN)
    for section in sections:
        body += f"\n\n{section}"
        framing.update(section.splitlines())
    return JoinerPrompt(
        [SystemMessage(joiner_system(thought)), *_history(messages), HumanMessage(body)],
        frozenset(line.strip() for line in framing if line.strip()),
    )
