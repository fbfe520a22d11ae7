"""Personas of the simulated benchmark: the scripted models behave like real ones (commentary
after the plan, Markdown plans, long thoughts, JSON replies, no usage), and the engine still
answers every workload correctly under each."""

from __future__ import annotations

import pytest

from llmcompiler_bench.personas import COMMENTARY, PERSONAS
from llmcompiler_bench.runner import INSTANT, Settings, latencies_of, run_item
from llmcompiler_bench.systems import LLMCOMPILER
from llmcompiler_bench.workloads import WORKLOADS


@pytest.mark.parametrize("persona", list(PERSONAS))
@pytest.mark.parametrize("workload", ["hotpotqa", "parallelqa"])
async def test_llmcompiler_answers_correctly_under_every_persona(
    persona: str, workload: str
) -> None:
    settings = Settings((workload,), 1, 1, 0.0, INSTANT, 0, persona=persona)
    item = WORKLOADS[workload].build(1)[0]
    record = await run_item(
        WORKLOADS[workload], item, LLMCOMPILER, 0, settings, latencies_of(item, 0, settings)
    )
    assert record.error is None and record.correct, record.answer
    assert record.input_tokens > 0  # reported, or estimated when the persona sends none


async def test_the_chatty_planner_is_cut_at_join_and_the_chatty_joiner_at_its_answer() -> None:
    settings = Settings(("hotpotqa",), 1, 1, 0.0, INSTANT, 0, persona="chatty")
    item = WORKLOADS["hotpotqa"].build(1)[0]
    record = await run_item(
        WORKLOADS["hotpotqa"], item, LLMCOMPILER, 0, settings, latencies_of(item, 0, settings)
    )
    planner = next(m for m in record.models if m.kind == "planner")
    plan_tokens = len(item.plan.text) / 4
    assert planner.output_tokens < plan_tokens + len(COMMENTARY) / 8  # commentary not read
    joiner = next(m for m in record.models if m.kind == "joiner")
    assert record.correct, record.answer
    assert joiner.output_tokens < len(COMMENTARY) / 8  # read up to its answer, not past it
