"""The per-stage table: each run's model calls split into stages, medians per workload and
system, the rendered table and the JSON, all checked against hand-built run records."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from llmcompiler_bench.export import payload
from llmcompiler_bench.peers import PEERS, PeerRun, PeersResult
from llmcompiler_bench.peers.records import ModelCall, make_run
from llmcompiler_bench.recorder import ModelSpan
from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.report import stages_table
from llmcompiler_bench.runner import Settings
from llmcompiler_bench.stages import record_stages, stage_summaries
from llmcompiler_scripted import PROFILES


def _span(
    kind: str, start: float, first: float | None, end: float | None, tokens: tuple[int, int]
) -> ModelSpan:
    return ModelSpan(kind, start, end, first, input_tokens=tokens[0], output_tokens=tokens[1])


def _record(
    item: str, latency: float, models: list[ModelSpan], system: str = "llmcompiler"
) -> RunRecord:
    return RunRecord(
        workload="hotpotqa", item=item, repeat=0, system=system, latency_s=latency,
        answer="yes", correct=True, n_tasks=2, llm_calls=len(models),
        input_tokens=sum(m.input_tokens for m in models),
        output_tokens=sum(m.output_tokens for m in models), cost_usd=0.0, models=models,
    )  # fmt: skip


# Item a: the joiner waits 0.5 s for tools after the plan; item b: it starts as the plan ends.
TWO_ITEMS = [
    _record(
        "a",
        2.1,
        [_span("planner", 0.1, 0.6, 1.0, (400, 20)), _span("joiner", 1.5, 1.6, 2.0, (500, 16))],
    ),
    _record(
        "b",
        2.0,
        [_span("planner", 0.1, 0.7, 1.3, (420, 30)), _span("joiner", 1.3, 1.4, 1.9, (520, 18))],
    ),
]


def test_medians_over_two_items_are_each_stage_from_the_recorded_spans() -> None:
    (summary,) = stage_summaries(["hotpotqa"], TWO_ITEMS)
    assert (summary.label, summary.runs) == ("LLMCompiler (ours, in process)", 2)
    medians = {
        name: getattr(summary, name).median
        for name in (
            "llm_calls",
            "planner_input_tokens",
            "planner_output_tokens",
            "joiner_input_tokens",
            "joiner_output_tokens",
            "planner_first_token_s",
            "plan_decode_s",
            "after_plan_s",
            "joiner_s",
            "latency_s",
        )
    }
    assert medians == pytest.approx(
        {
            "llm_calls": 2,
            "planner_input_tokens": 410,
            "planner_output_tokens": 25,
            "joiner_input_tokens": 510,
            "joiner_output_tokens": 17,
            "planner_first_token_s": (0.5 + 0.6) / 2,
            "plan_decode_s": (0.4 + 0.6) / 2,
            "after_plan_s": (0.5 + 0.0) / 2,
            "joiner_s": (0.5 + 0.6) / 2,
            "latency_s": 2.05,
        }
    )


def test_the_table_shows_tokens_in_to_out_a_dash_without_a_joiner_and_http_first() -> None:
    direct = _record("c", 1.6, [_span("planner", 0.1, 0.5, 0.9, (450, 40))], "llmcompiler-http")
    stages = record_stages(direct)
    assert stages is not None and stages.joiner_s is None and stages.joiner_input_tokens is None
    assert stages.after_plan_s == pytest.approx(1.6 - 0.9)  # the last call's result is the answer
    console = Console(record=True, width=250)
    console.print(stages_table(stage_summaries(["hotpotqa"], [*TWO_ITEMS, direct])))
    lines = console.export_text().splitlines()
    ours = next(line for line in lines if "ours, in process" in line)
    assert "410 → 25" in ours and "510 → 17" in ours and "0.55" in ours and "2.05" in ours
    http = next(line for line in lines if "ours, HTTP" in line)
    assert lines.index(http) < lines.index(ours)  # the headline first, as in the peers table
    cells = [c.strip() for c in http.split("│")]
    assert cells[3:10] == ["1", "450 → 40", "—", "0.40", "0.40", "0.70", "—"]


def test_a_replan_sums_its_rounds_and_a_tools_own_model_call_is_counted_not_staged() -> None:
    replanned = _record(
        "r",
        5.0,
        [
            _span("planner", 0.0, 0.5, 1.0, (400, 20)),
            _span("model", 1.1, 1.2, 1.4, (50, 5)),  # a tool's own call, while tools run
            _span("joiner", 2.0, 2.1, 2.5, (500, 16)),
            _span("planner", 2.5, 3.0, 3.2, (600, 10)),
            _span("joiner", 3.6, 3.7, 4.9, (700, 20)),
        ],
    )
    stages = record_stages(replanned)
    assert stages is not None
    assert (stages.llm_calls, stages.planner_input_tokens, stages.joiner_output_tokens) == (
        5,
        1000,
        36,
    )
    assert stages.planner_first_token_s == pytest.approx(0.5 + 0.5)
    assert stages.plan_decode_s == pytest.approx(0.5 + 0.2)
    assert stages.after_plan_s == pytest.approx((2.0 - 1.0) + (3.6 - 3.2))
    assert stages.joiner_s == pytest.approx(0.5 + 1.3)


def test_a_failed_run_or_an_unfinished_call_is_left_out_of_the_medians() -> None:
    failed = _record("x", 9.0, [_span("planner", 0.0, 0.5, 1.0, (999, 99))])
    failed.error = "boom"
    unfinished = _record("y", 9.0, [_span("planner", 0.0, 0.5, None, (999, 99))])
    assert record_stages(failed) is None and record_stages(unfinished) is None
    (summary,) = stage_summaries(["hotpotqa"], [*TWO_ITEMS, failed, unfinished])
    assert summary.runs == 2
    assert summary.planner_input_tokens is not None and summary.planner_input_tokens.median == 410


def _peer_run(item: str, latency: float | None, calls: list[ModelCall]) -> PeerRun:
    run = PeerRun("pypi-llmcompiler", "hotpotqa", item, 0, latency, "yes", latency is not None)
    run.models = calls
    return run


def test_peers_are_split_from_the_server_log_after_ours_and_a_run_without_result_is_out() -> None:
    result = {"start": 50.0, "latency_s": 3.0, "answer": "yes"}
    calls = [("planner", 50.2, 0.5, 1.0, 800, 25), ("joiner", 52.0, 0.4, 0.8, 1200, 30)]
    logged = make_run(
        peer="pypi-llmcompiler", workload="hotpotqa", item="a", repeat=0, gold="yes",
        result=result, calls=calls,
    )  # fmt: skip
    unknown = ModelCall("unknown", 0.0, 0.0, 10, 0, 0.0)  # a 500: counted, not a stage
    logged.models.append(unknown)
    crashed = _peer_run("b", None, [ModelCall("planner", 0.0, 1.0, 900, 20, 0.5)])
    peers = PeersResult(PEERS, [logged, crashed])
    ours, theirs = stage_summaries(["hotpotqa"], TWO_ITEMS, peers)
    assert ours.system == "llmcompiler" and theirs.label == "PyPI llmcompiler 2.0.1"
    assert theirs.runs == 1 and theirs.llm_calls is not None and theirs.llm_calls.median == 3
    figures = (
        theirs.planner_first_token_s,
        theirs.plan_decode_s,
        theirs.after_plan_s,
        theirs.joiner_s,
        theirs.joiner_input_tokens,
    )
    assert [f.median if f else None for f in figures] == pytest.approx(
        [0.5, 0.5, 2.0 - 1.2, 0.8, 1200]
    )


def test_json_carries_the_stage_medians_of_the_same_records() -> None:
    settings = Settings(("hotpotqa",), 2, 1, 1.0, PROFILES["gpt-4o-mini-like"], 0)
    stages = stage_summaries(["hotpotqa"], TWO_ITEMS)
    data = json.loads(json.dumps(payload(settings, [], TWO_ITEMS, stages=stages), default=str))
    (row,) = data["stages"]
    assert (row["workload"], row["system"], row["runs"]) == ("hotpotqa", "llmcompiler", 2)
    assert row["planner_input_tokens"] == {"median": 410, "low": 400, "high": 420, "n": 2}
    assert row["joiner_output_tokens"]["median"] == 17
    assert row["after_plan_s"]["median"] == pytest.approx(0.25)
