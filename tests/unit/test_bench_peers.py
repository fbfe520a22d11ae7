"""`--peers` pieces: plans in each peer's syntax, the scripted replies, result parsing, T*,
the paired summaries and the table (no process, no install)."""

from __future__ import annotations

import ast
import json
import re

import httpx
from rich.console import Console

from llmcompiler_bench.bound import critical_path_bound, line_ready_times
from llmcompiler_bench.peers import PEERS, PeerRun, PeerSkip, PeersResult
from llmcompiler_bench.peers.dialects import LLAMA_INDEX, ORIGINAL, PLANNER_PROMPT, PYPI
from llmcompiler_bench.peers.records import ModelCall, make_run, read_results
from llmcompiler_bench.peers.registry import PYPI_LLMCOMPILER
from llmcompiler_bench.peers.run import _serve, job_spec, peer_bound
from llmcompiler_bench.peers.summary import summarize_peer, summarize_peers
from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.replies import NOT_FOUND
from llmcompiler_bench.report import peer_notes, peer_verdicts, peers_table
from llmcompiler_bench.summary import summarize
from llmcompiler_bench.tools import call_key
from llmcompiler_bench.workloads import WORKLOADS
from llmcompiler_scripted import PROFILES
from llmcompiler_scripted.timing import count_tokens

PARALLELQA = WORKLOADS["parallelqa"].build(1)[0]
PROFILE = PROFILES["gpt-4o-mini-like"]

# The peers' own plan-line patterns (both copied from the original LLMCompiler's parser).
ACTION = re.compile(r"\n*(\d+)\. (\w+)\((.*)\)(\s*#\w+\n)?")


def test_pypi_plans_use_keyword_arguments_and_end_at_end_of_plan() -> None:
    plan = PYPI.plan(PARALLELQA.tasks)
    lines = plan.text.splitlines()
    assert lines[0] == '1. search(query="Mariana Trench")'
    assert (
        lines[2].startswith('3. math(problem="Mariana Trench after')
        and 'context=["$1"]' in lines[2]
    )
    assert lines[-1] == "6. join() <END_OF_PLAN>"
    for line in lines:  # every line parses with the peer's own pattern
        assert ACTION.match(line)


def test_llama_index_plans_are_positional_like_its_examples() -> None:
    plan = LLAMA_INDEX.plan(PARALLELQA.tasks)
    lines = plan.text.splitlines()
    assert lines[0] == '1. search("Mariana Trench")'
    _, name, args, _ = ACTION.match(lines[2]).groups()  # type: ignore[union-attr]
    assert name == "math" and ast.literal_eval(f"({args},)")[1] == ["$1"]
    assert lines[-1] == "6. join()<END_OF_PLAN>"


def test_plan_offsets_point_at_each_closing_paren() -> None:
    for dialect in (PYPI, LLAMA_INDEX):
        plan = dialect.plan(PARALLELQA.tasks)
        assert set(plan.closes) == {1, 2, 3, 4, 5, 6} and plan.join_idx == 6
        for idx, offset in plan.closes.items():
            assert plan.text[offset] == ")"
            line_start = plan.text.rfind("\n", 0, offset) + 1
            assert plan.text[line_start:].startswith(f"{idx}. ")


def test_replies_follow_each_peers_format_and_need_every_result() -> None:
    evidence = "\n".join(t.evidence for t in PARALLELQA.tasks)
    planner = [{"role": "system", "content": "Given a user query, create a plan to solve it with "
                "the utmost parallelizability. Each plan..."}]  # fmt: skip
    pypi = PYPI.respond(PARALLELQA)
    assert pypi(planner) == ("planner", PYPI.plan(PARALLELQA.tasks).text)
    joiner = [{"role": "system", "content": "Solve a question answering task. Here are some "
               "guidelines:"}, {"role": "user", "content": evidence}]  # fmt: skip
    kind, reply = pypi(joiner)
    body = json.loads(reply.removeprefix("```json\n").removesuffix("\n```"))
    assert kind == "joiner" and body["_finish_"] == PARALLELQA.answer and "_thought_" in body
    kind, reply = pypi(joiner[:1])  # no results in the prompt: a wrong answer
    assert NOT_FOUND in reply
    li = LLAMA_INDEX.respond(PARALLELQA)
    prompt = "Solve a question answering task with interleaving Observation, Thought...\n"
    kind, reply = li([{"role": "user", "content": prompt + evidence}])
    assert kind == "joiner" and reply.endswith(f"Action: finish({PARALLELQA.answer})")
    assert li([{"role": "user", "content": "something else"}]) == ("unknown", "")


