"""`--json PATH`: every raw figure of the run, with the settings, profile and references."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmcompiler_bench.optimizations import OptimizationSummary
from llmcompiler_bench.published import IMPLEMENTATION_SPEEDUPS, IMPLEMENTATIONS, PAPER, TARGETS
from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.runner import Settings
from llmcompiler_bench.summary import WorkloadSummary


def _run(record: RunRecord) -> dict[str, Any]:
    return {
        **dataclasses.asdict(record),
        "bound_ratio": record.bound_ratio,
        "overhead_ms_per_task": record.overhead_ms_per_task,
        "tool_calls": record.tool_calls,
    }


def payload(
    settings: Settings,
    summaries: Sequence[WorkloadSummary],
    records: Sequence[RunRecord],
    *,
    live: str | None = None,
    optimizations: Sequence[OptimizationSummary] = (),
    optimization_records: Sequence[RunRecord] = (),
) -> dict[str, Any]:
    """Everything as JSON-ready data; the optimizations view's runs are kept apart from the
    main comparison's (`optimizations.runs`, each with its `variant`)."""
    by_name = {s.workload: s for s in summaries}
    targets = []
    for target in TARGETS:
        if target.workload in by_name and not live:
            measured, met = target.verdict(by_name[target.workload])
            targets.append(
                {
                    "workload": target.workload,
                    "target": target.label,
                    "threshold": target.threshold,
                    "at_most": target.at_most,
                    "measured": measured,
                    "met": met,
                }
            )
    return {
        "mode": f"live:{live}" if live else "simulated",
        "settings": {
            **{k: v for k, v in dataclasses.asdict(settings).items() if k != "profile"},
            "profile": settings.profile.name,
        },
        "profile": dataclasses.asdict(settings.profile),
        "summaries": [dataclasses.asdict(s) for s in summaries],
        "targets": targets,
        "references": {
            "paper": {name: dataclasses.asdict(p) for name, p in PAPER.items()},
            "implementations": {
                workload: {
                    impl: {"vs_react": a, "vs_parallel_react": b}
                    for impl, (a, b) in zip(IMPLEMENTATIONS, figures, strict=True)
                }
                for workload, figures in IMPLEMENTATION_SPEEDUPS.items()
            },
        },
        "runs": [_run(r) for r in records],
        "optimizations": {
            "summaries": [dataclasses.asdict(s) for s in optimizations],
            "runs": [_run(r) for r in optimization_records],
        },
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n")
