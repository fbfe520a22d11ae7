"""The planner node: streams the plan and hands each task to the scheduler as it is parsed.

The model call is a LangGraph `@task`: its result (the plan text) is checkpointed, so a
resumed run replays the same plan instead of asking the model again, and the scheduler issues
the same tool calls in the same order (LangGraph matches task results by call position).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.func import task
from langgraph.runtime import Runtime

from agent import _events as events
from agent._causes import model_failure
from agent._context import Context, context_of, price_override
from agent._inputs import check_question
from agent._live_round import (
    LiveRound,
    join_round,
    leave_round,
    live_round,
    restored_writes,
    round_key,
    step_checkpoint,
)
from agent._output_cap import OutputCap
from agent._prompts import planner_messages
from agent._state import (
    RoundRecord,
    State,
    current_round,
    question_id,
    question_message,
    turn_id,
    turn_rounds,
    turn_tasks,
)
from agent._toolset import Toolset
from agent._usage import Usage, UsageMeter, current_callbacks, metered, no_usage
from agent.models import ModelSpec, astream_with_retry, resolve_model
from agent.plan import PlanParser, Task, read_plan


class PlanOutput(TypedDict):
    """What the checkpointed model call returns: the raw plan text, and why it stopped early."""

    text: str
    error: str | None
    usage: Usage
    notes: NotRequired[list[str]]
    """Plan lines that were none of task, `Thought:` or the plan's end."""
    cut_off: NotRequired[bool]
    """The output stopped before the model finished (token cap, broken stream): a replay
    reads the text the same way, so an unfinished last line stays unrun."""


def _hand_off(live: LiveRound, tasks: Sequence[Task], round_: int) -> int:
    """Emit the plan events of newly parsed tasks, hand them off; return how many (no join)."""
    live.live_plan.extend(tasks)
    count = events.tasks_planned(tasks, round_, live.context.result_preview_chars)
    if live.context.streaming_dispatch and not live.context.approve_plan:
        live.handoff.send(tasks)
    return count


async def stream_plan(
    key: str, prompt: list[BaseMessage], round_: int, known: list[int]
) -> PlanOutput:
    """Stream the planner model, parsing and dispatching each task line as it completes.

    The plan ends at `join()` (or `<END_OF_PLAN>`): the stream is closed there and the round
    goes on at once. A model failure before the first token (after retries) or in mid-stream
    ends the plan where it stands: tasks already dispatched stay consistent with the recorded
    text, and the joiner sees the error.
    """
    live = live_round(key)
    ctx = live.context
    parser = PlanParser(live.tools, known=known, max_tasks=ctx.max_tasks_per_plan)
    pieces: list[str] = []
    n_tasks = 0
    error: str | None = None
    meter = UsageMeter(price_override(ctx))
    cut_off = False  # the output stopped before the model finished its plan
    cap = OutputCap(ctx.max_output_tokens)
    try:
        model = live.planner_model
        assert model is not None
        config: RunnableConfig = {
            "run_name": "planner_model",
            "tags": ["nostream", "llmcompiler:planner"],
        }
        stream = astream_with_retry(
            model,
            prompt,
            retries=ctx.llm_retries,
            config=metered(config, meter, current_callbacks()),
        )
        try:
            async for chunk in stream:
                piece = chunk.text
                cut_off = cut_off or stopped_at_cap(chunk.response_metadata)
                if piece:
                    pieces.append(piece)
                    n_tasks += _hand_off(live, parser.feed(piece), round_)
                    _note(parser, round_)
                    if parser.ended:  # commentary after join() is not waited for
                        break
                    if cap.reached(piece):  # a server that ignored the cap: stop reading
                        cut_off = True
                        break
        finally:
            await stream.aclose()  # closes the model's stream, so a server stops generating
            meter.count_unfinished("".join(pieces), getattr(model, "model_name", None))
    except Exception as exc:
        error = model_failure("planner", exc)
        cut_off = True
    n_tasks += _hand_off(live, parser.close(cut_off=cut_off), round_)
    _note(parser, round_)
    events.plan_finished(round_, n_tasks)
    return PlanOutput(
        text="".join(pieces),
        error=error,
        usage=meter.usage,
        notes=parser.notes,
        cut_off=cut_off,
    )


