"""The simulated benchmark: every chosen item, repeat and system, one run at a time.

Runs never overlap (they would compete for the CPU), each gets fresh scripted models and
tools, and all systems of one item and repeat share the same profile and tool latencies. A
warm-up pass at zero latency first pays the one-time costs (imports, schema building) so the
first measured system is not penalised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from langgraph.store.base import BaseStore

from agent._context import Context
from llmcompiler_bench import replies
from llmcompiler_bench.bound import critical_path_bound, line_ready_times
from llmcompiler_bench.http_models import served_model
from llmcompiler_bench.personas import PERSONAS, Persona
from llmcompiler_bench.records import RunRecord, make_record
from llmcompiler_bench.systems import (
    BASELINE_SYSTEMS,
    LLMCOMPILER,
    LLMCOMPILER_HTTP,
    STRESS_SYSTEMS,
    Setup,
    System,
    run_system,
)
from llmcompiler_bench.tools import build_tools, call_key, call_table, sample_latencies
from llmcompiler_bench.workloads import WORKLOADS, Item, Workload
from llmcompiler_scripted import PROFILES, ModelProfile, ScriptedChatModel
from llmcompiler_scripted.chat_model import Responder
from tools.examples import OFFLINE_TOOLS_EXAMPLES

INSTANT = PROFILES["instant"]


@dataclass(frozen=True)
class Settings:
    """One benchmark invocation; `profile` is the preset before `time_scale` is applied."""

    workloads: tuple[str, ...]
    n: int
    repeats: int
    time_scale: float
    profile: ModelProfile
    seed: int
    quick: bool = False
    persona: str = "clean"
    """How the scripted planner and joiner behave (`llmcompiler_bench.personas`)."""
    http: bool = False
    """Also run LLMCompiler over HTTP (`--peers`: the peers' path, for their comparison)."""


def systems_of(workload: Workload, settings: Settings) -> Sequence[System]:
    """The systems of the main comparison (none for an optimizations-only workload), with
    LLMCompiler over HTTP after them when `settings.http` (not on the stress workloads)."""
    if workload.optimizations_only:
        return ()
    if workload.stress:
        return STRESS_SYSTEMS
    return (*BASELINE_SYSTEMS, *([LLMCOMPILER_HTTP] if settings.http else []))


def profile_for(workload: Workload, settings: Settings) -> ModelProfile:
    """Stress plans stream instantly (their figure is the engine's own overhead)."""
    return (INSTANT if workload.stress else settings.profile).scaled(settings.time_scale)


@dataclass(frozen=True)
class Variant:
    """How a compiler-optimizations run differs from the default LLMCompiler run: Context
    fields switched off, a store shared across runs (the result cache) with pure tools given
    a cache TTL, and the thread it runs on. `name` is the record's `variant`."""

    name: str
    context: dict[str, Any] = field(default_factory=dict)
    store: BaseStore | None = None
    thread_id: str = "bench"


def base_context(item: Item) -> Context:
    return Context(max_tasks_per_plan=max(Context().max_tasks_per_plan, len(item.tasks)))


@contextlib.contextmanager
def _setup(
    item: Item,
    system: System,
    latencies: dict[int, float],
    profile: ModelProfile,
    scale: float,
    *,
    variant: Variant | None = None,
    stream_answer: bool = True,
    persona: Persona = PERSONAS["clean"],
) -> Iterator[Setup]:
    """The run's setup; an HTTP system's models are served for as long as the context lasts
    (the server starts before the clock does)."""

    def model(respond: Responder) -> ScriptedChatModel:
        return ScriptedChatModel(respond=respond, timing=profile, report_usage=persona.report_usage)

    context = base_context(item)
    if variant is not None:
        context = replace(context, **variant.context)
    store = variant.store if variant is not None else None
    planner, joiner = replies.planner(item, persona), replies.joiner(item, persona)
    setup = Setup(
        tools=build_tools(item.tools, item.tasks, latencies, scale, cacheable=store is not None),
        planner=model(planner),
        joiner=model(joiner),
        react_model=model(replies.react(item, parallel=system.parallel_calls)),
        examples=OFFLINE_TOOLS_EXAMPLES,
        question=item.question,
        context=context,
        store=store,
        stream_answer=stream_answer,
    )
    if not system.http:
        yield setup
        return
    with served_model(planner, joiner, profile) as served:
        yield replace(setup, planner=served, joiner=served)


def bound_of(
    record: RunRecord, item: Item, latencies: dict[int, float], profile: ModelProfile, scale: float
) -> float | None:
    """T* of an LLMCompiler run, from its actual planner and joiner prompts."""
    planner = next((m for m in record.models if m.kind == "planner"), None)
    joiner = next((m for m in record.models if m.kind == "joiner"), None)
    if planner is None:
        return None
    plan = item.plan
    durations = {t.idx: latencies[t.idx] * scale for t in item.tasks} | {plan.join_idx: 0.0}
    deps = {t.idx: t.deps for t in item.tasks}
    join_s = profile.duration_s(joiner.input_tokens, joiner.output_tokens) if joiner else 0.0
    ready = line_ready_times(plan, planner.input_tokens, profile)
    return critical_path_bound(ready, durations, deps, join_s)


async def run_item(
    workload: Workload,
    item: Item,
    system: System,
    repeat: int,
    settings: Settings,
    latencies: dict[int, float],
    variant: Variant | None = None,
) -> RunRecord:
    """One run; with a `variant` (an optimizations run) no bound is computed: T* assumes
    every task runs its tool."""
    profile = profile_for(workload, settings)
    scale = settings.time_scale
    thread_id = variant.thread_id if variant is not None else "bench"
    with _setup(
        item,
        system,
        latencies,
        profile,
        scale,
        variant=variant,
        stream_answer=not workload.stress,
        persona=PERSONAS[settings.persona],
    ) as setup:
        outcome = await run_system(system, setup, thread_id=thread_id)
    record = make_record(
        workload=workload.name,
        item=item.id,
        repeat=repeat,
        system=system,
        outcome=outcome,
        gold=item.answer,
        n_tasks=len(item.tasks),
        profile=profile,
        variant=variant.name if variant is not None else None,
        question=item.question,
    )
    table = call_table(item.tasks)
    for span in record.tools:  # ReAct's calls carry no task index: find it by the call
        if span.idx is None and (task := table.get(call_key(span.tool, span.args))):
            span.idx = task.idx
    if not system.react and variant is None:
        record.bound_s = bound_of(record, item, latencies, profile, scale)
    return record


async def warm_up(settings: Settings) -> None:
    """Run every system once at zero latency; the results are discarded."""
    item = WORKLOADS["hotpotqa"].build(1)[0]
    quiet = Settings(("hotpotqa",), 1, 1, 0.0, INSTANT, settings.seed)
    zero = {task.idx: 0.0 for task in item.tasks}
    systems = {s for name in settings.workloads for s in systems_of(WORKLOADS[name], settings)}
    if any(not WORKLOADS[name].stress for name in settings.workloads):
        systems.add(LLMCOMPILER)  # the optimizations view runs it
    for system in sorted(systems, key=lambda s: s.name):
        await run_item(WORKLOADS["hotpotqa"], item, system, 0, quiet, zero)


def latencies_of(item: Item, repeat: int, settings: Settings) -> dict[int, float]:
    """The item's tool latencies for one repeat: the same for every system and variant."""
    seed = f"{settings.seed}/{item.workload}/{item.id}/{repeat}"
    return sample_latencies(item.tasks, item.tools, seed)


async def run_simulated(
    settings: Settings, on_record: Callable[[RunRecord], None] = lambda _record: None
) -> list[RunRecord]:
    """All runs of `settings`, in workload, item, repeat, system order."""
    await warm_up(settings)
    records = []
    for name in settings.workloads:
        workload = WORKLOADS[name]
        if not systems_of(workload, settings):
            continue
        for item in workload.build(settings.n):
            for repeat in range(settings.repeats):
                latencies = latencies_of(item, repeat, settings)
                for system in systems_of(workload, settings):
                    record = await run_item(workload, item, system, repeat, settings, latencies)
                    on_record(record)
                    records.append(record)
    return records
