"""Per workload and peer: medians, and ratios paired per item and repeat against the ReAct
baselines and LLMCompiler runs of the same benchmark run (same items, same tool latencies).

Ours is summarised the same way, once per path it ran on (`System.path`): over HTTP, the
peers' path and the headline whenever it ran (`--peers`), and in process. The peers are
compared with the headline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from llmcompiler_bench.peers.records import PeerRun, PeerSkip
from llmcompiler_bench.peers.registry import Peer
from llmcompiler_bench.peers.run import PeersResult
from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.summary import Stat, stat
from llmcompiler_bench.systems import (
    LLMCOMPILER,
    LLMCOMPILER_HTTP,
    REACT,
    REACT_PARALLEL,
    System,
)

FASTER_BY = 0.10
"""The margin asked of ours: at least 10 % less time than the fastest peer."""


@dataclass(frozen=True)
class PeerSummary:
    """One peer, or ours on one path (`ours`), on one workload. `vs_ours` is the peer's
    latency ÷ our headline's per item (above 1: ours is faster); `ours_saves` is 1 − ours ÷
    the peer's (the share of the peer's time ours does not need); both None for ours. `path`
    says how the system reached its scripted models: `HTTP` or `in process`."""

    workload: str
    peer: str
    label: str
    path: str
    ours: bool
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


class _Run(Protocol):
    """What a summary reads of a run: ours (`RunRecord`) and a peer's (`PeerRun`) alike."""

    @property
    def item(self) -> str: ...
    @property
    def repeat(self) -> int: ...
    @property
    def latency_s(self) -> float | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def correct(self) -> bool: ...
    @property
    def bound_s(self) -> float | None: ...
    @property
    def bound_ratio(self) -> float | None: ...
    @property
    def llm_calls(self) -> int: ...
    @property
    def input_tokens(self) -> int: ...


def _paired(
    runs: Sequence[_Run],
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


def headline(records: Sequence[RunRecord], workload: str) -> System:
    """Ours as the peers are compared with: over HTTP when it ran so, else in process."""
    return LLMCOMPILER_HTTP if _by_run(records, workload, LLMCOMPILER_HTTP.name) else LLMCOMPILER


def _summary(
    *,
    workload: str,
    name: str,
    label: str,
    path: str,
    runs: Sequence[_Run],
    records: Sequence[RunRecord],
    ours: dict[tuple[str, int], RunRecord] | None,
) -> PeerSummary:
    """The figures of `runs`, paired with this run's ReAct baselines and (`ours` given) with
    our headline."""
    measured = [r for r in runs if r.latency_s is not None and r.error is None]
    react = _by_run(records, workload, REACT.name)
    parallel = _by_run(records, workload, REACT_PARALLEL.name)
    errors = dict.fromkeys(f"item {r.item}: {r.error}" for r in runs if r.error)
    return PeerSummary(
        workload=workload,
        peer=name,
        label=label,
        path=path,
        ours=ours is None,
        runs=len(runs),
        latency=stat(r.latency_s for r in measured),
        speedup_react=_paired(measured, react, lambda peer_s, base_s: base_s / peer_s),
        speedup_parallel=_paired(measured, parallel, lambda peer_s, base_s: base_s / peer_s),
        vs_ours=None if ours is None else _paired(measured, ours, lambda p, o: p / o),
        ours_saves=None if ours is None else _paired(measured, ours, lambda p, o: 1 - o / p),
        bound_s=stat(r.bound_s for r in measured),
        bound_ratio=stat(r.bound_ratio for r in measured),
        llm_calls=stat(r.llm_calls for r in measured),
        input_tokens=stat(r.input_tokens for r in measured),
        correct=(sum(r.correct for r in runs), len(runs)),
        errors=tuple(errors),
    )


def summarize_peer(
    peer: Peer, workload: str, runs: Sequence[PeerRun], records: Sequence[RunRecord]
) -> PeerSummary:
    """One peer on one workload (always over HTTP), compared with our headline."""
    return _summary(
        workload=workload,
        name=peer.name,
        label=peer.label,
        path=LLMCOMPILER_HTTP.path,
        runs=[r for r in runs if r.peer == peer.name and r.workload == workload],
        records=records,
        ours=_by_run(records, workload, headline(records, workload).name),
    )


def summarize_ours(records: Sequence[RunRecord], workload: str) -> list[PeerSummary]:
    """Ours on `workload`, once per path it ran on, the headline first."""
    first = headline(records, workload)
    systems = [first, *[s for s in (LLMCOMPILER_HTTP, LLMCOMPILER) if s is not first]]
    summaries = []
    for system in systems:
        runs = list(_by_run(records, workload, system.name).values())
        if runs:
            summaries.append(
                _summary(
                    workload=workload,
                    name=system.name,
                    label=f"LLMCompiler (ours, {system.path})",
                    path=system.path,
                    runs=runs,
                    records=records,
                    ours=None,
                )
            )
    return summaries


def summarize_peers(result: PeersResult, records: Sequence[RunRecord]) -> list[PeerSummary]:
    """Per workload (in run order) that ours ran over HTTP or a peer ran: ours on each path,
    then each peer that ran on it."""
    http = [r.workload for r in records if r.system == LLMCOMPILER_HTTP.name]
    workloads = list(dict.fromkeys([*http, *(r.workload for r in result.runs)]))
    return [
        summary
        for workload in workloads
        for summary in [
            *summarize_ours(records, workload),
            *(
                summarize_peer(peer, workload, result.runs, records)
                for peer in result.peers
                if any(r.peer == peer.name and r.workload == workload for r in result.runs)
            ),
        ]
    ]


def skipped(result: PeersResult, workload: str | None = None) -> list[PeerSkip]:
    """The skips that concern `workload` (whole-peer skips included), or all of them."""
    return [s for s in result.skips if workload is None or s.workload in (None, workload)]
