"""The peer runner protocol end to end, offline and without installing any peer.

A fake peer (an adapter using only the standard library, written here) plans, runs the tools
and joins through the real protocol (`scripts/peer_protocol.py`) and the real scripted
OpenAI-compatible servers, run by this project's own interpreter: what `--peers` does with a
peer's venv, minus the install. Installing the real peers needs PyPI and minutes, so it is
left to `make bench-peers`.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

from agent._prompts import joiner_system
from llmcompiler_bench import cli, http_models
from llmcompiler_bench.cli import add_bench_arguments, run_bench
from llmcompiler_bench.peers import PeerSkip, run_peers
from llmcompiler_bench.peers.dialects import LLAMA_INDEX
from llmcompiler_bench.peers.registry import SCRIPTS, Peer
from llmcompiler_bench.peers.venv import PYTHON_ENV
from llmcompiler_bench.runner import Settings, run_item
from llmcompiler_bench.systems import LLMCOMPILER_HTTP
from llmcompiler_bench.workloads import WORKLOADS
from llmcompiler_scripted import PROFILES, ScriptedOpenAIServer

FAKE_ADAPTER = """
import ast, asyncio, json, re, sys, urllib.request
sys.path.insert(0, {scripts!r})
from peer_protocol import main

def chat(base_url, messages):
    request = urllib.request.Request(
        base_url + "/chat/completions",
        data=json.dumps({{"model": "fake", "messages": messages}}).encode(),
        headers={{"Content-Type": "application/json"}},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)["choices"][0]["message"]["content"]

def prepare(job, calls):
    def ask():
        system = "Given a user query, create a plan to solve it with the utmost parallelizability."
        plan = chat(job["base_url"], [{{"role": "system", "content": system}},
                                      {{"role": "user", "content": job["question"]}}])
        tasks = {{}}
        for idx, name, args in re.findall(r"(\\d+)\\. (\\w+)\\((.*)\\)", plan):
            if name != "join":
                tasks[int(idx)] = (name, list(ast.literal_eval("(" + args + ",)")))
        names = {{t["name"]: list(t["parameters"]["properties"]) for t in job["tools"]}}
        results = {{}}

        def resolve(value):
            if isinstance(value, list):
                return [resolve(v) for v in value]
            if isinstance(value, str) and re.fullmatch(r"\\$\\d+", value):
                return results[int(value[1:])]
            return value

        async def run_all():
            while len(results) < len(tasks):
                ready = [i for i, (_, args) in tasks.items() if i not in results and all(
                    int(d) in results for d in re.findall(r"\\$(\\d+)", json.dumps(args)))]
                async def one(i):
                    name, args = tasks[i]
                    kwargs = dict(zip(names[name], resolve(args)))
                    results[i] = await calls.acall(name, kwargs)
                await asyncio.gather(*(one(i) for i in ready))

        asyncio.run(run_all())
        observations = "\\n".join(f"Observation: {{results[i]}}" for i in sorted(results))
        prompt = "Solve a question answering task with interleaving Observation, Thought.\\n"
        reply = chat(job["base_url"], [{{"role": "user", "content": prompt + observations}}])
        action = next(line for line in reply.splitlines() if line.startswith("Action:"))
        return action[action.find("(") + 1 : action.rfind(")")]
    return ask

