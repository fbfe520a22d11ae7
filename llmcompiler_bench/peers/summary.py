"""Per workload and peer: medians, and ratios paired per item and repeat against the ReAct
baselines and LLMCompiler runs of the same benchmark run (same items, same tool latencies)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llmcompiler_bench.peers.records import PeerRun, PeerSkip
from llmcompiler_bench.peers.registry import Peer
from llmcompiler_bench.peers.run import PeersResult
from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.summary import Stat, stat
from llmcompiler_bench.systems import LLMCOMPILER, REACT, REACT_PARALLEL

FASTER_BY = 0.10
"""The margin asked of ours: at least 10 % less time than the fastest peer."""


@dataclass(frozen=True)
class PeerSummary:
    """One peer on one workload. `vs_ours` is the peer's latency ÷ ours per item (above 1:
    ours is faster); `ours_saves` is 1 − ours ÷ the peer's (the share of the peer's time ours
    does not need)."""

    workload: str
    peer: str
    label: str
    runs: int
    latency: Stat | None
    speedup_react: Stat | None
    speedup_parallel: Stat | None
    vs_ours: Stat | None
    ours_saves: Stat | None
    bound_s: Stat | None
    bound_ratio: Stat | None
    llm_calls: Stat | None
    input_tokens: Stat | None
    correct: tuple[int, int]
    errors: tuple[str, ...]


def _paired(
    runs: Sequence[PeerRun],
    ours: dict[tuple[str, int], RunRecord],
    ratio: Callable[[float, float], float],
) -> Stat | None:
    values = []
    for run in runs:
        other = ours.get((run.item, run.repeat))
        if run.latency_s and other is not None and other.latency_s and run.error is None:
            values.append(ratio(run.latency_s, other.latency_s))
    return stat(values)


def _by_run(
    records: Sequence[RunRecord], workload: str, system: str
) -> dict[tuple[str, int], RunRecord]:
    return {
        (r.item, r.repeat): r
        for r in records
        if r.workload == workload and r.system == system and r.variant is None
    }


def summarize_peer(
    peer: Peer, workload: str, runs: Sequence[PeerRun], records: Sequence[RunRecord]
) -> PeerSummary:
    mine = [r for r in runs if r.peer == peer.name and r.workload == workload]
    measured = [r for r in mine if r.latency_s is not None and r.error is None]
    react = _by_run(records, workload, REACT.name)
    parallel = _by_run(records, workload, REACT_PARALLEL.name)
    ours = _by_run(records, workload, LLMCOMPILER.name)
    errors = dict.fromkeys(f"item {r.item}: {r.error}" for r in mine if r.error)
    return PeerSummary(
        workload=workload,
        peer=peer.name,
        label=peer.label,
        runs=len(mine),
        latency=stat(r.latency_s for r in measured),
        speedup_react=_paired(measured, react, lambda peer_s, base_s: base_s / peer_s),
        speedup_parallel=_paired(measured, parallel, lambda peer_s, base_s: base_s / peer_s),
        vs_ours=_paired(measured, ours, lambda peer_s, ours_s: peer_s / ours_s),
        ours_saves=_paired(measured, ours, lambda peer_s, ours_s: 1 - ours_s / peer_s),
        bound_s=stat(r.bound_s for r in measured),
        bound_ratio=stat(r.bound_ratio for r in measured),
        llm_calls=stat(r.llm_calls for r in measured),
        input_tokens=stat(r.input_tokens for r in measured),
        correct=(sum(r.correct for r in mine), len(mine)),
        errors=tuple(errors),
    )


def summarize_peers(result: PeersResult, records: Sequence[RunRecord]) -> list[PeerSummary]:
    """A summary per workload (in run order) and peer that ran on it."""
    workloads = list(dict.fromkeys(r.workload for r in result.runs))
    return [
        summarize_peer(peer, workload, result.runs, records)
        for workload in workloads
        for peer in result.peers
        if any(r.peer == peer.name and r.workload == workload for r in result.runs)
    ]


def skipped(result: PeersResult, workload: str | None = None) -> list[PeerSkip]:
    """The skips that concern `workload` (whole-peer skips included), or all of them."""
    return [s for s in result.skips if workload is None or s.workload in (None, workload)]
