"""The scheduler node: the paper's Task Fetching Unit, and the fan-out.

Each planned task becomes one LangGraph `@task` call, issued the moment the planner publishes
it and always in plan order: LangGraph matches checkpointed task results to calls by call
position, so a deterministic order is what makes a resumed run hand every result back to its
own task. A call does not wait for a "level" or a superstep: its body awaits exactly its own
dependencies' outcomes, then takes a concurrency slot and runs the tool. There is no polling:
every wake-up is a future resolving.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp
from langgraph.func import task
from langgraph.runtime import Runtime

from agent import _events as events
from agent._cache import ResultCache
from agent._context import Context, context_of, price_override
from agent._errors import FieldAccessError
from agent._live_round import (
    LiveRound,
    idempotency_prefix,
    join_round,
    leave_round,
    live_round,
    restored_writes,
    round_key,
    step_checkpoint,
)
from agent._references import resolve_references
from agent._results import to_stored
from agent._review import review_plan
from agent._state import (
    PlanReview,
    State,
    TaskRecord,
    current_round,
    new_record,
    turn_id,
    turn_tasks,
)
from agent._task import Task
from agent._toolset import Toolset
from agent._usage import UsageMeter, current_callbacks, metered
from agent.placement import prepare
from agent.plan import read_plan


def _finish(record: TaskRecord, status: str, **fields: Any) -> TaskRecord:
    return {**record, "status": status, "finished_at": time.time(), **fields}  # type: ignore[typeddict-item]


def _with_usage(record: TaskRecord, meter: UsageMeter) -> TaskRecord:
    """`record` with the LLM calls its tool made, if any: they cost the same whether the tool
    then succeeded, raised or timed out."""
    return {**record, "usage": meter.usage} if meter.usage["calls"] else record


def call_key(tool: str, args: Mapping[str, Any]) -> str:
    """Identity of a call for common-call elimination: tool and resolved arguments."""
    return f"{tool}:{json.dumps(args, sort_keys=True, ensure_ascii=False, default=str)}"


def _tool_config(record: TaskRecord, idempotency_key: str, meter: UsageMeter) -> RunnableConfig:
    """Names, tags and metadata that make each call readable in a trace and deduplicable;
    the meter counts LLM calls the tool makes itself."""
    config: RunnableConfig = {
        "run_name": record["tool"],
        "tags": ["llmcompiler:tool"],
        "metadata": {
            "llmcompiler_task_idx": record["idx"],
            "llmcompiler_round": record["round"],
            "idempotency_key": idempotency_key,
        },
    }
    return metered(config, meter, current_callbacks())


async def call_tool(
    key: str, record: TaskRecord, idempotency_key: str, serial_after: int | None
) -> TaskRecord:
    """Run one planned task once its dependencies are done; always returns a final record.

    `serial_after` is the previous call of the same tool when that tool is not parallel-safe
    (`metadata={"parallel": False}`): such calls run one at a time, in plan order. A task that
    failed its static checks arrives final and is only returned: it takes a call position all
    the same, so that a resume whose re-checked plan differs (a tool removed since) still
    hands every recorded result back to its own task.
    """
    live = live_round(key)
    if record["status"] == "error":
        return record
    ctx = live.context
    deps = [await live.outcomes.of(idx) for idx in record["deps"]]
    failed = next((dep for dep in deps if dep["status"] != "done"), None)
    if failed is not None:
        reason = f"skipped: dependency ${failed['idx']} ({failed['tool']}) {failed['status']}"
        final = _finish(record, "skipped", error=f"{reason}: {failed['error']}")
    else:
        results = {dep["idx"]: dep["result"] for dep in deps}
        final = await _run(live, ctx, record, results, idempotency_key, serial_after)
    live.outcomes.settle(final)
    events.task_finished(final, ctx.result_preview_chars)
    return final


call_tool_task = task(call_tool)
"""`call_tool` as a LangGraph task: its result is checkpointed as soon as it finishes.