def _note(parser: PlanParser, round_: int) -> None:
    """Emit the plan notes the parser found since the last call."""
    for text in parser.take_notes():
        events.plan_note(round_, text)


_CAP_REASONS = {
    "finish_reason": ("length", "max_tokens", "MAX_TOKENS"),  # OpenAI-compatible, Gemini
    "stop_reason": ("max_tokens",),  # Anthropic
    "done_reason": ("length",),  # Ollama
}


def stopped_at_cap(metadata: Mapping[str, Any]) -> bool:
    """Whether a stream chunk says the output-token cap ended the reply (providers name it
    differently): a call on the unfinished last line is then cut off, never run."""
    return any(metadata.get(key) in values for key, values in _CAP_REASONS.items())


stream_plan_task = task(stream_plan)
"""`stream_plan` as a LangGraph task, so a resumed run replays the recorded plan (kept apart
from the plain function so LangGraph can cache the task's runnable)."""


def make_planner(tools: Toolset, model: ModelSpec | None, examples: str) -> Any:
    """Build the planner node for a fixed tool set and (optional) fixed model."""

    async def planner(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        ctx = context_of(runtime.context)
        key = round_key(runtime)
        live = join_round(key, tools, ctx)
        round_ = current_round(state)
        earlier_tasks = turn_tasks(state)
        earlier_rounds = turn_rounds(state)
        known = [r["idx"] for r in earlier_tasks]
        first_idx = max([r["join_idx"] for r in earlier_rounds] + known, default=0) + 1
        question = question_message(state)
        try:
            check_question(question.text if question is not None else "", ctx.max_question_chars)
            output: PlanOutput
            try:
                live.planner_model = _planner_model(model, ctx)
            except Exception as exc:
                output = PlanOutput(text="", error=model_failure("planner", exc), usage=no_usage())
                plan, notes = read_plan("", tools, known=known)
            else:
                prompt = planner_messages(
                    direct_answers=ctx.direct_answers,
                    tools=list(tools.values()),
                    examples=examples,
                    messages=state.messages,
                    question=question.text if question is not None else "",
                    earlier_tasks=earlier_tasks,
                    earlier_rounds=earlier_rounds,
                    first_idx=first_idx,
                    limit=ctx.result_preview_chars,
                )
                output = await stream_plan_task(key, prompt, round_, known)
                # Parsed as it streamed, unless the plan was replayed from a checkpoint.
                if live.live_plan:
                    plan, notes = live.live_plan, output.get("notes", [])
                else:
                    plan, notes = read_plan(
                        output["text"],
                        tools,
                        known=known,
                        max_tasks=ctx.max_tasks_per_plan,
                        cut_off=output.get("cut_off", False),
                    )
            live.handoff.send(plan, position=0)  # after a resume: the replayed plan, at once
            live.handoff.end()
            if restored_writes("scheduler") is None:  # else it finished before a crash
                await live.handoff.scheduler_outcome()
        except BaseException as exc:
            live.handoff.fail(exc)
            raise
        finally:
            leave_round(live)
        record = RoundRecord(
            round=round_,
            question_id=question_id(state),
            turn_id=turn_id(state, step_checkpoint(runtime)),
            join_idx=plan[-1].idx,
            final=plan[-1].args.get("final") if ctx.direct_answers else None,
            plan_error=output["error"],
            plan_text=output["text"],
            plan_cut_off=output.get("cut_off", False),
            plan_notes=notes,
            planner_usage=output["usage"],
            joiner_usage=None,
            joiner_thought=None,
            decision="pending",
            replan_reason=None,
        )
        return {"rounds": [*earlier_rounds, record]}

    return planner


def _planner_model(model: ModelSpec | None, ctx: Context) -> BaseChatModel:
    return resolve_model(
        model if model is not None else ctx.planner_model,
        base_url=ctx.base_url,
        temperature=ctx.temperature,
        max_tokens=ctx.max_output_tokens,
        timeout=ctx.model_timeout_s,
    )
