"""The live benchmark's time-to-first-token table: cold (a kind's first call) and warm."""

from __future__ import annotations

from llmcompiler_bench.live import first_tokens
from llmcompiler_bench.recorder import ModelSpan
from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.systems import LLMCOMPILER, REACT


def _run(system: str, item: str, models: list[ModelSpan]) -> RunRecord:
    record = RunRecord(
        workload="corpus",
        item=item,
        repeat=0,
        system=system,
        latency_s=1.0,
        answer="x",
        correct=True,
        n_tasks=1,
        llm_calls=len(models),
        input_tokens=10,
        output_tokens=5,
        cost_usd=0.0,
    )
    record.models = models
    return record


def span(kind: str, start: float, first: float | None, tokens: int = 10) -> ModelSpan:
    return ModelSpan(kind, start, start + 1, first, output_tokens=tokens)


def test_first_tokens_are_cold_for_each_kinds_first_call_and_warm_after() -> None:
    records = [
        _run(LLMCOMPILER.name, "a", [span("planner", 0, 5.0), span("joiner", 6, 9.0, 40)]),
        _run(REACT.name, "a", [span("model", 0, 2.0)]),
        _run(LLMCOMPILER.name, "b", [span("planner", 10, 10.5), span("joiner", 12, 12.25)]),
        _run(LLMCOMPILER.name, "c", [span("planner", 20, 20.75, 700), span("joiner", 22, None)]),
    ]
    rows = {(r.system, r.kind): r for r in first_tokens(records, [LLMCOMPILER, REACT])}
    planner = rows[(LLMCOMPILER.label, "planner")]
    assert (planner.calls, planner.cold_s, planner.longest_reply) == (3, 5.0, 700)
    assert planner.warm is not None and (planner.warm.low, planner.warm.high) == (0.5, 0.75)
    joiner = rows[(LLMCOMPILER.label, "joiner")]
    assert joiner.cold_s == 3.0 and joiner.warm is not None and joiner.warm.median == 0.25
    react = rows[(REACT.label, "model")]
    assert react.cold_s == 2.0 and react.warm is None  # one call: nothing warm to show
