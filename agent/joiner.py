"""The joiner node: reads the results, then answers or asks for a new plan.

It speaks the text protocol of docs/protocol.md (`Thought:` / `Action: Finish(...)` or `Replan(...)`)
so any chat model can drive it; output it cannot parse is taken as the answer itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langgraph.graph import END
from langgraph.runtime import Runtime

from agent import events
from agent.answer import AnswerStream
from agent.context import Context, context_of, price_override
from agent.errors import FieldAccessError
from agent.models import ModelSpec, resolve_model
from agent.prompts import joiner_messages
from agent.references import resolve_references, result_text
from agent.results import preview
from agent.state import RoundRecord, State, TaskRecord, question_message
from agent.usage import Usage, UsageMeter, total

_ACTION = re.compile(r"Action\s*:\s*(Finish|Replan)\s*\(", re.IGNORECASE)
_THOUGHT = re.compile(r"Thought\s*:\s*(.*?)(?=\n\s*Action\s*:|\Z)", re.IGNORECASE | re.DOTALL)
FOUND_PREVIEW_CHARS = 300


@dataclass(frozen=True)
class JoinerDecision:
    """The joiner's verdict: `content` is the answer (finish) or the reason (replan)."""

    action: Literal["finish", "replan"]
    content: str
    thought: str | None = None


def parse_joiner_output(text: str) -> JoinerDecision:
    """Parse `Thought: …` / `Action: Finish(…)|Replan(…)`; anything else is the answer itself.

    The argument runs from after `Finish(` to the *last* `)` of the output, so answers may
    contain parentheses and newlines.
    """
    thought_match = _THOUGHT.search(text)
    thought = thought_match.group(1).strip() if thought_match else None
    actions = list(_ACTION.finditer(text))
    if not actions:
        return JoinerDecision("finish", text.strip(), None)
    action = actions[-1]
    body = text[action.end() :]
    close = body.rfind(")")
    content = (body[:close] if close >= 0 else body).strip()
    kind: Literal["finish", "replan"] = (
        "replan" if action.group(1).lower() == "replan" else "finish"
    )
    return JoinerDecision(kind, content, thought)


def _found(tasks: Sequence[TaskRecord]) -> str:
    done = [t for t in tasks if t["status"] == "done"]
    if not done:
        return "No task produced a result."
    lines = [
        f"${t['idx']} {t['tool']}: {result_text(preview(t['result'], FOUND_PREVIEW_CHARS))}"
        for t in done
    ]
    return "What was found:\n" + "\n".join(lines)


def _direct_answer(current: RoundRecord, tasks: Sequence[TaskRecord]) -> str | None:
    """The answer named by `join(final="$N")`, if task N succeeded (else the joiner decides)."""
    final = current.get("final")
    if not final:
        return None
    done = {t["idx"]: t["result"] for t in tasks if t["status"] == "done"}
    try:
        value = resolve_references(final, done)
    except FieldAccessError:
        return None
    return None if value == final else result_text(value)


def _give_up(reason: str, tasks: Sequence[TaskRecord]) -> str:
    """The final answer when no replan is left (or a model failed): say so, give the results."""
    return f"I could not fully answer the question: {reason}\n{_found(tasks)}"


async def _stream_decision(
    chat: BaseChatModel, prompt: list[BaseMessage], retries: int, meter: UsageMeter
) -> tuple[JoinerDecision, AIMessageChunk | None]:
    """Run the joiner, streaming its answer (only) to chat clients as it is written."""

    def final_answer(raw: str) -> str | None:
        decision = parse_joiner_output(raw)
        return decision.content if decision.action == "finish" else None

    view = AnswerStream(source=chat, meter=meter, retries=retries, parse=final_answer)
    streamed: AIMessageChunk | None = None
    async for chunk in view.astream(
        prompt, config={"run_name": "joiner_answer", "tags": ["llmcompiler:joiner"]}
    ):
        streamed = chunk if streamed is None else streamed + chunk
    return parse_joiner_output(view.extractor.raw), streamed


def make_joiner(model: ModelSpec | None, planner: ModelSpec | None) -> Any:
    """Build the joiner node; with no joiner model of its own it uses the planner's."""

    async def joiner(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        ctx = context_of(runtime.context)
        current = state.rounds[-1]
        round_tasks = [t for t in state.tasks if t["round"] == current["round"]]
        can_replan = current["round"] <= ctx.max_replans
        question = question_message(state)
        streamed: AIMessageChunk | None = None
        meter = UsageMeter(price_override(ctx))
        direct = _direct_answer(current, round_tasks)
        review = state.review
        if review is not None and review["verdict"] == "rejected":
            reason = f"the reviewer rejected plan {current['round']}: {review['reason']}"
            decision = JoinerDecision("replan", reason)
        elif direct is not None:
            decision = JoinerDecision("finish", direct, "the plan's final task is the answer")
        elif current["plan_error"] and not round_tasks:
            decision = JoinerDecision("finish", _give_up(current["plan_error"], state.tasks))
        else:
            try:
                spec = model or ctx.joiner_model or planner or ctx.planner_model
                chat = resolve_model(spec, base_url=ctx.base_url, temperature=ctx.temperature)
                prompt = joiner_messages(
                    messages=state.messages,
                    question=question.text if question is not None else "",
                    tasks=state.tasks,
                    plan_note=current["plan_error"],
                    can_replan=can_replan,
                    limit=ctx.result_preview_chars,
                )
                decision, streamed = await _stream_decision(chat, prompt, ctx.llm_retries, meter)
            except Exception as exc:
                failure = f"the joiner model failed: {type(exc).__name__}: {exc}"
                decision = JoinerDecision("finish", _give_up(failure, state.tasks))
        if decision.action == "replan" and not can_replan:
            decision = JoinerDecision(
                "finish",
                _give_up(
                    f"no replans left (max_replans={ctx.max_replans}); "
                    f"still missing: {decision.content}",
                    state.tasks,
                ),
                decision.thought,
            )
        record: RoundRecord = {
            **current,
            "decision": decision.action,
            "joiner_usage": meter.usage,
            "joiner_thought": decision.thought,
            "replan_reason": decision.content if decision.action == "replan" else None,
        }
        rounds = [*state.rounds[:-1], record]
        update: dict[str, Any] = {"rounds": rounds, "usage": turn_usage(rounds, state.tasks)}
        if decision.action == "replan":
            events.replan(current["round"] + 1, decision.content)
        else:
            # The streamed answer and the stored one are one message (same id) when they agree.
            same = streamed is not None and streamed.text == decision.content
            message_id = streamed.id if same and streamed is not None else None
            update["messages"] = [AIMessage(decision.content, name="llmcompiler", id=message_id)]
        return update

    return joiner


def turn_usage(rounds: Sequence[RoundRecord], tasks: Sequence[TaskRecord]) -> Usage:
    """Everything the turn's LLM calls cost so far: plans, joiner calls, and tools' own."""
    return total(
        [
            *(r["planner_usage"] for r in rounds),
            *(r["joiner_usage"] for r in rounds),
            *(t.get("usage") for t in tasks),
        ]
    )


def route_after_joiner(state: State) -> list[str] | str:
    """Replan: planner and scheduler start together again. Finish: the run ends."""
    if state.rounds and state.rounds[-1]["decision"] == "replan":
        return ["planner", "scheduler"]
    return END
