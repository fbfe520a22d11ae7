"""Real-model mode: the same systems on a real model, with real latency and tokens.

`corpus` (the default) asks questions over the bundled corpus with tools that work offline
(corpus `search`, the LLM-backed `math` on the same model, `calculate`), so a model served on
this machine (`make local-model`) can be measured with no network; `hotpotqa` is the paper's
configuration (live Wikipedia search). Besides latency, tokens and accuracy (the paper's
metric, and HotpotQA's normalised exact match, token F1 and which-is-more choice beside it), the
table says what a real model does to each system: runs that ended with an answer, runs that
used a tool at all (a ReAct model may answer from its own guess), and answers free of protocol
and prompt text (`cleanliness`). The paper's text ReAct (Thought / Action / Observation) runs
beside the native tool-calling baselines, for servers without tool calling.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from rich.table import Table

from agent._context import Context
from agent.models import load_chat_model
from llmcompiler_bench.accuracy import Scores, score
from llmcompiler_bench.cleanliness import call_arguments, unclean_reason
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


def is_clean(answer: str, *, question: str = "", arguments: Sequence[str] = ()) -> bool:
    """An answer a user may see (`llmcompiler_bench.cleanliness`): no protocol line, no
    unresolved reference, no plan line, no copy of the engine's prompts, not only the argument
    of a call the run planned."""
    return unclean_reason(answer, LIVE_TOOL_NAMES, question=question, arguments=arguments) is None


def run_scores(record: RunRecord) -> Scores:
    """The answer's scores; a failed run's explanation is scored as no answer."""
    return score("" if record.error else record.answer, record.gold, record.question)


def unclean_why(record: RunRecord) -> str | None:
    """Why the run's answer is not a clean one (checked against its question, the calls it
    planned (a ReAct run: made), and the plan lines it could not read), or None when it is."""
    if record.error is not None:
        return f"the run failed: {record.error}"
    calls = [p.args for p in record.planned] or [t.args for t in record.tools]
    arguments = call_arguments(calls, record.plan_notes)
    return unclean_reason(
        record.answer, LIVE_TOOL_NAMES, question=record.question, arguments=arguments
    )


def clean_run(record: RunRecord) -> bool:
    """The run ended with an answer, and a clean one."""
    return unclean_why(record) is None


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
                    context=Context(
                        planner_model=spec, base_url=base_url, max_output_tokens=MAX_OUTPUT_TOKENS
                    ),
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
                    question=item.question,
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
    """The paper's metric."""
    exact: int
    """HotpotQA's normalised exact match."""
    f1: float
    """HotpotQA's token F1, mean over runs."""
    choice: tuple[int, int]
    """Which-is-more questions: answers naming the gold option and not the other, of those."""
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
        scores = [run_scores(r) for r in runs]
        choices = [s.choice for s in scores if s.choice is not None]
        out.append(
            LiveSummary(
                system=system.label,
                runs=count,
                answered=sum(r.error is None and bool(r.answer.strip()) for r in runs),
                used_tools=sum(bool(r.tools) for r in runs),
                clean=sum(clean_run(r) for r in runs),
                correct=sum(r.correct for r in runs),
                exact=sum(s.exact for s in scores),
                f1=sum(s.f1 for s in scores) / count,
                choice=(sum(choices), len(choices)),
                latency=stat([r.latency_s for r in runs]),
                llm_calls=sum(r.llm_calls for r in runs) / count,
                tool_calls=sum(len(r.tools) for r in runs) / count,
                input_tokens=sum(r.input_tokens for r in runs) / count,
                output_tokens=sum(r.output_tokens for r in runs) / count,
            )
        )
    return out


def live_table(summaries: Sequence[LiveSummary]) -> Table:
    """What a real model does to each system, its accuracy by each metric, real latency."""
    table = Table(title="live model: per system (means per run; latency median [min–max])")
    table.caption = (
        "accuracy (paper): numbers within ±10%, else normalised exact match. EM: normalised "
        "exact match; F1: token F1 (HotpotQA's, mean). which-is-more: of the questions "
        "`…, A or B?` whose gold answer is one option, answers naming it and not the other. "
        "clean: no protocol line, plan line, prompt text or bare call argument."
    )
    for name in (
        "system",
        "runs",
        "answered",
        "used a tool",
        "clean answers",
        "accuracy (paper)",
        "EM",
        "F1",
        "which-is-more",
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
            f"{s.exact / s.runs:.0%}",
            f"{s.f1:.2f}",
            f"{s.choice[0]}/{s.choice[1]}" if s.choice[1] else "–",
            latency,
            f"{s.llm_calls:.1f}",
            f"{s.tool_calls:.1f}",
            f"{s.input_tokens:,.0f}/{s.output_tokens:,.0f}",
        )
    return table


@dataclass(frozen=True)
class FirstTokens:
    """Time to first token of one kind of model call (planner, joiner, or a baseline's
    `model`) over a live run, in run order: the first call is cold (the server has none of
    its prompt cached), the rest warm (a server that keeps the fixed prompt prefix, such as
    llama.cpp with its RAM prompt cache, prefills only what changed)."""

    system: str
    kind: str
    calls: int
    cold_s: float | None
    warm: Stat | None
    longest_reply: int
    """Output tokens of the longest reply (estimated when the server reports none)."""


def first_tokens(records: Sequence[RunRecord], systems: Sequence[System]) -> list[FirstTokens]:
    out = []
    for system in systems:
        spans = [span for r in records if r.system == system.name for span in r.models]
        for kind in dict.fromkeys(span.kind for span in spans):
            of_kind = [span for span in spans if span.kind == kind]
            ttft = [
                None if s.first_token_s is None else s.first_token_s - s.start_s for s in of_kind
            ]
            out.append(
                FirstTokens(
                    system=system.label,
                    kind=kind,
                    calls=len(of_kind),
                    cold_s=ttft[0],
                    warm=stat(ttft[1:]),
                    longest_reply=max(s.output_tokens for s in of_kind),
                )
            )
    return out


def first_token_table(rows: Sequence[FirstTokens]) -> Table:
    table = Table(title="live model: time to first token per kind of call, cold and warm")
    table.caption = (
        f"cold: the run's first call of that kind; warm: median [min–max] of the rest. "
        f"Longest reply against the output cap ({MAX_OUTPUT_TOKENS} tokens), which the "
        "engine also enforces by reading no further."
    )
    for name in ("system", "call", "calls", "cold s", "warm s", "longest reply (tokens)"):
        table.add_column(name, justify="left" if name in ("system", "call") else "right")
    for row in rows:
        warm = (
            f"{row.warm.median:.2f} [{row.warm.low:.2f}–{row.warm.high:.2f}]" if row.warm else "–"
        )
        cold = f"{row.cold_s:.2f}" if row.cold_s is not None else "–"
        table.add_row(row.system, row.kind, str(row.calls), cold, warm, f"{row.longest_reply:,}")
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
        "first_tokens": [dataclasses.asdict(f) for f in first_tokens(records, LIVE_SYSTEMS)],
        "records": [
            {
                "item": r.item,
                "system": r.system,
                "question": r.question,
                "gold": r.gold,
                "answer": r.answer,
                "correct": r.correct,
                **{
                    f"score_{name}": value
                    for name, value in dataclasses.asdict(run_scores(r)).items()
                },
                "clean": clean_run(r),
                "unclean_reason": unclean_why(r),
                "latency_s": r.latency_s,
                "llm_calls": r.llm_calls,
                "tool_calls": len(r.tools),
                "error": r.error,
            }
            for r in records
        ],
    }
