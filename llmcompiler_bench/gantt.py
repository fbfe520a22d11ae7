"""`--gantt`: one picture per item — LLMCompiler above, the ReAct baselines below, one clock.

Lanes: the model calls (planner, joiner, ReAct turns; pale until the first token, then
solid while streaming), and one lane per tool call: a thin line from when it was planned to
when it started, a bar while it ran. LLMCompiler's panel marks T*. matplotlib is an optional
dependency (the `bench` extra), imported only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.systems import LLMCOMPILER, REACT, REACT_PARALLEL, SYSTEMS

MISSING = "the Gantt chart needs matplotlib: pip install 'llmcompiler-langgraph[bench]'"
PANELS = (LLMCOMPILER, REACT_PARALLEL, REACT)
MODEL_COLORS = {"planner": "#4c72b0", "model": "#4c72b0", "joiner": "#8172b3"}
TOOL_COLORS = ("#dd8452", "#55a868", "#c44e52", "#937860", "#da8bc3", "#8c8c8c")


class GanttUnavailableError(RuntimeError):
    """matplotlib is not installed."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise GanttUnavailableError(MISSING) from exc
    return plt


@dataclass(frozen=True)
class Bar:
    """Pale from `wait` to `start` (queued, or awaiting the first token), solid to `end`."""

    wait: float
    start: float
    end: float
    color: str
    model: bool = False


def _lanes(record: RunRecord) -> list[tuple[str, list[Bar]]]:
    """(label, bars) per lane, top to bottom: planner or model turns, tools, joiner."""
    models = [m for m in record.models if m.end_s is not None]
    ends = sorted(m.end_s for m in models if m.end_s is not None)

    def model_lane(label: str, kind: str) -> list[tuple[str, list[Bar]]]:
        bars = [
            Bar(m.start_s, m.first_token_s or m.start_s, m.end_s or 0.0, MODEL_COLORS[kind], True)
            for m in models
            if m.kind == kind
        ]
        return [(label, bars)] if bars else []

    lanes = model_lane("planner", "planner") + model_lane("model turns", "model")
    planned = {p.idx: p.at_s for p in record.planned}
    tool_names = sorted({t.tool for t in record.tools})
    for span in sorted(record.tools, key=lambda t: (t.idx or 0, t.start_s)):
        # ReAct plans a call in the turn that ended last before the call started.
        issued = planned.get(span.idx or -1) or max(
            (end for end in ends if end <= span.start_s), default=0.0
        )
        color = TOOL_COLORS[tool_names.index(span.tool) % len(TOOL_COLORS)]
        label = f"${span.idx} {span.tool}" if span.idx is not None else span.tool
        lanes.append((label[:28], [Bar(issued, span.start_s, span.end_s or span.start_s, color)]))
    return lanes + model_lane("joiner", "joiner")


def _panel(ax: Any, record: RunRecord) -> None:
    lanes = _lanes(record)
    for row, (_label, bars) in enumerate(lanes):
        for bar in bars:
            if bar.model:
                ax.barh(
                    row, bar.start - bar.wait, left=bar.wait, height=0.6, color=bar.color, alpha=0.3
                )
            else:
                ax.hlines(row, bar.wait, bar.start, color=bar.color, linewidth=1, linestyles=":")
            ax.barh(row, bar.end - bar.start, left=bar.start, height=0.6, color=bar.color)
    ax.set_yticks(range(len(lanes)), [label for label, _ in lanes], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(record.latency_s, color="black", linewidth=1)
    title = f"{SYSTEMS[record.system].label}: {record.latency_s:.2f} s"
    if record.bound_s:
        ax.axvline(record.bound_s, color="green", linewidth=1, linestyle="--")
        title += f"  (T* {record.bound_s:.2f} s, dashed)"
    ax.set_title(title, fontsize=9, loc="left")
    ax.grid(axis="x", alpha=0.3)


def draw(records: Sequence[RunRecord], path: Path, title: str) -> None:
    """Write one item's chart: a panel per system of `PANELS` present in `records`."""
    plt = _pyplot()
    by_system = {r.system: r for r in records}
    shown = [by_system[s.name] for s in PANELS if s.name in by_system]
    heights = [len(_lanes(r)) + 1.5 for r in shown]
    figure, axes = plt.subplots(
        len(shown),
        1,
        sharex=True,
        figsize=(11, 0.28 * sum(heights) + 1.2),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, record in zip(axes[:, 0], shown, strict=True):
        _panel(ax, record)
    axes[-1, 0].set_xlabel(
        "seconds since the question was asked\npale: a model call before its first token "
        "(streamed calls) · dotted: a tool call planned, not yet started · dashed green: T*",
        fontsize=8,
    )
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def chart_paths(path: Path, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Path]:
    """`path` itself for one (workload, item); else `stem-workload-item.png` beside it."""
    if len(keys) == 1:
        return {keys[0]: path}
    return {
        (workload, item): path.with_name(f"{path.stem}-{workload}-{item}{path.suffix or '.png'}")
        for workload, item in keys
    }
