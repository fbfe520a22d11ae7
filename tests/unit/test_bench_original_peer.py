"""`--peers --original PATH`: the original research code as a peer, checked without a checkout
of it, a network or an install (its plans and replies, its venv's install arguments, the
checkout check, the adapter's tool descriptions, and the report without a checkout)."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from rich.console import Console

from llmcompiler_bench.cli import add_bench_arguments, run_bench
from llmcompiler_bench.export import peers_payload
from llmcompiler_bench.peers import PEERS, PeersResult, original
from llmcompiler_bench.peers.dialects import ORIGINAL
from llmcompiler_bench.peers.registry import ORIGINAL_FILES, SCRIPTS, not_a_checkout
from llmcompiler_bench.peers.venv import environment
from llmcompiler_bench.report import peer_notes
from llmcompiler_bench.tools import MATH, SEARCH, call_key
from llmcompiler_bench.workloads import WORKLOADS

PARALLELQA = WORKLOADS["parallelqa"].build(1)[0]
# The original's plan-line pattern (src/llm_compiler/output_parser.py, ACTION_PATTERN).
ACTION = re.compile(r"\n*(\d+)\. (\w+)\((.*)\)(\s*#\w+\n)?")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A folder shaped like a checkout of the original (its files empty but the pins)."""
    for name in ORIGINAL_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "requirements.txt").write_text("langchain==0.2.6\nopenai==1.3.7\n")
    return tmp_path


def _adapter(monkeypatch: pytest.MonkeyPatch, name: str) -> ModuleType:
    monkeypatch.syspath_prepend(str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_original_plans_positionally_and_answers_with_its_finish_action() -> None:
    lines = ORIGINAL.plan(PARALLELQA.tasks).text.splitlines()
    assert lines[0] == '1. search("Mariana Trench")'
    for line in lines:  # every line parses with the original's own pattern and literal_eval
        _, name, args, _ = ACTION.match(line).groups()  # type: ignore[union-attr]
        assert ast.literal_eval(f"({args},)") if args else name == "join"
    assert lines[-1] == "6. join()<END_OF_PLAN>"
    respond = ORIGINAL.respond(PARALLELQA)
    evidence = "\n".join(t.evidence for t in PARALLELQA.tasks)
    joiner = "Solve a question answering task with interleaving Observation, Thought, and Action"
    kind, reply = respond([{"role": "user", "content": f"{joiner}\n{evidence}"}])
    assert kind == "joiner" and reply.endswith(f"\nAction: Finish({PARALLELQA.answer})")


def test_the_originals_venv_is_built_from_the_checkouts_own_pins(checkout: Path) -> None:
    peer = original(checkout)
    assert peer.install == ("-r", str(checkout.resolve() / "requirements.txt"), "httpx<0.28")
    assert peer.source == checkout.resolve() and "nestful" in peer.unsupported
    before = peer.stamp()
    assert "openai==1.3.7" in before
    (checkout / "requirements.txt").write_text("langchain==0.2.7\n")
    assert peer.stamp() != before  # other pins: the venv is rebuilt
    assert PEERS[0].install == (PEERS[0].requirement,)  # a PyPI peer: its pinned name


def test_only_the_original_is_imported_from_a_checkout(checkout: Path) -> None:
    assert environment(original(checkout))["PYTHONPATH"] == str(checkout.resolve())
    assert "PYTHONPATH" not in environment(PEERS[0])


def test_a_folder_without_the_originals_files_is_not_a_checkout(
    tmp_path: Path, checkout: Path
) -> None:
    assert not_a_checkout(checkout) is None
    why = not_a_checkout(tmp_path / "elsewhere")
    assert why is not None and "not a checkout of SqueezeAILab/LLMCompiler" in why
    assert "requirements.txt" in why


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--original", "{checkout}"], "give --peers too"),
        (["--peers", "--original", "{checkout}/nowhere"], "is not a checkout"),
    ],
)
async def test_bad_original_options_are_refused_before_anything_runs(
    checkout: Path, options: list[str], message: str
) -> None:
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser)
    args = parser.parse_args([o.format(checkout=checkout) for o in options])
    console = Console(record=True, width=300)
    assert await run_bench(args, console) == 2
    assert message in console.export_text()


def test_without_a_checkout_the_report_and_json_say_the_original_was_not_run(
    checkout: Path,
) -> None:
    without = PeersResult(PEERS)
    (note,) = [n for n in peer_notes(without, []) if "SqueezeAILab" in n]
    assert note.startswith("SqueezeAILab/LLMCompiler not run: no checkout given (`--original")
    assert set(peers_payload(without, [])["not_run"]) == {"SqueezeAILab/LLMCompiler"}
    with_it = PeersResult((*PEERS, original(checkout)))
    assert not any("SqueezeAILab" in n for n in peer_notes(with_it, []))
    payload = peers_payload(with_it, [])
    assert payload["not_run"] == {} and payload["peers"]["original"]["source"] == str(
        checkout.resolve()
    )


def test_the_adapter_describes_each_tool_in_the_originals_own_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    adapter = _adapter(monkeypatch, "original_llmcompiler")
    search = {"name": SEARCH.name, "description": SEARCH.description}
    assert adapter.describe({**search, "parameters": SEARCH.parameters}) == (
        f"search(query: str) -> str:\n - {SEARCH.description}\n"
    )
    math = adapter.describe({"name": "math", "description": "d", "parameters": MATH.parameters})
    assert math == "math(problem: str, context: Optional[list[str]]) -> str:\n - d\n"


def test_a_result_passed_on_as_its_text_is_the_same_call(monkeypatch: pytest.MonkeyPatch) -> None:
    protocol = _adapter(monkeypatch, "peer_protocol")
    key = call_key("math", {"problem": "compare", "context": [2939.9, 804.84]})
    calls = protocol.Calls({key: [["Mariana Trench", 0.0]]})
    assert calls.call("math", {"problem": "compare", "context": ["2939.9", "804.84"]}) == (
        "Mariana Trench"
    )
    with pytest.raises(LookupError):
        calls.call("math", {"problem": "compare", "context": ["2939.9", "805"]})
