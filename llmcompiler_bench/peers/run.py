"""`--peers`: every peer on the same items, scripted models, tools and latencies as ours.

Per peer and workload, one process of the peer's venv runs its adapter (`scripts/`) over a
job list: a warm-up job first (the first item at zero latency, instant models; discarded, as
our warm-up), then every item × repeat in order, one at a time. Each job gets its own
`ScriptedOpenAIServer` with the run's timing profile (absolute-deadline streaming, as our
scripted models), serving the gold plan in the peer's own syntax and the joiner's answer in
its own format (`dialects.py`), and logging every request's prompt tokens, so that T* can be
computed from the peer's real prompts. The tools run inside the peer's process with the
latencies drawn for that item and repeat (`runner.latencies_of`, the same as ours).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmcompiler_bench.bound import critical_path_bound, line_ready_times
from llmcompiler_bench.peers.dialects import Dialect
from llmcompiler_bench.peers.records import PeerRun, PeerSkip, make_run, read_results
from llmcompiler_bench.peers.registry import PEERS, Peer, original
from llmcompiler_bench.peers.venv import (
    PeerUnavailableError,
    ensure_venv,
    environment,
    peers_dir,
)
from llmcompiler_bench.plans import PlanText
from llmcompiler_bench.runner import INSTANT, Settings, latencies_of, profile_for
from llmcompiler_bench.tools import call_occurrences
from llmcompiler_bench.workloads import WORKLOADS, Item, Workload
from llmcompiler_scripted import ModelProfile, ScriptedOpenAIServer
from llmcompiler_scripted.server import streamed
from llmcompiler_scripted.timing import count_prompt_tokens

JOB_TIMEOUT_S = 60.0
"""Allowed per job (a hung peer is killed; its remaining jobs report no result)."""
START_TIMEOUT_S = 120.0
"""Allowed on top, for the process to start and import the peer."""

CallLog = list[tuple[str, float, float, float, int, int]]
"""Per request: kind, monotonic time it arrived, nominal time to its first token and to its
last (the profile's schedule, which the server streams on), input and output tokens."""


@dataclass
class PeersResult:
    """Everything `--peers` measured, and what it could not run."""

    peers: tuple[Peer, ...]
    runs: list[PeerRun] = field(default_factory=list)
    skips: list[PeerSkip] = field(default_factory=list)


@dataclass
class _Job:
    id: str
    item: Item
    repeat: int
    latencies: dict[int, float]
    server: ScriptedOpenAIServer
    log: CallLog


def _serve(
    item: Item, dialect: Dialect, profile: ModelProfile
) -> tuple[ScriptedOpenAIServer, CallLog]:
    respond_to = dialect.respond(item)
    log: CallLog = []

    def respond(messages: list[dict[str, Any]]) -> Any:
        arrived = time.monotonic()
        kind, reply = respond_to(messages)
        tokens_in = count_prompt_tokens(messages)
        if kind == "unknown":
            log.append((kind, arrived, 0.0, 0.0, tokens_in, 0))
            first = str(messages[0].get("content", ""))[:80] if messages else ""
            return {"status": 500, "message": f"no scripted reply for a prompt starting {first!r}"}
        # What the server streams: cut at the request's stop sequence (the original stops its
        # planner at `<END_OF_PLAN>`), not the whole scripted reply.
        request = next(r for r in reversed(server.requests) if r.get("messages") == messages)
        tokens_out = len(streamed(request, reply)[1])
        due = (profile.offset_s(tokens_in, 0), profile.duration_s(tokens_in, tokens_out))
        log.append((kind, arrived, *due, tokens_in, tokens_out))
        return reply

    server = ScriptedOpenAIServer(respond=respond, timing=profile)
    return server.start(), log


def job_spec(
    job_id: str, item: Item, latencies: dict[int, float], scale: float, base_url: str
) -> dict[str, Any]:
    """One job of the runner protocol (`scripts/peer_protocol.py`)."""
    return {
        "id": job_id,
        "workload": item.workload,
        "question": item.question,
        "base_url": base_url,
        "tools": [
            {"name": s.name, "description": s.description, "parameters": s.parameters}
            for s in item.tools
        ],
        "calls": {
            key: [[task.result, latencies[task.idx] * scale] for task in tasks]
            for key, tasks in call_occurrences(item.tasks).items()
        },
    }


def peer_bound(
    run: PeerRun,
    item: Item,
    plan: PlanText,
    latencies: dict[int, float],
    profile: ModelProfile,
    scale: float,
) -> float | None:
    """T* of the peer's run by our formula (`bound.py`), from its own planner prompt, its plan
    text and its joiner's prompt and reply; None when it did not plan once and join at most
    once (a replan has no single bound)."""
    planners = [m for m in run.models if m.kind == "planner"]
    joiners = [m for m in run.models if m.kind == "joiner"]
    if len(planners) != 1 or len(joiners) > 1:
        return None
    durations = {t.idx: latencies[t.idx] * scale for t in item.tasks} | {plan.join_idx: 0.0}
    deps = {t.idx: t.deps for t in item.tasks}
    join_s = (
        profile.duration_s(joiners[0].input_tokens, joiners[0].output_tokens) if joiners else 0.0
    )
    ready = line_ready_times(plan, planners[0].input_tokens, profile)
    return critical_path_bound(ready, durations, deps, join_s)


def _tail(path: Path, lines: int = 8) -> str:
    if not path.exists():
        return ""
    kept = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(kept[-lines:])


async def execute(
    python: Path, peer: Peer, jobs: Sequence[dict[str, Any]], folder: Path
) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Run the peer's adapter over `jobs`; (results by job id, why some may be missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    jobs_path, results_path, log = (
        folder / "jobs.json",
        folder / "results.jsonl",
        folder / "run.log",
    )
    jobs_path.write_text(json.dumps({"jobs": list(jobs)}, ensure_ascii=False, default=str))
    results_path.unlink(missing_ok=True)
    problem = None
    with log.open("w", encoding="utf-8") as handle:
        process = await asyncio.create_subprocess_exec(
            str(python),
            str(peer.script_path),
            str(jobs_path),
            str(results_path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=handle,
            stderr=handle,
            env=environment(peer),
        )
        timeout = START_TIMEOUT_S + JOB_TIMEOUT_S * len(jobs)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            problem = f"the runner timed out after {timeout:.0f} s (log: {log})"
    if problem is None and process.returncode:
        problem = f"the runner exited {process.returncode}: {_tail(log)} (log: {log})"
    results = read_results(results_path.read_text() if results_path.exists() else "")
    return results, problem


async def run_workload(
    peer: Peer,
    python: Path,
    workload: Workload,
    settings: Settings,
    folder: Path,
) -> list[PeerRun]:
    """Every item × repeat of `workload` through `peer`, after a discarded warm-up job."""
    profile = profile_for(workload, settings)
    scale = settings.time_scale
    items = workload.build(settings.n)
    plans = {item.id: peer.dialect.plan(item.tasks) for item in items}
    jobs: list[_Job] = []
    warm_server, _ = _serve(items[0], peer.dialect, INSTANT)
    specs = [
        job_spec(
            "warm-up", items[0], {t.idx: 0.0 for t in items[0].tasks}, 0.0, warm_server.base_url
        )
    ]
    try:
        for item in items:
            for repeat in range(settings.repeats):
                server, log = _serve(item, peer.dialect, profile)
                job = _Job(
                    f"{item.id}/{repeat}",
                    item,
                    repeat,
                    latencies_of(item, repeat, settings),
                    server,
                    log,
                )
                jobs.append(job)
                specs.append(job_spec(job.id, item, job.latencies, scale, server.base_url))
        results, problem = await execute(python, peer, specs, folder / workload.name)
    finally:
        warm_server.stop()
        for job in jobs:
            job.server.stop()
    runs = []
    for job in jobs:
        run = make_run(
            peer=peer.name,
            workload=workload.name,
            item=job.item.id,
            repeat=job.repeat,
            gold=job.item.answer,
            result=results.get(job.id),
            calls=job.log,
            missing=problem or "the runner wrote no result",
        )
        if run.latency_s is not None:
            run.bound_s = peer_bound(
                run, job.item, plans[job.item.id], job.latencies, profile, scale
            )
        runs.append(run)
    return runs


def peer_workloads(settings: Settings) -> list[Workload]:
    """The workloads of the main comparison that have ReAct baselines (not stress, not the
    optimizations-only ones)."""
    found = [WORKLOADS[name] for name in settings.workloads]
    return [w for w in found if not w.stress and not w.optimizations_only]


async def run_peers(
    settings: Settings,
    peers: Sequence[Peer] = PEERS,
    *,
    root: Path | None = None,
    python: Path | None = None,
    progress: Callable[[str], None] = lambda _text: None,
    checkout: Path | None = None,
) -> PeersResult:
    """Install (first use) and run every peer on every applicable workload, and the original
    research code from its `checkout` when one is given; `python` skips the install and runs
    every adapter with that interpreter (tests: a fake peer, our venv)."""
    root = root or peers_dir()
    if checkout is not None:
        peers = (*peers, original(checkout))
    result = PeersResult(tuple(peers))
    for peer in peers:
        interpreter = python
        if interpreter is None:
            progress(
                f"peers: preparing {peer.label} (first use installs it into {root / peer.name})"
            )
            try:
                interpreter = await ensure_venv(peer, root)
            except PeerUnavailableError as exc:
                result.skips.append(PeerSkip(peer.name, None, str(exc)))
                continue
        for workload in peer_workloads(settings):
            reason = peer.unsupported.get(workload.name)
            if reason:
                result.skips.append(PeerSkip(peer.name, workload.name, reason))
                continue
            progress(f"peers: {peer.label} on {workload.name}")
            result.runs += await run_workload(
                peer, interpreter, workload, settings, root / peer.name / "runs"
            )
    return result
