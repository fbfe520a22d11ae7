"""Load test: many threads at once on a `langgraph dev` server, driven through `langgraph-sdk`.

    python -m llmcompiler_bench.load --threads 100 [--url http://127.0.0.1:2024] [--json PATH]

Without `--url` it serves itself, on loopback: a scripted OpenAI-compatible model server at
gpt-4o-mini-like speed (scaled 0.25) and `langgraph dev` with `--n-jobs-per-worker` at least the
thread count (its default of 10 would measure queueing, not concurrency), both stopped by PID.

Every thread carries an identity: a key of its own, drawn at random, in its question. Its
tools (the LLM-backed `math`, through the scripted model) return values that belong to that
thread alone, and the scripted joiner writes its answer from the results it was shown, not
from the question. A self-served run is completed only when it succeeds, its final state's
`tasks` hold exactly its own values and its answer states them; failed when it errors; lost
otherwise (timed out, still pending, a result missing, or a result of another thread). With
`--url` the models are the server's, so any non-empty answer completes a run. It is a
benchmark, not a test: the latency figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from rich.console import Console
from rich.table import Table

from llmcompiler_bench.dev_server import DevServer, langgraph_dev
from llmcompiler_scripted.child import served_in_child
from llmcompiler_scripted.timing import PROFILES

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PROFILE = PROFILES["gpt-4o-mini-like"].scaled(0.25)
"""Model speed of the self-served runs: 0.1 s to first token, 240 tokens/s."""

QUESTION = "What is {key} times 7, what is {key} plus 8, and what is their sum?"
"""Each thread's question, `{key}` replaced by its key."""

KEYS = range(1_000_000, 1_100_000)
"""Where keys are drawn from. For keys k in this range the values a thread's tools return,
7k, k + 8 and 8k + 8, fall in three disjoint ranges, so distinct keys give every thread
values no other thread has, at any position."""


@dataclass(frozen=True)
class ThreadScript:
    """One thread's identity: its question, and the results and answer that are its own."""

    thread: int
    key: int

    @property
    def question(self) -> str:
        return QUESTION.format(key=self.key)

    @property
    def results(self) -> dict[int, int]:
        """Task index to the value that task must hold: `key * 7`, `key + 8`, their sum."""
        return {1: 7 * self.key, 2: self.key + 8, 3: 8 * self.key + 8}

    @property
    def answer(self) -> str:
        return expected_answer(self.key)


def expected_answer(key: int) -> str:
    """The scripted joiner's answer to the question with `key`, given that key's results."""
    return answer_text(key, 7 * key, key + 8, 8 * key + 8)


def answer_text(key: int | str, product: object, total: object, both: object) -> str:
    return f"{key} times 7 is {product}, {key} plus 8 is {total}, and their sum is {both}."


def thread_scripts(threads: int, rng: random.Random | None = None) -> list[ThreadScript]:
    """Threads 1..`threads`, each with a distinct key drawn from `KEYS` (fresh ones each load,
    so a state left by an earlier load cannot pass for this one's)."""
    if threads > len(KEYS):
        raise ValueError(f"at most {len(KEYS)} threads have keys of their own")
    keys = (rng or random.Random()).sample(KEYS, threads)
    return [ThreadScript(i, key) for i, key in enumerate(keys, 1)]


_ASKED = re.compile(r"Question: What is (\d+) times 7")
_PROBLEM = re.compile(r"Problem: (\d+) (times|plus) (\d+)")
_RESULT = re.compile(r"^(\d+)\. math\(.*\)\n\s+-> (.+)$", re.MULTILINE)


def respond(messages: Sequence[Mapping[str, Any]], crossed: Mapping[int, int] | None = None) -> str:
    """The scripted planner, joiner and `math` model for `QUESTION`, told apart by prompt.

    The planner plans three `math` calls on the question's key; the `math` model writes the
    expression for the key in its problem; the joiner answers from the results in its prompt.
    `crossed` is a fault for tests: a problem about key `k` is answered as one about
    `crossed[k]`, so the tools of one thread return another thread's values.
    """
    system, last = str(messages[0]["content"]), str(messages[-1]["content"])
    asked = _ASKED.search(last)
    if system.startswith("Plan how to answer") and asked:
        key = asked.group(1)
        return (
            f'1. math("{key} times 7")\n2. math("{key} plus 8")\n'
            '3. math("the sum of both", context=["$1", "$2"])\n4. join()'
        )
    if "Finish(" in system and asked:
        results = dict(_RESULT.findall(last))
        shown = [results.get(str(idx), "unknown").strip() for idx in (1, 2, 3)]
        answer = answer_text(asked.group(1), *shown)
        return f"Thought: all three results are in\nAction: Finish({answer})"
    problem = _PROBLEM.search(last)
    if problem:
        key = int(problem[1])
        key = (crossed or {}).get(key, key)
        op = "*" if problem[2] == "times" else "+"
        return f"Expression: {key} {op} {problem[3]}"
    terms = re.findall(r"^- (\d+)$", last, re.MULTILINE)  # the sum: its context items
    return f"Expression: {' + '.join(terms) or '0'}"


