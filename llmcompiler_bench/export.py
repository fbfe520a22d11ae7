"""`--json PATH`: every raw figure of the run, with the settings, profile, the peers' runs
(`--peers`) and the paper's published figures (labelled `published`: not measured here)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmcompiler_bench.optimizations import OptimizationSummary
from llmcompiler_bench.peers import PeerRun, PeersResult, missing_original
from llmcompiler_bench.peers.registry import ORIGINAL_REPOSITORY
from llmcompiler_bench.peers.summary import PeerSummary
from llmcompiler_bench.published import PAPER
from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.runner import Settings
from llmcompiler_bench.stages import StageSummary
from llmcompiler_bench.summary import WorkloadSummary


def _run(record: RunRecord) -> dict[str, Any]:
    return {
        **dataclasses.asdict(record),
        "bound_ratio": record.bound_ratio,
        "overhead_ms_per_task": record.overhead_ms_per_task,
        "tool_calls": record.tool_calls,
    }


def _peer_run(run: PeerRun) -> dict[str, Any]:
    return {
        **dataclasses.asdict(run),
        "llm_calls": run.llm_calls,
        "input_tokens": run.input_tokens,
        "output_tokens": run.output_tokens,
        "bound_ratio": run.bound_ratio,
    }


def peers_payload(peers: PeersResult, summaries: Sequence[PeerSummary]) -> dict[str, Any]:
    """The peers: what each is and how it was installed, its runs, summaries and skips."""
    return {
        "peers": {
            peer.name: {
                "label": peer.label,
                "requirement": peer.requirement,
                "install": list(peer.install),
                "source": str(peer.source) if peer.source else None,
            }
            for peer in peers.peers
        },
        "summaries": [dataclasses.asdict(s) for s in summaries],
        "runs": [_peer_run(r) for r in peers.runs],
        "skipped": [dataclasses.asdict(s) for s in peers.skips],
        "not_run": {ORIGINAL_REPOSITORY: why} if (why := missing_original(peers.peers)) else {},
    }


def payload(
    settings: Settings,
    summaries: Sequence[WorkloadSummary],
    records: Sequence[RunRecord],
    *,
    live: str | None = None,
    optimizations: Sequence[OptimizationSummary] = (),
    optimization_records: Sequence[RunRecord] = (),
    peers: PeersResult | None = None,
    peer_summaries: Sequence[PeerSummary] = (),
    stages: Sequence[StageSummary] = (),
) -> dict[str, Any]:
    """Everything as JSON-ready data; the optimizations view's runs are kept apart from the
    main comparison's (`optimizations.runs`, each with its `variant`), and so are the peers'
    (`peers`, present with `--peers`); `stages` is the per-stage table, ours and the peers'."""
    data: dict[str, Any] = {
        "mode": f"live:{live}" if live else "simulated",
        "settings": {
            **{k: v for k, v in dataclasses.asdict(settings).items() if k != "profile"},
            "profile": settings.profile.name,
        },
        "profile": dataclasses.asdict(settings.profile),
        "summaries": [dataclasses.asdict(s) for s in summaries],
        "stages": [dataclasses.asdict(s) for s in stages],
        "published": {
            "source": "Kim et al., ICML 2024, Tables 1-2 (real GPT models; not measured here)",
            "paper": {name: dataclasses.asdict(p) for name, p in PAPER.items()},
        },
        "runs": [_run(r) for r in records],
        "optimizations": {
            "summaries": [dataclasses.asdict(s) for s in optimizations],
            "runs": [_run(r) for r in optimization_records],
        },
    }
    if peers is not None:
        data["peers"] = peers_payload(peers, peer_summaries)
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n")