def test_the_call_log_counts_what_was_streamed_cut_at_the_requests_stop_sequence() -> None:
    """The original stops its planner at `<END_OF_PLAN>`: the plan's stage and T* must not
    count the tokens the server never sent."""
    server, log = _serve(PARALLELQA, ORIGINAL, PROFILES["instant"])
    try:
        for stop in (["<END_OF_PLAN>"], None):
            body = {
                "model": "m",
                "messages": [{"role": "system", "content": PLANNER_PROMPT}],
                "stop": stop,
            }
            reply = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10)
            assert reply.status_code == 200
    finally:
        server.stop()
    plan = ORIGINAL.plan(PARALLELQA.tasks).text
    assert plan.endswith("join()<END_OF_PLAN>")
    assert [entry[-1] for entry in log] == [
        count_tokens(plan.removesuffix("<END_OF_PLAN>")),
        count_tokens(plan),
    ]


def test_job_spec_holds_every_call_with_its_scaled_latency() -> None:
    latencies = {t.idx: 0.1 * t.idx for t in PARALLELQA.tasks}
    spec = job_spec("x/0", PARALLELQA, latencies, 0.5, "http://127.0.0.1:1/v1")
    assert [t["name"] for t in spec["tools"]] == ["search", "math"]
    search = call_key("search", {"query": "Mariana Trench"})
    assert spec["calls"][search] == [[PARALLELQA.tasks[0].result, 0.05]]
    assert len(spec["calls"]) >= len(PARALLELQA.tasks)  # also the keys with quoted results
    json.dumps(spec)  # the protocol is JSON


def test_results_are_read_per_job_and_judged_by_the_papers_metric() -> None:
    text = 'junk printed by a peer\n{"id": "a/0", "latency_s": 1.5, "answer": "Mariana Trench",'
    text += ' "start": 100.0, "tools": [{"tool": "search", "start": 0.2, "end": 0.8}]}\n'
    results = read_results(text + "{not json\n")
    assert list(results) == ["a/0"]
    calls = [("planner", 100.1, 0.5, 0.9, 700, 20), ("joiner", 101.0, 0.3, 0.4, 1500, 10)]
    run = make_run(
        peer="p", workload="w", item="a", repeat=0, gold="mariana trench",
        result=results["a/0"], calls=calls,
    )  # fmt: skip
    assert run.correct and run.latency_s == 1.5 and run.llm_calls == 2
    assert abs(run.models[0].start - 0.1) < 1e-9 and abs(run.models[0].end - 1.0) < 1e-9
    assert run.models[0].first_token is not None and abs(run.models[0].first_token - 0.6) < 1e-9
    assert (run.input_tokens, run.output_tokens) == (2200, 30)
    missing = make_run(peer="p", workload="w", item="b", repeat=0, gold="x", result=None,
                       missing="timed out")  # fmt: skip
    assert missing.latency_s is None and missing.error == "timed out" and not missing.correct


def test_peer_bound_is_our_formula_on_the_peers_own_prompts() -> None:
    latencies = {t.idx: 0.5 for t in PARALLELQA.tasks}
    plan = PYPI.plan(PARALLELQA.tasks)
    run = PeerRun("p", "parallelqa", PARALLELQA.id, 0, 4.0, "", True)
    run.models = [ModelCall("planner", 0, 1, 800, 90), ModelCall("joiner", 2, 3, 2000, 25)]
    expected = critical_path_bound(
        line_ready_times(plan, 800, PROFILE),
        {t.idx: 0.5 for t in PARALLELQA.tasks} | {plan.join_idx: 0.0},
        {t.idx: t.deps for t in PARALLELQA.tasks},
        PROFILE.duration_s(2000, 25),
    )
    assert peer_bound(run, PARALLELQA, plan, latencies, PROFILE, 1.0) == expected
    run.models.append(ModelCall("planner", 3, 4, 900, 10))  # a replan: no single bound
    assert peer_bound(run, PARALLELQA, plan, latencies, PROFILE, 1.0) is None


def _record(system: str, item: str, latency: float) -> RunRecord:
    return RunRecord(
        workload="hotpotqa", item=item, repeat=0, system=system, latency_s=latency, answer="yes",
        correct=True, n_tasks=2, llm_calls=2, input_tokens=100, output_tokens=10, cost_usd=0.0,
    )  # fmt: skip


RECORDS = [
    *(_record("llmcompiler", i, 2.0) for i in ("a", "b")),
    *(_record("react", i, 4.0) for i in ("a", "b")),
    *(_record("react-parallel", i, 3.0) for i in ("a", "b")),
]