main(prepare)
"""


@pytest.fixture
def fake_peer(tmp_path: Path) -> Peer:
    script = tmp_path / "fake_peer.py"
    script.write_text(FAKE_ADAPTER.format(scripts=str(SCRIPTS)))
    return Peer(
        name="fake",
        label="fake peer",
        requirement="fake==0",
        module="fake",
        script=str(script),  # absolute: SCRIPTS / an absolute path is that path
        dialect=LLAMA_INDEX,
        unsupported={"nestful": "no field access"},
    )


def _settings(*workloads: str, scale: float = 0.05, n: int = 1) -> Settings:
    return Settings(workloads, n, 1, scale, PROFILES["gpt-4o-mini-like"], 0)


async def test_fake_peer_runs_every_item_through_the_runner_protocol(
    fake_peer: Peer, tmp_path: Path
) -> None:
    settings = _settings("hotpotqa", "parallelqa", "nestful", "stress-wide", n=2)
    result = await run_peers(
        settings, [fake_peer], root=tmp_path / "peers", python=Path(sys.executable)
    )
    assert result.skips == [PeerSkip("fake", "nestful", "no field access")]  # stress: no peers
    assert [(r.workload, r.item) for r in result.runs] == [
        (w, item.id) for w in ("hotpotqa", "parallelqa") for item in WORKLOADS[w].build(2)
    ]
    for run in result.runs:
        assert run.error is None and run.correct, run
        assert [m.kind for m in run.models] == ["planner", "joiner"]
        assert run.input_tokens > 0 and run.output_tokens > 0
        item = next(i for i in WORKLOADS[run.workload].build(2) if i.id == run.item)
        assert len(run.tools) == len(item.tasks)
        assert run.latency_s is not None and run.bound_s is not None
        # The bound holds: no run ends before T* (a little slack for timer granularity).
        assert run.latency_s >= run.bound_s - 0.01
        # The joiner started after the last tool ended; times share one clock.
        joiner = run.models[1]
        assert joiner.start >= max(t["end"] for t in run.tools) - 0.005
    folder = tmp_path / "peers" / "fake" / "runs" / "hotpotqa"
    jobs = json.loads((folder / "jobs.json").read_text())["jobs"]
    assert jobs[0]["id"] == "warm-up" and all(v[0][1] == 0 for v in jobs[0]["calls"].values())
    assert len((folder / "results.jsonl").read_text().splitlines()) == 3  # warm-up + 2 items


async def test_a_crashing_peer_reports_why_for_every_run(fake_peer: Peer, tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise SystemExit('this peer cannot start')\n")
    peer = dataclasses.replace(fake_peer, script=str(broken))
    result = await run_peers(
        _settings("hotpotqa"), [peer], root=tmp_path, python=Path(sys.executable)
    )
    (run,) = result.runs
    assert run.latency_s is None and not run.correct
    assert run.error is not None and "this peer cannot start" in run.error


async def test_a_peer_that_cannot_be_installed_is_skipped_with_its_reason(
    fake_peer: Peer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PYTHON_ENV, "no-such-python3.11")
    result = await run_peers(_settings("hotpotqa"), [fake_peer], root=tmp_path)
    assert result.runs == []
    (skip,) = result.skips
    assert skip.workload is None and "no-such-python3.11 is not on PATH" in skip.reason


async def test_bench_peers_prints_the_peers_beside_ours(
    fake_peer: Peer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        cli,
        "run_peers",
        functools.partial(run_peers, peers=[fake_peer], root=tmp_path, python=Path(sys.executable)),
    )
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser)
    out = tmp_path / "bench.json"
    args = parser.parse_args(
        [
            "--peers",
            "--workload",
            "hotpotqa",
            "--n",
            "1",
            "--time-scale",
            "0.05",
            "--json",
            str(out),
        ]
    )
    console = Console(record=True, width=250)
    assert await run_bench(args, console) == 0
    text = console.export_text()
    assert "Peers: other LLMCompiler implementations" in text
    assert "LLMCompiler (ours, in process)" in text and "fake peer" in text
    assert "hotpotqa: ours" in text and "ours at least 10% faster" in text
    assert "SqueezeAILab/LLMCompiler not run" in text  # said, not silently left out
    assert "LLMCompiler (ours, HTTP)" in text and "hotpotqa: ours (HTTP)" in text
    data = json.loads(out.read_text())
    (run,) = data["peers"]["runs"]
    assert run["peer"] == "fake" and run["correct"] and run["llm_calls"] == 2
    http, in_process, summary = data["peers"]["summaries"]
    assert (http["path"], http["ours"], in_process["path"]) == ("HTTP", True, "in process")
    assert summary["speedup_react"]["median"] > 0 and summary["vs_ours"]["median"] > 0
    (ours,) = [r for r in data["runs"] if r["system"] == "llmcompiler-http"]
    assert ours["correct"] and ours["llm_calls"] == 2 and ours["bound_s"] > 0


async def test_ours_over_http_asks_the_scripted_server_through_chatopenai(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[ScriptedOpenAIServer] = []

    class Spy(ScriptedOpenAIServer):
        def start(self) -> Spy:
            served.append(self)
            return super().start()

    monkeypatch.setattr(http_models, "ScriptedOpenAIServer", Spy)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    workload = WORKLOADS["hotpotqa"]
    item = workload.build(1)[0]
    settings = _settings("hotpotqa")
    latencies = {t.idx: 0.0 for t in item.tasks}
    record = await run_item(workload, item, LLMCOMPILER_HTTP, 0, settings, latencies)
    assert record.correct and record.error is None and record.bound_s is not None
    (server,) = served
    system_prompts = [str(r["messages"][0]["content"]) for r in server.requests]
    assert len(system_prompts) == 2 and http_models.is_planner(server.requests[0]["messages"])
    assert system_prompts[1].startswith(joiner_system(thought=False))
    assert all(r["stream"] for r in server.requests)  # streamed, as the engine reads them
    assert [m.kind for m in record.models] == ["planner", "joiner"]


async def test_peers_refuse_live_mode() -> None:
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser)
    args = parser.parse_args(["--peers", "--model", "openai:x"])
    console = Console(record=True, width=200)
    assert await run_bench(args, console) == 2
    assert "simulated models only" in console.export_text()
