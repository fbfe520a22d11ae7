"""Real-model mode: the same systems on a real model, with real latency and tokens.

`corpus` (the default) asks questions over the bundled corpus with tools that work offline
(corpus `search`, the LLM-backed `math` on the same model, `calculate`), so a model served on
this machine (`make local-model`) can be measured with no network; `hotpotqa` is the paper's
configuration (live Wikipedia search). Besides latency, tokens and accuracy (the paper's
metric), the table says what a real model does to each system: runs that ended with an answer,
runs that used a tool at all (a ReAct model may answer from its own guess), and answers free of
protocol text. The paper's text ReAct (Thought / Action / Observation) runs beside the native
tool-calling baselines, for servers without tool calling.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from rich.table import Table

from agent.context import Context
from agent.models import load_chat_model
from agent.references import is_exact_reference
from agent.reply import protocol_lines
from llmcompiler_bench.corpus_questions import Question, corpus_questions
from llmcompiler_bench.records import RunRecord, make_record
from llmcompiler_bench.runner import Settings
from llmcompiler_bench.summary import Stat, stat
from llmcompiler_bench.systems import LIVE_SYSTEMS, Setup, System, run_system
from llmcompiler_bench.workloads import hotpotqa

WORKLOADS = ("corpus", "hotpotqa")
DEFAULT_WORKLOAD = "corpus"
MAX_OUTPUT_TOKENS = 512
"""Per model call in live mode: a small model that never writes `join()` or `Final Answer:`
would otherwise decode to its context limit (minutes on a CPU) and time nothing useful."""
LIVE_TOOL_NAMES = ("search", "wikipedia_search", "math", "calculate")
"""The tools of both live workloads: an answer line calling one is a copied plan line."""


def live_tools(workload: str, model: BaseChatModel) -> tuple[list[BaseTool], str]:
    """The workload's tools (the `math` tool on the same model) and their worked examples."""
    from tools import (
        DEFAULT_TOOLS_EXAMPLES,
        OFFLINE_TOOLS_EXAMPLES,
        build_corpus_search,
        build_math_tool,
        calculate,
        wikipedia_search,
    )

    if workload == "hotpotqa":
        return [wikipedia_search, build_math_tool(model)], DEFAULT_TOOLS_EXAMPLES
    return [build_corpus_search(), build_math_tool(model), calculate], OFFLINE_TOOLS_EXAMPLES


def live_questions(workload: str, n: int) -> list[Question]:
    if workload == "hotpotqa":
        return [Question(i.id, i.question, i.answer) for i in hotpotqa(n)]
    return corpus_questions(n)


def is_clean(answer: str) -> bool:
    """An answer a user may see: no protocol line (docs/protocol.md, "Joiner protocol"), not
    an unresolved reference (`$3` alone)."""
    text = answer.strip()
    return bool(text) and not is_exact_reference(text) and not protocol_lines(text, LIVE_TOOL_NAMES)


async def run_live(
    settings: Settings,
    spec: str,
    base_url: str | None,
    on_record: Callable[[RunRecord], None] = lambda _record: None,
    *,
    workload: str = DEFAULT_WORKLOAD,
    systems: Sequence[System] = LIVE_SYSTEMS,
) -> list[RunRecord]:
    """Every system on the first `n` questions, `repeats` times, one run at a time."""
    model = load_chat_model(spec, base_url=base_url, temperature=0.0, max_tokens=MAX_OUTPUT_TOKENS)
    tools, examples = live_tools(workload, model)
    records = []
    for item in live_questions(workload, settings.n):
        for repeat in range(settings.repeats):
            for system in systems:
                setup = Setup(
                    tools=tools,
                    planner=model,
                    joiner=model,
                    react_model=model,
                    examples=examples,
                    question=item.question,
                    context=Context(planner_model=spec, base_url=base_url),
                )
                outcome = await run_system(system, setup)
                record = make_record(
                    workload=workload,
                    item=item.id,
                    repeat=repeat,
                    system=system,
                    outcome=outcome,
                    gold=item.answer,
                    n_tasks=len(outcome.recorder.tools),
                    profile=settings.profile,
                )
                on_record(record)
                records.append(record)
    return records


@dataclass(frozen=True)
class LiveSummary:
    """One system's figures over a live run."""

    system: str
    runs: int
    answered: int
    used_tools: int
    clean: int
    correct: int
    latency: Stat | None
    llm_calls: float
    tool_calls: float
    input_tokens: float
    output_tokens: float


def summarize_live(records: Sequence[RunRecord], systems: Sequence[System]) -> list[LiveSummary]:
    out = []
    for system in systems:
        runs = [r for r in records if r.system == system.name]
        if not runs:
            continue
        count = len(runs)
        out.append(
            LiveSummary(
                system=system.label,
                runs=count,
                answered=sum(r.error is None and bool(r.answer.strip()) for r in runs),
                used_tools=sum(bool(r.tools) for r in runs),
                clean=sum(r.error is None and is_clean(r.answer) for r in runs),
                correct=sum(r.correct for r in runs),
                latency=stat([r.latency_s for r in runs]),
                llm_calls=sum(r.llm_calls for r in runs) / count,
                tool_calls=sum(len(r.tools) for r in runs) / count,
                input_tokens=sum(r.input_tokens for r in runs) / count,
                output_tokens=sum(r.output_tokens for r in runs) / count,
            )
        )
    return out


def live_table(summaries: Sequence[LiveSummary]) -> Table:
    """What a real model does to each system, with the paper's accuracy and real latency."""
    table = Table(title="live model: per system (means per run; latency median [min–max])")
    for name in (
        "system",
        "runs",
        "answered",
        "used a tool",
        "clean answers",
        "accuracy",
        "latency s",
        "LLM calls",
        "tool calls",
        "tokens in/out",
    ):
        table.add_column(name, justify="left" if name == "system" else "right")
    for s in summaries:
        latency = (
            f"{s.latency.median:.2f} [{s.latency.low:.2f}–{s.latency.high:.2f}]"
            if s.latency
            else "–"
        )
        table.add_row(
            s.system,
            str(s.runs),
            f"{s.answered}/{s.runs}",
            f"{s.used_tools}/{s.runs}",
            f"{s.clean}/{s.runs}",
            f"{s.correct / s.runs:.0%}",
            latency,
            f"{s.llm_calls:.1f}",
            f"{s.tool_calls:.1f}",
            f"{s.input_tokens:,.0f}/{s.output_tokens:,.0f}",
        )
    return table


def live_payload(
    spec: str, workload: str, settings: Settings, records: Sequence[RunRecord]
) -> dict[str, Any]:
    summaries = summarize_live(records, LIVE_SYSTEMS)
    return {
        "mode": "live",
        "model": spec,
        "workload": workload,
        "n": settings.n,
        "repeats": settings.repeats,
        "summaries": [dataclasses.asdict(s) for s in summaries],
        "records": [
            {
                "item": r.item,
                "system": r.system,
                "answer": r.answer,
                "correct": r.correct,
                "clean": r.error is None and is_clean(r.answer),
                "latency_s": r.latency_s,
                "llm_calls": r.llm_calls,
                "tool_calls": len(r.tools),
                "error": r.error,
            }
            for r in records
        ],
    }