The plain function stays importable under its own name because LangGraph caches a task's
runnable only when the function is found in its module (a decorated name would hide it, and
every call would rebuild the runnable)."""


async def _run(
    live: LiveRound,
    ctx: Context,
    record: TaskRecord,
    results: Mapping[int, Any],
    idempotency_key: str,
    serial_after: int | None,
) -> TaskRecord:
    tool = live.tools[record["tool"]]
    try:
        args = resolve_references(record["args"], results)
    except FieldAccessError as exc:
        return _finish(record, "error", error=str(exc))
    if serial_after is not None:
        await live.outcomes.of(serial_after)
    call = call_key(tool.name, args)
    traits = live.tools.traits(record["tool"])
    if ctx.dedupe_calls and traits.pure:
        earlier = await live.outcomes.same_call(call, record["idx"])
        if earlier is not None:
            return _finish(
                record, "done", result=earlier["result"], deduplicated_from=earlier["idx"]
            )
    ttl = traits.cache_ttl_s
    cache = live.cache if ctx.cache_results and ttl is not None else None
    if cache is not None and ttl is not None:
        hit = await cache.lookup(tool.name, call, ttl)
        if hit is not None:
            return _finish(record, "done", result=hit.result, cache_hit=True)
    meter = UsageMeter(price_override(ctx))
    config = _tool_config(record, idempotency_key, meter)
    async with live.slots:
        started = time.time()
        record = {**record, "status": "running", "started_at": started}
        events.task_started(record, args, ctx.result_preview_chars)
        live.running.add(record["idx"])
        deadline = asyncio.timeout(None)  # set once prepared: the timeout measures the call
        try:
            placed = await prepare(tool, traits, ctx.default_placement)  # Ray up, worker ready
            async with deadline:
                deadline.reschedule(asyncio.get_running_loop().time() + ctx.tool_timeout_s)
                value = await placed.run(args, config)
        except GraphBubbleUp:  # interrupt() inside a tool: LangGraph's, not a task error
            raise
        except Exception as exc:
            record = _with_usage(record, meter)
            if isinstance(exc, TimeoutError) and deadline.expired():
                return _finish(record, "error", error=f"timed out after {ctx.tool_timeout_s:g}s")
            return _finish(record, "error", error=f"{type(exc).__name__}: {exc}")
        finally:
            live.running.discard(record["idx"])
    record = _with_usage(record, meter)
    try:
        result = to_stored(value)
    except Exception as exc:  # e.g. a custom object whose conversion recurses without end
        return _finish(record, "error", error=f"the result cannot be stored: {exc!r}")
    if cache is not None:
        await cache.save(tool.name, call, result)
    return _finish(record, "done", result=result)


def _matches(expected: TaskRecord, got: TaskRecord) -> TaskRecord:
    """Guard against a recorded result coming back to a different call after a resume.

    The replayed plan is the recorded text, re-checked against today's tools: a task whose
    tool was removed since fails that check and its arguments can no longer be bound by
    name, so for it the index and tool name identify the call.
    """
    same_call = (got["idx"], got["tool"]) == (expected["idx"], expected["tool"])
    if same_call and (got["args"] == expected["args"] or expected["status"] == "error"):
        return got
    return _finish(
        expected,
        "error",
        error=(
            f"a result recorded before the interruption belongs to another call "
            f"(${got['idx']} {got['tool']}); not re-run, to avoid repeating a side effect"
        ),
    )


def _settle_replayed(live: LiveRound, expected: TaskRecord, future: Future[TaskRecord]) -> None:
    """Publish a call's outcome when its future completes (a call replayed from the
    checkpoint runs no body, so this is where its dependents learn of it)."""
    if not future.cancelled() and future.exception() is None:
        live.outcomes.settle(_matches(expected, future.result()))


async def review_required(approve_plan: bool) -> bool:
    """Whether this round's plan waits for a person: decided once, then checkpointed.

    A run resumed after the review interrupt replays this answer even if the resuming call
    passes a context without `approve_plan`, so a rejected plan can never run by accident.
    """
    return approve_plan


review_required_task = task(review_required)


@dataclass
class _Dispatcher:
    """Issues one `call_tool` per planned task, in plan order, and collects the records."""

    live: LiveRound
    key: str
    turn_key: str
    round_: int
    claimed: set[int]
    records: list[TaskRecord] = field(default_factory=list)
    calls: list[tuple[int, Any]] = field(default_factory=list)
    last_call: dict[str, int] = field(default_factory=dict)  # per tool not parallel-safe

    def dispatch(self, planned: Task) -> None:
        """Issue the task's call (every task but `join` takes one, in plan order)."""
        if planned.is_join:
            return
        record = new_record(planned, self.round_)
        serial_after = None
        if planned.error is None and not self.live.tools.traits(planned.tool).parallel:
            serial_after = self.last_call.get(planned.tool)
            self.last_call[planned.tool] = planned.idx
        future = call_tool_task(self.key, record, f"{self.turn_key}|{planned.idx}", serial_after)
        if planned.idx not in self.claimed:  # a duplicate index never shadows the original
            future.add_done_callback(functools.partial(_settle_replayed, self.live, record))
        self.calls.append((len(self.records), future))
        self.claimed.add(planned.idx)
        self.records.append(record)

    async def finish(self) -> list[TaskRecord]:
        for position, future in self.calls:
            self.records[position] = _matches(self.records[position], await future)
        return self.records

    async def stop(self, exc: BaseException) -> None:
        """Stop the round's calls after `exc`.

        On an interrupt (a tool called `interrupt()`), calls whose tool is already running
        finish and are recorded, so a side-effecting sibling never runs again on resume;
        calls still waiting (for a dependency or a slot) are cancelled and run on resume.
        Anything else cancels every call.
        """
        keep = isinstance(exc, GraphBubbleUp)
        running = []
        for position, future in self.calls:
            if keep and self.records[position]["idx"] in self.live.running:
                running.append(future)
            else:
                future.cancel()
        if running:
            await asyncio.wait(running)


