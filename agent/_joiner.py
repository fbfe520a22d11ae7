"""The joiner node: reads the results, then answers or asks for a new plan.

It speaks the text protocol of docs/protocol.md (`Thought:` / `Action: Finish(...)` or
`Replan(...)`, read by `agent._joiner_reply`) so any chat model can drive it. What the model
writes as its answer reaches the user as written: only protocol lines are taken out, and only
an answer that is one reference as a whole (`Finish($3)`) is replaced by that result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langgraph.graph import END
from langgraph.runtime import Runtime

from agent import _events as events
from agent._answer_stream import AnswerStream
from agent._causes import model_failure, replans_exhausted, round_failure, turn_error
from agent._context import Context, context_of, price_override
from agent._errors import FieldAccessError
from agent._joiner_reply import JoinerDecision, parse_joiner_output
from agent._output_cap import OutputCap
from agent._prompts import joiner_prompt
from agent._references import (
    find_references,
    is_exact_reference,
    resolve_references,
    result_text,
)
from agent._results import preview
from agent._state import RoundRecord, State, TaskRecord, question_message
from agent._usage import Usage, UsageMeter, current_callbacks, metered, total
from agent.models import ModelSpec, astream_with_retry, resolve_model

FOUND_PREVIEW_CHARS = 300


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
    decision: JoinerDecision,
    tasks: Sequence[TaskRecord],
    can_replan: bool,
    framing: Collection[str] = (),
) -> JoinerDecision:
    """The decision with its answer fit for a user.

    Lines copied verbatim from the engine's own framing of the prompt (`framing`, see
    `joiner_prompt`) are dropped. An answer that is one reference as a whole (`$3`,
    `${2}.name`, N a task of the turn) is that result's text; `$2` inside prose is text
    (money), never touched. An empty answer gives what was found; a whole-answer reference to
    a task without a result goes back for a replan while replans remain, else gives what was
    found. A replan whose reason is nothing but copied framing (the format's
    `<what is missing and why>`) decided nothing: it is no answer, and never a new plan (the
    engine does not guess in favour of running tools).
    """
    if decision.action == "replan":
        if decision.content and not _without_copied_framing(decision.content, framing).strip():
            return JoinerDecision("finish", _give_up("the joiner gave no answer", tasks))
        return decision
    answer = _without_copied_framing(decision.content, framing).strip()
    if is_exact_reference(answer) and _names_a_task(answer, tasks):
        resolved = _direct_answer(answer, tasks)
        if resolved is None:
            reason = f"the answer {answer} names a task without a result"
            if can_replan:
                return JoinerDecision("replan", reason, decision.thought)
            return JoinerDecision("finish", _give_up(reason, tasks), decision.thought)
        answer = resolved.strip()
    if not answer:
        return JoinerDecision("finish", _give_up("the joiner gave no answer", tasks))
    return JoinerDecision("finish", answer, decision.thought)


_LIST_NUMBER = re.compile(r"^\d+[.)][ \t]+")


def _without_copied_framing(answer: str, framing: Collection[str]) -> str:
    """`answer` without the lines that copy the prompt's framing (a list number before the
    copy, `3. Replanning is allowed.`, is part of the copy); untouched when there are none."""
    lines = answer.splitlines()
    kept = [
        line
        for line in lines
        if line.strip() not in framing and _LIST_NUMBER.sub("", line.strip()) not in framing
    ]
    if len(kept) == len(lines):
        return answer
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept))


def _names_a_task(reference: str, tasks: Sequence[TaskRecord]) -> bool:
    """`$N` names a task when N is one of the turn's (else it is text, like `$5`)."""
    named, _ = find_references(reference, {t["idx"] for t in tasks})
    return bool(named)


def _give_up(reason: str, tasks: Sequence[TaskRecord]) -> str:
    """The final answer when no replan is left (or a model failed): say so, give the results."""
    return f"I could not fully answer the question: {reason}\n{_found(tasks)}"


async def _stream_decision(
    chat: BaseChatModel,
    prompt: list[BaseMessage],
    retries: int,
    meter: UsageMeter,
    read: Callable[[str], JoinerDecision],
    stream: AnswerStream,
    cap: OutputCap,
) -> JoinerDecision:
    """Run the joiner model (one chat-model run, metered, hidden from chat streams) and show
    its answer to chat clients as it settles; `read` turns the whole reply into the final
    decision, which ends the stream. Reading stops once the decision is complete (a closed
    `Finish(...)` line: what a model writes after it is never read, so it is not waited for)
    and at the output cap, whatever the server honours."""
    config = metered(
        {"run_name": "joiner_model", "tags": ["nostream", "llmcompiler:joiner"]},
        meter,
        current_callbacks(),
    )
    reply = astream_with_retry(chat, prompt, retries=retries, config=config)
    try:
        async for chunk in reply:
            decided = stream.feed(chunk.text)
            if cap.reached(chunk.text) or decided:  # past the cap, whatever the server honours
                break
    except Exception:
        stream.withdraw("the joiner model failed before its reply was complete")
        raise
    finally:
        await reply.aclose()  # closes the model's stream, so a server stops generating
        meter.count_unfinished(stream.raw, getattr(chat, "model_name", None))
    decision = read(stream.raw)
    answer = decision.content if decision.action == "finish" else None
    stream.close(
        answer, "the reply asked for a new plan" if answer is None else "the reply changed"
    )
    return decision