def _peer_run(peer: str, item: str, latency: float | None, error: str | None = None) -> PeerRun:
    run = PeerRun(peer, "hotpotqa", item, 0, latency, "yes", error is None, error)
    run.models = [ModelCall("planner", 0, 1, 700, 20), ModelCall("joiner", 2, 3, 1500, 20)]
    return run


def test_peer_summary_pairs_each_run_with_the_same_items_baselines() -> None:
    runs = [_peer_run("pypi-llmcompiler", "a", 2.5), _peer_run("pypi-llmcompiler", "b", 4.0)]
    summary = summarize_peer(PYPI_LLMCOMPILER, "hotpotqa", runs, RECORDS)
    assert summary.speedup_react is not None and summary.speedup_react.median == (1.6 + 1.0) / 2
    assert summary.speedup_parallel is not None and summary.speedup_parallel.median == 0.975
    assert summary.vs_ours is not None and summary.vs_ours.median == (1.25 + 2.0) / 2
    assert summary.ours_saves is not None and summary.ours_saves.median == (0.2 + 0.5) / 2
    assert summary.correct == (2, 2) and summary.errors == ()


def test_table_shows_ours_the_peers_a_skipped_workload_and_the_verdicts() -> None:
    runs = [_peer_run("pypi-llmcompiler", i, 2.5) for i in ("a", "b")]
    runs += [
        _peer_run("llamaindex-pack", "a", 2.1),
        _peer_run("llamaindex-pack", "b", None, "boom"),
    ]
    result = PeersResult(
        PEERS,
        runs,
        [PeerSkip("llamaindex-pack", "hotpotqa-x", "why not"), PeerSkip("other", None, "gone")],
    )
    summaries = [summarize("hotpotqa", RECORDS)]
    peer_summaries = summarize_peers(result, RECORDS)
    console = Console(record=True, width=250)
    console.print(peers_table(summaries, peer_summaries, result))
    text = console.export_text()
    assert "LLMCompiler (ours, in process)" in text and "PyPI llmcompiler 2.0.1" in text
    assert "llama-index pack 0.3.1" in text and "1/2" in text and "20%" in text
    (verdict,) = peer_verdicts(summaries, peer_summaries)
    # the fastest peer is the llama-index pack (2.1 s): ours saves 1 − 2.0/2.1 ≈ 5 %
    assert (
        "fastest peer llama-index pack 0.3.1 2.10 s" in verdict and "NO (5% less time)" in verdict
    )
    notes = peer_notes(result, peer_summaries)
    assert "llama-index pack 0.3.1 not run on hotpotqa-x: why not" in notes
    assert "other not run: gone" in notes
    assert any(n.startswith("SqueezeAILab/LLMCompiler not run") for n in notes)
    assert "llama-index pack 0.3.1 on hotpotqa, item b: boom" in notes


HTTP_RECORDS = [*RECORDS, *(_record("llmcompiler-http", i, 2.2) for i in ("a", "b"))]


def test_with_ours_over_http_the_peers_are_compared_with_it_and_each_row_names_its_path() -> None:
    runs = [_peer_run("pypi-llmcompiler", i, 2.75) for i in ("a", "b")]
    result = PeersResult(PEERS, runs, [])
    peer_summaries = summarize_peers(result, HTTP_RECORDS)
    rows = [(p.label, p.path, p.ours) for p in peer_summaries]
    assert rows == [
        ("LLMCompiler (ours, HTTP)", "HTTP", True),
        ("LLMCompiler (ours, in process)", "in process", True),
        ("PyPI llmcompiler 2.0.1", "HTTP", False),
    ]
    http, in_process, pypi = peer_summaries
    assert http.latency is not None and http.latency.median == 2.2
    assert http.speedup_react is not None and http.speedup_react.median == 4.0 / 2.2
    assert in_process.latency is not None and in_process.latency.median == 2.0
    # Paired with ours over HTTP (2.2 s), not in process (2.0 s): 1 − 2.2 / 2.75 = 20 %.
    assert pypi.ours_saves is not None and pypi.ours_saves.median == 1 - 2.2 / 2.75
    summaries = [summarize("hotpotqa", HTTP_RECORDS)]
    console = Console(record=True, width=250)
    console.print(peers_table(summaries, peer_summaries, result))
    text = console.export_text()
    assert "models via" in text
    ours_row = next(line for line in text.splitlines() if "ours, HTTP" in line)
    assert "2.20" in ours_row
    (verdict,) = peer_verdicts(summaries, peer_summaries)
    assert verdict.startswith("hotpotqa: ours (HTTP) 2.20 s") and "yes (20% less time)" in verdict