async def _planned_tasks(live: LiveRound, known: list[int]) -> AsyncIterator[Task]:
    """The round's plan: from the planner through the hand-off, or, when a resume restored
    the planner's writes (it finished before the process died and will not run again), from
    the plan text it recorded."""
    planner_writes = restored_writes("planner")
    if planner_writes is None:
        async for planned in live.handoff.tasks():
            yield planned
        return
    rounds = next((value for channel, value in planner_writes if channel == "rounds"), None)
    record = rounds[-1] if rounds else {}
    text = record.get("plan_text")
    if text is None:
        raise RuntimeError("cannot resume the round: its planner finished without a plan text")
    tasks, _ = read_plan(
        text,
        live.tools,
        known=known,
        max_tasks=live.context.max_tasks_per_plan,
        cut_off=record.get("plan_cut_off", False),
    )
    for planned in tasks:
        yield planned


def make_scheduler(tools: Toolset) -> Any:
    """Build the scheduler node for a fixed tool set."""

    async def scheduler(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        ctx = context_of(runtime.context)
        key = round_key(runtime)
        live = join_round(key, tools, ctx)
        if runtime.store is not None:
            live.cache = ResultCache(runtime.store)
        round_ = current_round(state)
        earlier = turn_tasks(state)
        for record in earlier:  # later rounds may reference (and reuse) earlier results
            live.outcomes.settle(record)
            pure = tools.traits(record["tool"]).pure  # False for a tool no longer there
            if record["status"] == "done" and not record["deps"] and pure:
                live.outcomes.remember_call(call_key(record["tool"], record["args"]), record["idx"])
        turn_key = idempotency_prefix(runtime, turn_id(state, step_checkpoint(runtime)))
        dispatcher = _Dispatcher(live, key, turn_key, round_, {r["idx"] for r in earlier})
        update: dict[str, Any] = {"review": None}
        planned_tasks = _planned_tasks(live, [r["idx"] for r in earlier])
        try:
            if await review_required_task(ctx.approve_plan):
                plan = [planned async for planned in planned_tasks]
                decision = review_plan(
                    plan,
                    round_,
                    tools,
                    known=[r["idx"] for r in earlier],
                    max_tasks=ctx.max_tasks_per_plan,
                )
                join = decision.tasks[-1] if decision.tasks else None
                update["review"] = PlanReview(
                    round=round_,
                    verdict=decision.verdict,
                    reason=decision.reason,
                    final=join.args.get("final") if join and join.is_join else None,
                )
                if decision.verdict == "edited":
                    events.tasks_planned(decision.tasks, round_, ctx.result_preview_chars)
                for planned in decision.tasks:
                    dispatcher.dispatch(planned)
            else:
                async for planned in planned_tasks:
                    dispatcher.dispatch(planned)
            records = await dispatcher.finish()
        except BaseException as exc:
            await dispatcher.stop(exc)
            live.handoff.scheduler_finished(exc)
            raise
        else:
            live.handoff.scheduler_finished()
        finally:
            leave_round(live)
        return {**update, "tasks": [*earlier, *records]}

    return scheduler
