"""The simulated benchmark: every chosen item, repeat and system, one run at a time.

Runs never overlap (they would compete for the CPU), each gets fresh scripted models and
tools, and all systems of one item and repeat share the same profile and tool latencies. A
warm-up pass at zero latency first pays the one-time costs (imports, schema building) so the
first measured system is not penalised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.bench import replies
from agent.bench.bound import critical_path_bound, line_ready_times
from agent.bench.records import RunRecord, make_record
from agent.bench.systems import BASELINE_SYSTEMS, STRESS_SYSTEMS, Setup, System, run_system
from agent.bench.tools import build_tools, call_key, call_table, sample_latencies
from agent.bench.workloads import WORKLOADS, Item, Workload
from agent.context import Context
from agent.prompts import DEFAULT_EXAMPLES
from agent.testing import PROFILES, ModelProfile, ScriptedChatModel
from agent.testing.chat_model import Responder

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


def systems_of(workload: Workload) -> Sequence[System]:
    return STRESS_SYSTEMS if workload.stress else BASELINE_SYSTEMS


def profile_for(workload: Workload, settings: Settings) -> ModelProfile:
    """Stress plans stream instantly (their figure is the engine's own overhead)."""
    return (INSTANT if workload.stress else settings.profile).scaled(settings.time_scale)


def _setup(
    item: Item, system: System, latencies: dict[int, float], profile: ModelProfile, scale: float
) -> Setup:
    def model(respond: Responder) -> ScriptedChatModel:
        return ScriptedChatModel(respond=respond, timing=profile)

    return Setup(
        tools=build_tools(item.tools, item.tasks, latencies, scale),
        planner=model(replies.planner(item)),
        joiner=model(replies.joiner(item)),
        react_model=model(replies.react(item, parallel=system.parallel_calls)),
        examples=DEFAULT_EXAMPLES,
        question=item.question,
        context=Context(max_tasks_per_plan=max(Context().max_tasks_per_plan, len(item.tasks))),
    )


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
) -> RunRecord:
    profile = profile_for(workload, settings)
    scale = settings.time_scale
    outcome = await run_system(system, _setup(item, system, latencies, profile, scale))
    record = make_record(
        workload=workload.name,
        item=item.id,
        repeat=repeat,
        system=system,
        outcome=outcome,
        gold=item.answer,
        n_tasks=len(item.tasks),
        profile=profile,
    )
    table = call_table(item.tasks)
    for span in record.tools:  # ReAct's calls carry no task index: find it by the call
        if span.idx is None and (task := table.get(call_key(span.tool, span.args))):
            span.idx = task.idx
    if not system.react:
        record.bound_s = bound_of(record, item, latencies, profile, scale)
    return record


async def warm_up(settings: Settings) -> None:
    """Run every system once at zero latency; the results are discarded."""
    item = WORKLOADS["hotpotqa"].build(1)[0]
    quiet = Settings(("hotpotqa",), 1, 1, 0.0, INSTANT, settings.seed)
    zero = {task.idx: 0.0 for task in item.tasks}
    systems = {s for name in settings.workloads for s in systems_of(WORKLOADS[name])}
    for system in sorted(systems, key=lambda s: s.name):
        await run_item(WORKLOADS["hotpotqa"], item, system, 0, quiet, zero)


async def run_simulated(
    settings: Settings, on_record: Callable[[RunRecord], None] = lambda _record: None
) -> list[RunRecord]:
    """All runs of `settings`, in workload, item, repeat, system order."""
    await warm_up(settings)
    records = []
    for name in settings.workloads:
        workload = WORKLOADS[name]
        for item in workload.build(settings.n):
            for repeat in range(settings.repeats):
                seed = f"{settings.seed}/{name}/{item.id}/{repeat}"
                latencies = sample_latencies(item.tasks, item.tools, seed)
                for system in systems_of(workload):
                    record = await run_item(workload, item, system, repeat, settings, latencies)
                    on_record(record)
                    records.append(record)
    return records
