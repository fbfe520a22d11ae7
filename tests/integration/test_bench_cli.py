"""`llmcompiler bench` end to end on one small item, and the live mode's plumbing.

No wall-clock assertions: the figures of a tiny time scale mean nothing, only their presence.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from llmcompiler_bench.cli import add_bench_arguments, run_bench, settings_from
from llmcompiler_bench.gantt import MISSING
from llmcompiler_scripted import ScriptedOpenAIServer


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser)
    return parser.parse_args(argv)


async def _bench(*argv: str) -> tuple[int, str]:
    console = Console(record=True, width=220)
    code = await run_bench(_args(*argv), console)
    return code, console.export_text()


def test_quick_defaults_and_workload_lists() -> None:
    quick = settings_from(_args("--quick", "--workload", "movie,hotpotqa", "--workload", "movie"))
    assert (quick.n, quick.time_scale, quick.workloads) == (1, 0.25, ("movie", "hotpotqa"))
    full = settings_from(_args())
    assert (full.n, full.time_scale, full.profile.name) == (3, 1.0, "gpt-4o-mini-like")
    assert full.workloads[-2:] == ("stress-wide", "stress-deep")
    with pytest.raises(SystemExit):
        _args("--workload", "nope")


async def test_one_small_item_end_to_end_prints_the_table_and_writes_json(
    tmp_path: Path,
) -> None:
    out = tmp_path / "bench.json"
    gantt = ["--gantt", str(tmp_path / "g.png")] if importlib.util.find_spec("matplotlib") else []
    code, text = await _bench(
        "--workload", "hotpotqa", "--n", "1", "--time-scale", "0.02", "--json", str(out), *gantt
    )
    assert code == 0, text
    for heading in (
        "SIMULATED",
        "Per system",
        "first answer token",
        "Speedup",
        "against the bound T*",
        "Compiler optimizations",
        "Where the time goes, per stage",
    ):
        assert heading in text
    assert "Targets" not in text and "missed" not in text  # measured facts, not goals
    assert "paper (published)" in text and "not measured here" in text.replace("\n", " ")
    published = ("ReAct (parallel calls)", "1.12x")  # the paper's, derived from Table 1
    assert any(all(f in line for f in published) for line in text.splitlines())
    assert "Peers" not in text  # only with --peers
    data = json.loads(out.read_text())
    assert set(data) >= {"settings", "profile", "summaries", "published", "runs"}
    assert not {"targets", "references", "peers"} & set(data)
    assert set(data["published"]["paper"]) == {"hotpotqa", "movie", "parallelqa"}
    assert data["profile"]["name"] == "gpt-4o-mini-like"
    assert {r["system"] for r in data["runs"]} == {
        "llmcompiler",
        "llmcompiler-plan-first",
        "react",
        "react-parallel",
    }
    run = next(r for r in data["runs"] if r["system"] == "llmcompiler")
    assert run["correct"] and run["llm_calls"] == 2 and run["bound_s"] > 0
    assert {"latency_s", "input_tokens", "output_tokens", "cost_usd", "tools", "models"} <= set(run)
    assert [t["idx"] for t in run["tools"]] == [1, 2]
    assert run["first_answer_s"] is not None and run["tool_calls"] == 2
    (stages,) = data["stages"]  # ours in process, split from this run's own spans
    planner = next(m for m in run["models"] if m["kind"] == "planner")
    assert stages["system"] == "llmcompiler"
    assert stages["planner_input_tokens"]["median"] == planner["input_tokens"]
    summary = data["summaries"][0]
    assert summary["speedup_react"]["median"] > 0 and summary["bound_ratio"]["median"] > 0
    assert set(summary["first_answer"]) == {r["system"] for r in data["runs"]}
    optimizations = data["optimizations"]  # hotpotqa: only the cache applies
    (effects,) = [s["effects"] for s in optimizations["summaries"]]
    assert set(effects) == {"cache_results"}
    assert effects["cache_results"]["tool_calls"][1]["median"] == 0
    variants = [r["variant"] for r in optimizations["runs"]]
    assert variants == ["cache_results:cold", "cache_results:warm"]
    assert all(r["variant"] is None for r in data["runs"])
    if gantt:
        assert (tmp_path / "g.png").stat().st_size > 0


async def test_gantt_without_matplotlib_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    code, text = await _bench("--gantt", "x.png")
    assert code == 2
    assert "pip install 'llmcompiler-langgraph[bench]'" in text
    assert MISSING in text.replace("\n", "")


def _respond(messages: list[dict[str, Any]]) -> Any:
    """Planner, joiner, math, a ReAct turn or a text-ReAct turn, told apart by their prompts."""
    system = str(messages[0]["content"])
    last = str(messages[-1]["content"])
    if system.startswith("Plan how to answer"):
        return '1. search("Mount Everest")\n2. search("K2")\n3. join()'
    if "Finish(" in system:
        return "Thought: 8,849 m is more than 8,611 m.\nAction: Finish(Mount Everest)"
    if system.startswith("Answer the question with the tools below. Use exactly this format"):
        if "Observation:" in last:
            return "Thought: I know the answer\nFinal Answer: Mount Everest"
        return 'Thought: I need its height.\nAction: search("Mount Everest")'
    if not any(m["role"] == "tool" for m in messages):
        call = {"name": "search", "args": {"query": "Mount Everest"}}
        return {"content": "I look it up.", "tool_calls": [call]}
    return "Mount Everest"


async def test_live_mode_runs_every_system_offline_through_a_real_client(
    openai_server: Callable[..., ScriptedOpenAIServer],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = openai_server(respond=_respond)
    out = tmp_path / "live.json"
    code, text = await _bench(
        "--model", "openai:scripted", "--base-url", server.base_url, "--n", "1",
        "--json", str(out),
    )  # fmt: skip
    assert code == 0, text
    assert "LIVE model openai:scripted" in text and "on corpus" in text.replace("\n", " ")
    data = json.loads(out.read_text())
    assert data["mode"] == "live" and data["workload"] == "corpus"
    runs = {r["system"]: r for r in data["records"]}
    assert set(runs) == {"llmcompiler", "react", "react-parallel", "react-text"}
    assert all(r["correct"] and r["clean"] and r["error"] is None for r in runs.values())
    assert runs["llmcompiler"]["llm_calls"] == 2 and runs["llmcompiler"]["tool_calls"] == 2
    assert runs["react-text"]["llm_calls"] == 2 and runs["react-text"]["tool_calls"] == 1
    summaries = {s["system"]: s for s in data["summaries"]}
    assert all(s["input_tokens"] > 0 for s in summaries.values())  # estimated when unreported


async def test_live_mode_refuses_a_simulated_only_workload() -> None:
    code, text = await _bench("--model", "openai:x", "--workload", "movie")
    assert code == 2 and "runs one workload of: corpus, hotpotqa" in text


async def test_corpus_workload_without_a_model_is_refused() -> None:
    code, text = await _bench("--workload", "corpus")
    assert code == 2 and "live-only" in text


async def test_live_mode_against_a_dead_server_counts_no_run_answered_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "live.json"
    dead = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    code, text = await _bench(
        "--model", "openai:x", "--base-url", dead, "--n", "1", "--json", str(out)
    )
    assert code == 1, text
    assert "every run failed" in text
    data = json.loads(out.read_text())
    compiler = next(s for s in data["summaries"] if s["system"] == "LLMCompiler")
    assert compiler["answered"] == 0 and compiler["clean"] == 0
    run = next(r for r in data["records"] if r["system"] == "llmcompiler")
    assert run["error"].startswith("model unreachable")


async def test_json_to_an_unwritable_path_is_refused_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, text = await _bench("--quick", "--json", str(blocker / "out.json"))
    assert code == 2
    assert f"cannot write --json {blocker / 'out.json'}" in text.replace("\n", "")
    assert "Per system" not in text  # nothing ran


def test_a_time_scale_of_zero_or_below_is_refused() -> None:
    for scale in ("-1", "0", "nan"):
        with pytest.raises(SystemExit):
            _args("--time-scale", scale)
    assert settings_from(_args("--time-scale", "0.5")).time_scale == 0.5