def check_state(
    script: ThreadScript, values: Any, owners: Mapping[int, int] | None = None
) -> str | None:
    """Why a run's final state is not its own thread's (None when it is).

    Its `tasks` must be exactly tasks 1 to 3, done, each holding this thread's value, and its
    answer must state them. `owners` (value to thread) names the thread a crossed value
    belongs to.
    """
    if not isinstance(values, Mapping):
        return "the final state is empty"
    tasks = [t for t in values.get("tasks") or [] if isinstance(t, Mapping)]
    by_idx = {t.get("idx"): t for t in tasks}
    if len(tasks) != len(by_idx) or set(by_idx) != set(script.results):
        return f"the state's tasks are {sorted(map(str, by_idx))}, not 1 to 3"
    for idx, expected in script.results.items():
        task = by_idx[idx]
        got = task.get("result")
        if task.get("status") != "done" or got != expected:
            owner = (owners or {}).get(got) if isinstance(got, int) else None
            whose = f", thread {owner}'s value" if owner not in (None, script.thread) else ""
            return f"task ${idx} holds {got!r} ({task.get('status')}{whose}), not {expected}"
    answer = final_answer(values)
    if script.answer not in answer:
        return f"the answer is not its own: {answer[:120]!r}"
    return None


def final_answer(values: Mapping[str, Any]) -> str:
    """The text of the last message if the assistant wrote it, else ''."""
    messages = values.get("messages")
    last = messages[-1] if messages else {}
    return str(last.get("content") or "") if last.get("type") == "ai" else ""


@dataclass(frozen=True)
class RunOutcome:
    thread: int
    kind: Literal["completed", "failed", "lost"]
    latency_s: float
    detail: str = ""


