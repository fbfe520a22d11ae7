"""Where CPU-bound tools run: thread vs process vs Ray, side by side.

    python -m llmcompiler_bench.placement [--calls 4] [--repeats 5] [--call-s 0.3]

The workload: `--calls` independent calls of a pure-Python tool (`crunch`, which holds the
GIL throughout; its size is calibrated so that one call takes about `--call-s` alone) and one
dependent call that combines their results, run through the real graph with scripted models
that answer instantly, so the run's latency is the tools'. Each placement runs the same plan:
first `--warmup` runs that are not measured (they start the worker processes or Ray and
import the tool in every worker), then `--repeats` measured runs. The table gives the median
latency (min–max), the speedup of the median against threads, and the number of distinct
processes the calls ran in. `RAY_ADDRESS` points the Ray rows at a running cluster;
otherwise the engine starts a local Ray. See docs/placement.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import StructuredTool

from agent import Context, create_llm_compiler, placement
from agent.placement import PLACEMENTS
from llmcompiler_scripted import PROFILES, ScriptedChatModel

ANSWER = "Thought: all combined\nAction: Finish(done)"


def spin(n: int) -> int:
    """Pure-Python CPU work (the GIL is never released); a checksum."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def crunch(n: int) -> dict[str, Any]:
    """The CPU-bound tool: its checksum and the process it ran in."""
    return {"checksum": spin(n), "pid": os.getpid()}


def combine(parts: list[Any]) -> int:
    """The dependent call: adds the checksums (cheap)."""
    return sum(int(part["checksum"]) for part in parts)


def calibrate(target_s: float) -> int:
    """Iterations of `spin` that take about `target_s` here, alone."""
    n = 200_000
    while True:
        start = time.perf_counter()
        spin(n)
        took = time.perf_counter() - start
        if took >= 0.05:
            return max(1, round(n * target_s / took))
        n *= 4


def plan_text(calls: int, n: int) -> str:
    lines = [f"{i}. crunch(n={n})" for i in range(1, calls + 1)]
    refs = ", ".join(f'"${i}"' for i in range(1, calls + 1))
    lines.append(f"{calls + 1}. combine(parts=[{refs}])")
    lines.append(f"{calls + 2}. join()")
    return "\n".join(lines)


def tools_on(where: str) -> list[StructuredTool]:
    # Taken from the module by its name: run as `python -m`, this file is `__main__`, which
    # worker processes do not import.
    module = importlib.import_module("llmcompiler_bench.placement")
    functions: Sequence[Callable[..., Any]] = (module.crunch, module.combine)
    return [
        StructuredTool.from_function(function, metadata={"placement": where})
        for function in functions
    ]


@dataclass(frozen=True)
class Row:
    placement: str
    latencies: list[float]
    processes: int
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.latencies)


async def run_once(where: str, plan: str, max_concurrency: int) -> tuple[float, set[int]]:
    instant = PROFILES["instant"]
    planner = ScriptedChatModel(responses=[plan], timing=instant)
    joiner = ScriptedChatModel(responses=[ANSWER], timing=instant)
    graph: Any = create_llm_compiler(tools_on(where), planner=planner, joiner=joiner)
    context = Context(max_concurrency=max_concurrency, tool_timeout_s=600)
    start = time.perf_counter()
    output = await graph.ainvoke({"messages": [("user", "crunch")]}, context=context)
    took = time.perf_counter() - start
    failed = [t for t in output["tasks"] if t["status"] != "done"]
    if failed:
        raise RuntimeError(f"{failed[0]['tool']}: {failed[0]['error']}")
    pids = {t["result"]["pid"] for t in output["tasks"] if t["tool"] == "crunch"}
    return took, pids


async def measure(where: str, plan: str, warmup: int, repeats: int) -> Row:
    try:
        for _ in range(warmup):
            await run_once(where, plan, 64)
        latencies, pids = [], set()
        for _ in range(repeats):
            took, used = await run_once(where, plan, 64)
            latencies.append(took)
            pids |= used
    except Exception as exc:  # Ray not installed, say: a row that says so
        return Row(where, [], 0, f"{type(exc).__name__}: {exc}")
    return Row(where, latencies, len(pids))


def table(rows: list[Row], calls: int, alone_s: float, load_before: Sequence[float]) -> str:
    thread = next((r for r in rows if r.placement == "thread" and r.latencies), None)
    cores = os.cpu_count() or 1
    ideal = alone_s * -(-calls // cores)
    lines = [
        f"{calls} independent calls of a CPU-bound pure-Python tool ({alone_s:.2f} s alone) "
        f"and a dependent one; {cores} cores; load average (1, 5, 15 min) before "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + ", after "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"serial: {alone_s * calls:.2f} s; all cores busy: {ideal:.2f} s",
        "",
        "| placement | latency, median (min–max) | speedup vs thread | processes |",
        "|---|---|---|---|",
    ]
    for row in rows:
        if row.error:
            lines.append(f"| {row.placement} | {row.error} | | |")
            continue
        speedup = f"{thread.median / row.median:.2f}x" if thread else "n/a"
        spread = f"{min(row.latencies):.2f}–{max(row.latencies):.2f}"
        lines.append(
            f"| {row.placement} | {row.median:.2f} s ({spread}) | {speedup} | {row.processes} |"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> str:
    load_before = os.getloadavg()
    n = calibrate(args.call_s)
    start = time.perf_counter()
    spin(n)
    alone = time.perf_counter() - start
    plan = plan_text(args.calls, n)
    rows = [await measure(where, plan, args.warmup, args.repeats) for where in args.placements]
    placement.shutdown()
    return table(rows, args.calls, alone, load_before)


def placements(value: str) -> list[str]:
    chosen = [p.strip() for p in value.split(",") if p.strip()]
    unknown = set(chosen) - set(PLACEMENTS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(PLACEMENTS)}")
    return chosen


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4, help="independent CPU-bound calls")
    parser.add_argument("--repeats", type=int, default=5, help="measured runs per placement")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured runs first")
    parser.add_argument("--call-s", type=float, default=0.3, help="one call's time alone")
    parser.add_argument(
        "--placements", type=placements, default=list(PLACEMENTS), help="e.g. thread,process"
    )
    print(asyncio.run(main_async(parser.parse_args(argv))))


if __name__ == "__main__":
    main()
