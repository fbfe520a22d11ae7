"""Where the time goes, per stage: each LLMCompiler-style run split into the planner's time to
first token, the plan's decode, the wait for tools after the plan, and the joiner, with each
call's tokens; summarised per workload and system (ours on each path, and each peer).

Everything is read off the run's own records (our callbacks' model spans; a peer's calls as
the scripted server logged them), never recomputed from constants, so a change to a prompt or
to the joiner's reply format shows up in the stage it moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from llmcompiler_bench.peers import PeerRun, PeersResult
from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.summary import Stat, stat
from llmcompiler_bench.systems import LLMCOMPILER, LLMCOMPILER_HTTP


@dataclass(frozen=True)
class Call:
    """A model call on its run's clock (seconds from the run's start), ours or a peer's.
    `first_token` is None when no token streamed (the whole call was the wait for it)."""

    kind: str
    start: float
    first_token: float | None
    end: float
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Stages:
    """One run split into stages; each figure sums the run's rounds (a replan adds a planner
    and a joiner call). Joiner figures are None when the run made no joiner call (a direct
    answer)."""

    llm_calls: int
    planner_input_tokens: int
    planner_output_tokens: int
    joiner_input_tokens: int | None
    joiner_output_tokens: int | None
    planner_first_token_s: float
    """Planner start → its first token: time to first token plus the prompt's prefill."""
    plan_decode_s: float
    """Planner first token → planner end: the plan's decode."""
    after_plan_s: float
    """Planner end → the next planner or joiner call (the run's end if none follows): tools
    still running after the plan, plus the engine's hand-off."""
    joiner_s: float | None
    """Joiner start → end."""
    latency_s: float


def split(calls: Sequence[Call], llm_calls: int, latency_s: float) -> Stages | None:
    """The stages of one run from its model calls (`llm_calls` counts every model call, a
    tool's own included); None without a planner call (nothing to split)."""
    planners = [c for c in calls if c.kind == "planner"]
    joiners = [c for c in calls if c.kind == "joiner"]
    if not planners:
        return None
    stages = [*planners, *joiners]

    def wait_after(planner: Call) -> float:
        following = [c.start for c in stages if c is not planner and c.start >= planner.end]
        return max(min(following, default=latency_s) - planner.end, 0.0)

    def first(call: Call) -> float:
        return call.first_token if call.first_token is not None else call.end

    return Stages(
        llm_calls=llm_calls,
        planner_input_tokens=sum(c.input_tokens for c in planners),
        planner_output_tokens=sum(c.output_tokens for c in planners),
        joiner_input_tokens=sum(c.input_tokens for c in joiners) if joiners else None,
        joiner_output_tokens=sum(c.output_tokens for c in joiners) if joiners else None,
        planner_first_token_s=sum(first(c) - c.start for c in planners),
        plan_decode_s=sum(c.end - first(c) for c in planners),
        after_plan_s=sum(wait_after(c) for c in planners),
        joiner_s=sum(c.end - c.start for c in joiners) if joiners else None,
        latency_s=latency_s,
    )


def record_stages(record: RunRecord) -> Stages | None:
    """The stages of one of our runs (None if it failed or a call never ended)."""
    if record.error is not None or any(m.end_s is None for m in record.models):
        return None
    calls = [
        Call(m.kind, m.start_s, m.first_token_s, m.end_s, m.input_tokens, m.output_tokens)
        for m in record.models
        if m.end_s is not None
    ]
    return split(calls, record.llm_calls, record.latency_s)


def peer_stages(run: PeerRun) -> Stages | None:
    """The stages of a peer's run, from the server's log (None if the run failed)."""
    if run.error is not None or run.latency_s is None:
        return None
    calls = [
        Call(m.kind, m.start, m.first_token, m.end, m.input_tokens, m.output_tokens)
        for m in run.models
    ]
    return split(calls, run.llm_calls, run.latency_s)


@dataclass(frozen=True)
class StageSummary:
    """Medians (with min–max) of `Stages` over one system's runs of one workload."""

    workload: str
    system: str
    label: str
    runs: int
    llm_calls: Stat | None
    planner_input_tokens: Stat | None
    planner_output_tokens: Stat | None
    joiner_input_tokens: Stat | None
    joiner_output_tokens: Stat | None
    planner_first_token_s: Stat | None
    plan_decode_s: Stat | None
    after_plan_s: Stat | None
    joiner_s: Stat | None
    latency_s: Stat | None


def summarize_stages(
    workload: str, system: str, label: str, runs: Iterable[Stages | None]
) -> StageSummary:
    """The medians of `runs` (runs that could not be split are left out)."""
    split_runs = [r for r in runs if r is not None]
    return StageSummary(
        workload=workload,
        system=system,
        label=label,
        runs=len(split_runs),
        llm_calls=stat(r.llm_calls for r in split_runs),
        planner_input_tokens=stat(r.planner_input_tokens for r in split_runs),
        planner_output_tokens=stat(r.planner_output_tokens for r in split_runs),
        joiner_input_tokens=stat(r.joiner_input_tokens for r in split_runs),
        joiner_output_tokens=stat(r.joiner_output_tokens for r in split_runs),
        planner_first_token_s=stat(r.planner_first_token_s for r in split_runs),
        plan_decode_s=stat(r.plan_decode_s for r in split_runs),
        after_plan_s=stat(r.after_plan_s for r in split_runs),
        joiner_s=stat(r.joiner_s for r in split_runs),
        latency_s=stat(r.latency_s for r in split_runs),
    )


OURS = (LLMCOMPILER_HTTP, LLMCOMPILER)
"""Our systems the table splits, in the peers table's order: over HTTP (`--peers`: the
headline), then in process."""


def stage_summaries(
    workloads: Sequence[str], records: Sequence[RunRecord], peers: PeersResult | None = None
) -> list[StageSummary]:
    """Per workload: ours on each path it ran (HTTP first), then each peer that ran it."""
    peer_runs = peers.runs if peers else []
    summaries = []
    for workload in workloads:
        for system in OURS:
            mine = [
                r
                for r in records
                if r.workload == workload and r.system == system.name and r.variant is None
            ]
            if mine:
                label = f"LLMCompiler (ours, {system.path})"
                summaries.append(
                    summarize_stages(workload, system.name, label, map(record_stages, mine))
                )
        for peer in peers.peers if peers else ():
            theirs = [r for r in peer_runs if r.peer == peer.name and r.workload == workload]
            if theirs:
                summaries.append(
                    summarize_stages(workload, peer.name, peer.label, map(peer_stages, theirs))
                )
    return summaries
