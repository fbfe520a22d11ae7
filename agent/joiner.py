"""The joiner node: reads the results, then answers or asks for a new plan.

It speaks the text protocol of docs/protocol.md (`Thought:` / `Action: Finish(...)` or
`Replan(...)`, read forgivingly by `agent.reply`) so any chat model can drive it. The answer a
user receives is clean: references to results are resolved, and a reply that still holds
protocol text is sent back for a replan while replans remain, or scrubbed when none do.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langgraph.graph import END
from langgraph.runtime import Runtime

from agent import events
from agent.answer import VIEW_TAG, AnswerStream
from agent.causes import model_failure, replans_exhausted, round_failure, turn_error
from agent.context import Context, context_of, price_override
from agent.errors import FieldAccessError
from agent.models import ModelSpec, resolve_model
from agent.prompts import joiner_messages
from agent.references import resolve_references, result_text
from agent.reply import SCAFFOLDING, JoinerDecision, parse_joiner_output, protocol_lines
from agent.results import preview
from agent.state import RoundRecord, State, TaskRecord, question_message
from agent.usage import Usage, UsageMeter, total

FOUND_PREVIEW_CHARS = 300
_REFERENCE = re.compile(r"\$\{?(\d+)")


def _found(tasks: Sequence[TaskRecord]) -> str:
    done = [t for t in tasks if t["status"] == "done"]
    if not done:
        return "No task produced a result."
    lines = [
        f"- {t['tool']} (task {t['idx']}): {result_text(preview(t['result'], FOUND_PREVIEW_CHARS))}"
        for t in done
    ]
    return "What was found:\n" + "\n".join(lines)


def _direct_answer(final: str | None, tasks: Sequence[TaskRecord]) -> str | None:
    """The answer named by `join(final="$N")`, if task N succeeded (else the joiner decides)."""
    if not final:
        return None
    done = {t["idx"]: t["result"] for t in tasks if t["status"] == "done"}
    try:
        value = resolve_references(final, done)
    except FieldAccessError:
        return None
    return None if value == final else result_text(value)


def clean_answer(
    decision: JoinerDecision, tasks: Sequence[TaskRecord], can_replan: bool
) -> JoinerDecision:
    """The decision with its answer fit for a user.

    References to results (`$1`, `${2}.name`) are resolved to the results' text. An empty
    answer gives what was found; an answer that still holds protocol text or a reference to
    a task without a result goes back for a replan while replans remain, else is scrubbed.
    """
    if decision.action != "finish":
        return decision
    done = {t["idx"]: t["result"] for t in tasks if t["status"] == "done"}
    try:
        resolved = resolve_references(decision.content, done)
    except FieldAccessError:
        resolved = decision.content
    answer = (resolved if isinstance(resolved, str) else result_text(resolved)).strip()
    if not answer:
        return JoinerDecision("finish", _give_up("the joiner gave no answer", tasks))
    indices = {t["idx"] for t in tasks}
    dangling = any(int(n) in indices for n in _REFERENCE.findall(answer))
    leaked = protocol_lines(answer)
    if not dangling and not leaked and SCAFFOLDING.search(answer) is None:
        return JoinerDecision("finish", answer, decision.thought)
    if can_replan:
        reason = "the answer held protocol text, a plan line or a reference without a result"
        return JoinerDecision("replan", reason, decision.thought)
    kept = "\n".join(line for line in answer.splitlines() if line not in leaked)
    scrubbed = _REFERENCE.sub("", SCAFFOLDING.sub("", kept)).strip(" \n()")
    return JoinerDecision("finish", scrubbed or _give_up("no clean answer", tasks))


def _give_up(reason: str, tasks: Sequence[TaskRecord]) -> str:
    """The final answer when no replan is left (or a model failed): say so, give the results."""
    return f"I could not fully answer the question: {reason}\n{_found(tasks)}"


async def _stream_decision(
    chat: BaseChatModel,
    prompt: list[BaseMessage],
    retries: int,
    meter: UsageMeter,
    read: Callable[[str], JoinerDecision],
) -> tuple[JoinerDecision, AIMessageChunk | None]:
    """Run the joiner, streaming its answer (only) to chat clients as it is written; `read`
    turns the whole reply into the final decision (the stream ends with that answer, and the
    reply is read once for both)."""
    read = functools.lru_cache(maxsize=1)(read)

    def final_answer(raw: str) -> str | None:
        decision = read(raw)
        return decision.content if decision.action == "finish" else None

    view = AnswerStream(source=chat, meter=meter, retries=retries, parse=final_answer)
    streamed: AIMessageChunk | None = None
    async for chunk in view.astream(
        prompt,
        config={"run_name": "joiner_answer", "tags": ["llmcompiler:joiner", VIEW_TAG]},
    ):
        streamed = chunk if streamed is None else streamed + chunk
    return read(view.extractor.raw), streamed


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
        review = state.review
        final = current["final"]
        if review is not None and review["verdict"] == "edited":  # the approved plan decides
            final = review.get("final") if ctx.direct_answers else None
        direct = _direct_answer(final, round_tasks)
        failure: str | None = None
        if review is not None and review["verdict"] == "rejected":
            reason = f"the reviewer rejected plan {current['round']}: {review['reason']}"
            decision = JoinerDecision("replan", reason)
        elif direct is not None:
            decision = JoinerDecision("finish", direct, "the plan's final task is the answer")
        elif current["plan_error"] and not round_tasks:
            failure = current["plan_error"]
            decision = JoinerDecision("finish", _give_up(failure, state.tasks))
        else:
            try:
                spec = model or ctx.joiner_model or planner or ctx.planner_model
                chat = resolve_model(
                    spec,
                    base_url=ctx.base_url,
                    temperature=ctx.temperature,
                    max_tokens=ctx.max_output_tokens,
                    timeout=ctx.model_timeout_s,
                )
                prompt = joiner_messages(
                    messages=state.messages,
                    question=question.text if question is not None else "",
                    tasks=state.tasks,
                    plan_note=current["plan_error"],
                    plan_notes=current.get("plan_notes", []),
                    can_replan=can_replan,
                    limit=ctx.result_preview_chars,
                )
                decision, streamed = await _stream_decision(
                    chat,
                    prompt,
                    ctx.llm_retries,
                    meter,
                    lambda raw: clean_answer(parse_joiner_output(raw), state.tasks, can_replan),
                )
            except Exception as exc:
                failure = model_failure("joiner", exc)
                decision = JoinerDecision("finish", _give_up(failure, state.tasks))
        found = any(t["status"] == "done" for t in state.tasks)
        if decision.action == "finish" and failure is None and not found:
            failure = round_failure(current, round_tasks)
        if decision.action == "replan" and not can_replan:
            last = None if found else round_failure(current, round_tasks)
            failure = replans_exhausted(ctx.max_replans, decision.content, last)
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
        update["error"] = (
            turn_error(failure, rounds, state.tasks) if decision.action == "finish" else None
        )
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