@dataclass(frozen=True)
class LoadReport:
    """Counts and latencies of one load run (latencies over completed runs only)."""

    threads: int
    completed: int
    failed: int
    lost: int
    p50_s: float | None
    p95_s: float | None
    max_s: float | None
    wall_s: float
    problems: list[str] = field(default_factory=list)
    """Up to ten reasons for failed or lost runs, each naming its thread."""
    failed_threads: list[int] = field(default_factory=list)
    lost_threads: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, outcomes: Sequence[RunOutcome], wall_s: float) -> LoadReport:
        latencies = sorted(o.latency_s for o in outcomes if o.kind == "completed")
        problems = sorted(
            (o for o in outcomes if o.kind != "completed"), key=lambda o: (o.kind, o.thread)
        )
        return cls(
            threads=len(outcomes),
            completed=sum(o.kind == "completed" for o in outcomes),
            failed=sum(o.kind == "failed" for o in outcomes),
            lost=sum(o.kind == "lost" for o in outcomes),
            p50_s=percentile(latencies, 0.50),
            p95_s=percentile(latencies, 0.95),
            max_s=latencies[-1] if latencies else None,
            wall_s=wall_s,
            problems=[f"{o.kind}: thread {o.thread}: {o.detail}" for o in problems[:10]],
            failed_threads=sorted(o.thread for o in outcomes if o.kind == "failed"),
            lost_threads=sorted(o.thread for o in outcomes if o.kind == "lost"),
        )


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values (a value that was measured, not interpolated)."""
    if not ordered:
        return None
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def _require_loopback(url: str) -> None:
    """A load generator aimed at the wrong host is an attack: loopback only."""
    if urlsplit(url).hostname not in LOOPBACK:
        raise ValueError(f"load tests run against loopback only, not {url}")


async def run_load(
    url: str,
    *,
    threads: int = 100,
    graph: str = "llmcompiler",
    timeout_s: float = 120.0,
    context: Mapping[str, Any] | None = None,
    scripts: Sequence[ThreadScript] | None = None,
    check_identity: bool = True,
) -> LoadReport:
    """Start one run per thread at once, each on a new thread, and classify how each ended.

    `scripts` are the threads' identities (by default `thread_scripts(threads)`, fresh keys;
    given, they set the number of threads).
    With `check_identity` (the scripted models) a run completes only if `check_state` finds
    its own values in its state and answer; without, any non-empty answer completes it. A
    run's latency is from its creation until it ends (creating its thread is not counted).
    """
    _require_loopback(url)
    scripts = list(scripts) if scripts is not None else thread_scripts(threads)
    owners = {value: s.thread for s in scripts for value in s.results.values()}
    # (connect, read, write, pool): a request queued for a connection waits, it does not fail.
    client = get_client(url=url, api_key=None, timeout=(10.0, timeout_s, timeout_s, timeout_s))
    try:
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(
                _one_run(client, script, graph, timeout_s, context, owners, check_identity)
                for script in scripts
            )
        )
        return LoadReport.of(outcomes, time.monotonic() - started)
    finally:
        await client.aclose()


async def _one_run(
    client: LangGraphClient,
    script: ThreadScript,
    graph: str,
    timeout_s: float,
    context: Mapping[str, Any] | None,
    owners: Mapping[int, int],
    check_identity: bool,
) -> RunOutcome:
    i = script.thread
    payload: dict[str, Any] = {"messages": [{"role": "user", "content": script.question}]}
    started = time.monotonic()
    try:
        thread_id = (await client.threads.create())["thread_id"]
        started = time.monotonic()
        run = await client.runs.create(
            thread_id,
            graph,
            input=payload,
            context=dict(context or {}),
        )
        try:
            await asyncio.wait_for(client.runs.join(thread_id, run["run_id"]), timeout_s)
        except TimeoutError:
            with contextlib.suppress(Exception):  # best effort: don't leave it running
                await client.runs.cancel(thread_id, run["run_id"])
            return RunOutcome(i, "lost", time.monotonic() - started, f"no end in {timeout_s}s")
        latency = time.monotonic() - started
        status = (await client.runs.get(thread_id, run["run_id"]))["status"]
        if status == "error":
            return RunOutcome(i, "failed", latency, "the run ended with an error")
        if status != "success":
            return RunOutcome(i, "lost", latency, f"run status {status!r}")
        values = (await client.threads.get_state(thread_id))["values"]
    except (httpx.HTTPError, OSError) as exc:
        return RunOutcome(i, "failed", time.monotonic() - started, f"{type(exc).__name__}: {exc}")
    if check_identity:
        problem = check_state(script, values, owners)
    else:
        answered = isinstance(values, Mapping) and final_answer(values)
        problem = None if answered else "the final state lacks the answer"
    if problem is None:
        return RunOutcome(i, "completed", latency)
    return RunOutcome(i, "lost", latency, problem)


@contextlib.contextmanager
def self_served(threads: int, crossed: Mapping[int, int] | None = None) -> Iterator[DevServer]:
    """`langgraph dev` sized for `threads` concurrent runs, its models `respond` at `PROFILE`
    speed (`crossed`: `respond`'s fault injection, for tests).

    The model server runs in a process of its own: its streaming threads must not compete for
    the load generator's interpreter lock, which would inflate the latencies measured.
    """
    faults = {int(k): int(v) for k, v in (crossed or {}).items()}
    with (
        served_in_child(
            "llmcompiler_bench.load.respond",  # imported by the child, so also under `-m`
            kwargs={"crossed": faults},
            profile=PROFILE.name,
            time_scale=PROFILE.time_scale,
        ) as models,
        langgraph_dev(models, n_jobs=max(threads, 10)) as server,
    ):
        yield server


def print_report(report: LoadReport, console: Console, setup: str) -> None:
    def seconds(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f} s"

    table = Table(title=f"load test: {report.threads} concurrent threads", caption=setup)
    table.add_column("completed", justify="right", style="green")
    table.add_column("failed", justify="right", style="red")
    table.add_column("lost", justify="right", style="yellow")
    for name in ("p50", "p95", "max", "wall time"):
        table.add_column(name, justify="right")
    table.add_row(
        str(report.completed),
        str(report.failed),
        str(report.lost),
        seconds(report.p50_s),
        seconds(report.p95_s),
        seconds(report.max_s),
        seconds(report.wall_s),
    )
    console.print(table)
    for problem in report.problems:
        console.print(f"[red]{problem}[/red]", highlight=False)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m llmcompiler_bench.load", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--threads", type=int, default=100, help="concurrent runs (default 100)")
    parser.add_argument("--url", help="a running server on loopback (default: serve one here)")
    parser.add_argument("--graph", default="llmcompiler")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write the report here as JSON")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.url:
        try:
            _require_loopback(args.url)
        except ValueError as exc:
            parser.error(str(exc))
        setup = f"{args.url}, graph {args.graph}; a run completes with any answer"
        report = asyncio.run(
            run_load(
                args.url,
                threads=args.threads,
                graph=args.graph,
                timeout_s=args.timeout,
                check_identity=False,
            )
        )
    else:
        setup = (
            f"langgraph dev --n-jobs-per-worker {max(args.threads, 10)}; scripted models at "
            f"{PROFILE.name} speed x{PROFILE.time_scale} (planner, 3 math calls, joiner per run; "
            "results and answer checked for the thread's own values)"
        )
        with self_served(args.threads) as server:
            report = asyncio.run(
                run_load(server.url, threads=args.threads, graph=args.graph, timeout_s=args.timeout)
            )
    print_report(report, Console(), setup)
    if args.json:
        args.json.write_text(json.dumps({**asdict(report), "setup": setup}, indent=2) + "\n")
    sys.exit(0 if report.completed == report.threads else 1)


if __name__ == "__main__":
    main()
