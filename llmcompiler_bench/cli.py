"""`llmcompiler bench`: the arguments and the command (wired into `llmcompiler_cli.main`).

llmcompiler bench [--quick] [--workload NAME ...] [--n N] [--repeats R] [--time-scale F]
                  [--profile NAME] [--seed S] [--json PATH] [--gantt PATH.png]
                  [--peers [--original PATH]]
llmcompiler bench --model provider:model [--base-url URL] [--n N]   # live, offline corpus
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from agent._errors import ModelNotConfiguredError
from agent.models import check_model
from llmcompiler_bench.export import payload, write_json
from llmcompiler_bench.gantt import MISSING, chart_paths, draw
from llmcompiler_bench.live import DEFAULT_WORKLOAD as LIVE_DEFAULT
from llmcompiler_bench.live import WORKLOADS as LIVE_WORKLOADS
from llmcompiler_bench.live import (
    first_token_table,
    first_tokens,
    live_payload,
    live_table,
    run_live,
    summarize_live,
)
from llmcompiler_bench.optimizations import run_optimizations, summarize_optimizations
from llmcompiler_bench.peers import PEERS, PeersResult, run_peers
from llmcompiler_bench.peers.registry import ORIGINAL_COMMIT, ORIGINAL_REPOSITORY, not_a_checkout
from llmcompiler_bench.peers.summary import PeerSummary, summarize_peers
from llmcompiler_bench.personas import PERSONAS
from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.report import header, render
from llmcompiler_bench.runner import Settings, run_simulated
from llmcompiler_bench.stages import stage_summaries
from llmcompiler_bench.summary import summarize
from llmcompiler_bench.systems import LIVE_SYSTEMS, SYSTEMS
from llmcompiler_bench.workloads import WORKLOADS
from llmcompiler_scripted import PROFILES

QUICK_SCALE = 0.25
DEFAULT_ITEMS = 3


def _workloads(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in WORKLOADS and name not in LIVE_WORKLOADS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown workload {', '.join(unknown)} (choose from {', '.join(WORKLOADS)})"
        )
    return names


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _scale(text: str) -> float:
    value = float(text)
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
    return value


def _unwritable(path: Path) -> str | None:
    """Why `path` cannot be written, found by opening it (permissions alone miss a read-only
    file system, and root passes them): better before a long run than after it."""
    existed = path.exists()
    try:
        with path.open("a"):
            pass
    except OSError as exc:
        return f"cannot write --json {path}: {exc.strerror or exc}"
    if not existed:
        path.unlink()
    return None


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `llmcompiler bench` (see docs/benchmark.md)."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"one item per workload at time scale {QUICK_SCALE} (under two minutes)",
    )
    parser.add_argument(
        "--workload",
        action="extend",
        type=_workloads,
        metavar="NAME",
        help=(
            f"repeatable or comma-separated; default all: {', '.join(WORKLOADS)} "
            f"(live mode: one of {', '.join(LIVE_WORKLOADS)})"
        ),
    )
    parser.add_argument(
        "--n", type=_positive, help=f"items per workload (default {DEFAULT_ITEMS}; 1 with --quick)"
    )
    parser.add_argument("--repeats", type=_positive, default=1, help="runs per item (default 1)")
    parser.add_argument(
        "--time-scale",
        type=_scale,
        help=f"multiply every simulated duration (default 1; {QUICK_SCALE} with --quick)",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="gpt-4o-mini-like",
        help="simulated model preset (default gpt-4o-mini-like; its prices price live runs)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the tool latencies")
    parser.add_argument(
        "--persona",
        choices=list(PERSONAS),
        default="clean",
        help="how the scripted planner and joiner behave: "
        + "; ".join(f"{p.name}: {p.description}" for p in PERSONAS.values()),
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every raw figure here")
    parser.add_argument(
        "--gantt", type=Path, metavar="PATH.png", help="draw one timeline per item (matplotlib)"
    )
    parser.add_argument(
        "--model",
        metavar="PROVIDER:MODEL",
        help=(
            "live mode: this model on real questions; --workload corpus (default: offline "
            "tools over the bundled corpus) or hotpotqa (live Wikipedia)"
        ),
    )
    parser.add_argument("--base-url", help="live mode: an OpenAI-compatible server URL")
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also run other LLMCompiler implementations on the same items, models, tools and "
        f"latencies ({', '.join(p.label for p in PEERS)}); each is installed on first use "
        "into a venv of its own under .peers/ (needs python3.11 and PyPI); ours runs over HTTP "
        "too, the peers' path",
    )
    parser.add_argument(
        "--original",
        type=Path,
        metavar="PATH",
        help="with --peers: also run the original research code from this checkout of "
        f"github.com/{ORIGINAL_REPOSITORY} (commit {ORIGINAL_COMMIT}), unmodified, in a venv "
        "built from its requirements.txt",
    )


def settings_from(args: argparse.Namespace) -> Settings:
    workloads = tuple(dict.fromkeys(args.workload or ()))
    if args.model:
        workloads = workloads[:1] or (LIVE_DEFAULT,)
    return Settings(
        workloads=workloads or tuple(WORKLOADS),
        n=args.n if args.n is not None else 1 if args.quick else DEFAULT_ITEMS,
        repeats=args.repeats,
        time_scale=(
            args.time_scale if args.time_scale is not None else QUICK_SCALE if args.quick else 1.0
        ),
        profile=PROFILES[args.profile],
        seed=args.seed,
        quick=args.quick,
        persona=args.persona,
        http=bool(getattr(args, "peers", False)),
    )


def _problem(args: argparse.Namespace) -> str | None:
    """A reason not to start (before a possibly long run), or None."""
    if args.gantt and importlib.util.find_spec("matplotlib") is None:
        return MISSING
    if args.json and (unwritable := _unwritable(args.json)):
        return unwritable
    if args.model and (
        len(set(args.workload or ())) > 1 or set(args.workload or ()) - set(LIVE_WORKLOADS)
    ):
        return f"live mode (--model) runs one workload of: {', '.join(LIVE_WORKLOADS)}"
    if not args.model and set(args.workload or ()) & set(LIVE_WORKLOADS) - set(WORKLOADS):
        return "the corpus workload is live-only: give --model (and --base-url)"
    if args.model and getattr(args, "peers", False):
        return "--peers runs with the simulated models only (not with --model)"
    if getattr(args, "original", None) is not None:
        if not getattr(args, "peers", False):
            return "--original names a peer: give --peers too"
        if why := not_a_checkout(args.original):
            return why
    if args.model:
        try:
            check_model(args.model, base_url=args.base_url)
        except ModelNotConfiguredError as exc:
            return str(exc)
    return None


def _charts(path: Path, records: Sequence[RunRecord], console: Console) -> None:
    """One chart per (workload, item) of the first repeat; the 1,000-task stress runs are
    not drawn (a thousand lanes are not readable)."""
    first = [r for r in records if r.repeat == 0 and not WORKLOADS[r.workload].stress]
    keys = list(dict.fromkeys((r.workload, r.item) for r in first))
    for key, target in chart_paths(path, keys).items():
        runs = [r for r in first if (r.workload, r.item) == key]
        draw(runs, target, f"{key[0]} item {key[1]}")
        console.print(f"wrote {target}", markup=False)


async def run_bench(args: argparse.Namespace, console: Console) -> int:
    """Run the benchmark `args` describe, print the report; 0, 1 when every live run failed,
    or 2 when it cannot start."""
    problem = _problem(args)
    if problem:
        console.print(f"[red]error:[/red] {escape(problem)}", highlight=False)
        return 2
    settings = settings_from(args)

    with console.status("benchmark: warming up") as status:

        def progress(record: RunRecord) -> None:
            variant = f" [{record.variant}]" if record.variant else ""
            status.update(
                f"benchmark: {record.workload} item {record.item} "
                f"{SYSTEMS[record.system].label}{variant} {record.latency_s:.2f} s"
            )

        optimization_records: list[RunRecord] = []
        peers: PeersResult | None = None
        if args.model:
            workload = settings.workloads[0]
            records = await run_live(
                settings, args.model, args.base_url, progress, workload=workload
            )
        else:
            records = await run_simulated(settings, progress)
            optimization_records = await run_optimizations(settings, progress)
            if getattr(args, "peers", False):
                peers = await run_peers(
                    settings, progress=status.update, checkout=getattr(args, "original", None)
                )
    if args.model:
        header(console, settings, live=args.model)
        console.print(live_table(summarize_live(records, LIVE_SYSTEMS)))
        console.print(first_token_table(first_tokens(records, LIVE_SYSTEMS)))
        if args.json:
            write_json(args.json, live_payload(args.model, workload, settings, records))
            console.print(f"wrote {args.json}", markup=False)
        failed = next((r.error for r in records if r.error), None)
        if failed and all(r.error for r in records):  # nothing measured: the model is unusable
            console.print(f"[red]error:[/red] every run failed; the first: {escape(failed)}")
            return 1
        return 0
    summaries = [
        summarize(
            name,
            records,
            field_access_items=sum(i.uses_field_access for i in WORKLOADS[name].build(settings.n)),
        )
        for name in settings.workloads
        if not WORKLOADS[name].optimizations_only
    ]
    optimizations = [
        summarize_optimizations(name, optimization_records)
        for name in settings.workloads
        if optimization_records and not WORKLOADS[name].stress
    ]
    peer_summaries: list[PeerSummary] = summarize_peers(peers, records) if peers else []
    stages = stage_summaries(
        [s.workload for s in summaries if not WORKLOADS[s.workload].stress], records, peers
    )
    render(
        console,
        summaries,
        settings,
        live=args.model,
        optimizations=optimizations,
        peers=peers,
        peer_summaries=peer_summaries,
        stages=stages,
    )
    if args.json:
        data = payload(
            settings,
            summaries,
            records,
            live=args.model,
            optimizations=optimizations,
            optimization_records=optimization_records,
            peers=peers,
            peer_summaries=peer_summaries,
            stages=stages,
        )
        write_json(args.json, data)
        console.print(f"wrote {args.json}", markup=False)
    if args.gantt:
        _charts(args.gantt, records, console)
    return 0