@dataclass
class _Verdict:
    """What the joiner decided, and what the run's record needs of how it got there."""

    decision: JoinerDecision
    failure: str | None = None
    """Why the turn failed (the run's `error`), when it did."""
    stream: AnswerStream | None = None
    """The answer as streamed to chat clients, when the joiner model was asked."""


async def _ask_model(
    state: State,
    ctx: Context,
    spec: ModelSpec,
    tools: Collection[str],
    meter: UsageMeter,
    can_replan: bool,
) -> _Verdict:
    """Ask the joiner model; a model that cannot be built or fails gives up with the results."""
    current = state.rounds[-1]
    question = question_message(state)
    try:
        chat = resolve_model(
            spec,
            base_url=ctx.base_url,
            temperature=ctx.temperature,
            max_tokens=ctx.max_output_tokens,
            timeout=ctx.model_timeout_s,
        )
        prompt = joiner_prompt(
            messages=state.messages,
            question=question.text if question is not None else "",
            tasks=state.tasks,
            plan_note=current["plan_error"],
            plan_notes=current.get("plan_notes", []),
            can_replan=can_replan,
            limit=ctx.result_preview_chars,
            thought=ctx.joiner_thought,
        )
        stream = AnswerStream(tools, current["round"])
        decision = await _stream_decision(
            chat,
            prompt.messages,
            ctx.llm_retries,
            meter,
            lambda raw: clean_answer(
                parse_joiner_output(raw, tools), state.tasks, can_replan, prompt.framing
            ),
            stream,
            OutputCap(ctx.max_output_tokens),
        )
    except Exception as exc:
        failure = model_failure("joiner", exc)
        return _Verdict(JoinerDecision("finish", _give_up(failure, state.tasks)), failure)
    return _Verdict(decision, stream=stream)


async def _decide(
    state: State, ctx: Context, spec: ModelSpec, tools: Collection[str], meter: UsageMeter
) -> _Verdict:
    """Finish or replan: a rejected plan replans, a plan whose final task answers needs no
    model, an unreadable plan gives up, else the model decides; with no replan left, a
    replan becomes a final answer that says what is missing."""
    current = state.rounds[-1]
    round_tasks = [t for t in state.tasks if t["round"] == current["round"]]
    can_replan = current["round"] <= ctx.max_replans
    review = state.review
    final = current["final"]
    if review is not None and review["verdict"] == "edited":  # the approved plan decides
        final = review.get("final") if ctx.direct_answers else None
    direct = _direct_answer(final, round_tasks)
    if review is not None and review["verdict"] == "rejected":
        reason = f"the reviewer rejected plan {current['round']}: {review['reason']}"
        verdict = _Verdict(JoinerDecision("replan", reason))
    elif direct is not None:
        verdict = _Verdict(JoinerDecision("finish", direct, "the plan's final task is the answer"))
    elif current["plan_error"] and not round_tasks:
        failure = current["plan_error"]
        verdict = _Verdict(JoinerDecision("finish", _give_up(failure, state.tasks)), failure)
    else:
        verdict = await _ask_model(state, ctx, spec, tools, meter, can_replan)
    decision = verdict.decision
    found = any(t["status"] == "done" for t in state.tasks)
    if decision.action == "finish" and verdict.failure is None and not found:
        verdict.failure = round_failure(current, round_tasks)
    if decision.action == "replan" and not can_replan:
        last = None if found else round_failure(current, round_tasks)
        verdict.failure = replans_exhausted(ctx.max_replans, decision.content, last)
        verdict.decision = JoinerDecision(
            "finish",
            _give_up(
                f"no replans left (max_replans={ctx.max_replans}); "
                f"still missing: {decision.content}",
                state.tasks,
            ),
            decision.thought,
        )
    return verdict


def _record(state: State, verdict: _Verdict, meter: UsageMeter) -> dict[str, Any]:
    """The state update of a verdict: the round's record, the turn's usage and error, and
    the answer message (or the `replan` event)."""
    decision = verdict.decision
    current = state.rounds[-1]
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
        update["error"] = None
        events.replan(current["round"] + 1, decision.content)
        return update
    update["error"] = turn_error(verdict.failure, rounds, state.tasks)
    # The streamed answer and the stored one are one message (same id) when they agree.
    stream = verdict.stream
    message_id = stream.message_id_for(decision.content) if stream else None
    update["messages"] = [AIMessage(decision.content, name="llmcompiler", id=message_id)]
    return update


def make_joiner(
    model: ModelSpec | None, planner: ModelSpec | None, tools: Collection[str] = ()
) -> Any:
    """Build the joiner node; with no joiner model of its own it uses the planner's. `tools`
    names the graph's tools: a reply line calling one is a copied plan line, not answer."""

    async def joiner(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        ctx = context_of(runtime.context)
        meter = UsageMeter(price_override(ctx))
        spec = model or ctx.joiner_model or planner or ctx.planner_model
        verdict = await _decide(state, ctx, spec, tools, meter)
        return _record(state, verdict, meter)

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
