"""The `llmcompiler` command: clear configuration errors, `ask` end to end, and the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmcompiler_scripted import ScriptedOpenAIServer

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LLMCOMPILER_"))}
    return subprocess.run(
        [sys.executable, "-m", "llmcompiler_cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **(env or {})},
    )


def test_ask_without_a_model_exits_with_one_clear_line() -> None:
    done = _cli("ask", "anything")
    assert done.returncode == 2
    assert done.stderr.startswith("error: no model configured")
    assert "OPENAI_API_KEY" in done.stderr and "--base-url" in done.stderr


def test_ask_with_an_unreachable_server_says_so() -> None:
    done = _cli("ask", "q", "--base-url", "http://127.0.0.1:9/v1", "--max-replans", "0")
    assert done.returncode == 1
    assert "could not reach the model server at http://127.0.0.1:9/v1" in done.stdout


def respond(messages: list[dict[str, Any]]) -> str:
    system = str(messages[0]["content"])
    if system.startswith("Plan how to answer"):
        return '1. math("What is 6 times 7?")\n2. join()\n<END_OF_PLAN>'
    if "Finish(" in system:
        return "Thought: math says 42\nAction: Finish(42)"
    return "Expression: 6 * 7"  # the math tool's own model call


def test_ask_json_through_an_openai_compatible_server(
    openai_server: Callable[..., ScriptedOpenAIServer], tmp_path: Path
) -> None:
    server = openai_server(respond=respond)
    done = _cli(
        "ask",
        "What is 6 times 7?",
        "--json",
        "--model",
        "openai:local-model",
        "--thread",
        "cli-thread",
        env={"OPENAI_BASE_URL": server.base_url, "LLMCOMPILER_DATA_DIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answer"] == "42"
    assert result["tasks"][0]["result"] == 42
    assert [e["event"] for e in result["events"]][:2] == ["task_planned", "task_started"]
    assert (tmp_path / "checkpoints.sqlite").exists()  # --thread persists with SQLite
    assert len(server.requests) == 3  # planner, math, joiner
    assert result["usage"]["calls"] == 3 and result["usage"]["output_tokens"] > 0


def test_ask_joiner_thought_asks_the_joiner_for_a_thought_first(
    openai_server: Callable[..., ScriptedOpenAIServer],
) -> None:
    server = openai_server(respond=respond)
    args = ["ask", "What is 6 times 7?", "--json", "--model", "openai:local-model"]
    env = {"OPENAI_BASE_URL": server.base_url}
    for extra in ([], ["--joiner-thought"]):
        done = _cli(*args, *extra, env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["answer"] == "42"
    joiner_prompts = [
        str(r["messages"][0]["content"])
        for r in server.requests
        if "Finish(" in str(r["messages"][0]["content"])
    ]
    assert len(joiner_prompts) == 2
    assert "Thought:" not in joiner_prompts[0]
    assert "Thought: <one short sentence" in joiner_prompts[1]


def test_demo_runs_offline_and_labels_the_simulation() -> None:
    done = _cli("demo")
    assert done.returncode == 0, done.stderr
    assert "SIMULATED MODELS" in done.stdout
    assert "238 m taller than K2" in done.stdout
    assert "before the plan ended" in done.stdout
    assert "LLM calls: 5" in done.stdout  # planner, three math calls, joiner


def test_ask_approve_shows_the_plan_and_runs_it_after_approval(
    openai_server: Callable[..., ScriptedOpenAIServer],
) -> None:
    server = openai_server(respond=respond)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmcompiler_cli.main",
            "ask",
            "6 times 7?",
            "--approve",
            "--model",
            "openai:local-model",
        ],
        cwd=ROOT,
        input="a\n",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "x"},
    )
    assert done.returncode == 0, done.stderr
    assert "plan 1 awaits approval" in done.stdout
    assert "1. math(problem='What is 6 times 7?')" in done.stdout
    assert "42" in done.stdout.split("answer")[-1]


def test_ask_refuses_a_blank_question_with_exit_2_and_no_model_call(
    openai_server: Callable[..., ScriptedOpenAIServer],
) -> None:
    server = openai_server(respond=respond)
    done = _cli("ask", "   ", "--model", "openai:local-model", "--base-url", server.base_url)
    assert server.requests == []
    assert done.returncode == 2
    assert done.stderr.startswith("error: the question is empty")


def test_ask_refuses_an_option_out_of_range_naming_the_field() -> None:
    done = _cli("ask", "q", "--base-url", "http://127.0.0.1:9/v1", "--max-replans", "-1")
    assert done.returncode == 2
    assert "Context.max_replans=-1 is not allowed: it must be an integer >= 0" in done.stderr


def test_ask_names_a_context_length_refusal_and_does_not_ask_for_a_key(
    openai_server: Callable[..., ScriptedOpenAIServer],
) -> None:
    refusal = "Requested tokens (9000) exceed context window of 4096"
    server = openai_server([{"status": 400, "message": refusal}])
    done = _cli("ask", "q" * 100, "--model", "openai:local", "--base-url", server.base_url)
    assert done.returncode == 1
    assert "error: context window exceeded" in done.stdout
    assert "OPENAI_API_KEY" not in done.stdout + done.stderr
