"""Real-model mode: hotpotqa with a live model and live Wikipedia search.

The configuration is the one `llmcompiler ask` ships (`wikipedia_search`, the LLM-backed
`math`, the shipped planner examples, the default ReAct prompt), so the figures describe what
a user gets: latency, tokens and accuracy by the paper's metric. No scripted reply is involved.
"""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from agent.context import Context
from agent.models import load_chat_model
from llmcompiler_bench.records import RunRecord, make_record
from llmcompiler_bench.runner import Settings
from llmcompiler_bench.systems import BASELINE_SYSTEMS, Setup, run_system
from llmcompiler_bench.workloads import hotpotqa

WORKLOAD = "hotpotqa"


def live_tools(model: BaseChatModel) -> list[BaseTool]:
    """Live Wikipedia search and the `math` tool on the same model (what `ask` uses)."""
    from tools import build_math_tool, wikipedia_search

    return [wikipedia_search, build_math_tool(model)]


async def run_live(
    settings: Settings,
    spec: str,
    base_url: str | None,
    on_record: Callable[[RunRecord], None] = lambda _record: None,
) -> list[RunRecord]:
    """Every system on the first `n` hotpotqa questions, `repeats` times, one run at a time."""
    from tools import DEFAULT_TOOLS_EXAMPLES

    model = load_chat_model(spec, base_url=base_url, temperature=0.0)
    tools = live_tools(model)
    records = []
    for item in hotpotqa(settings.n):
        for repeat in range(settings.repeats):
            for system in BASELINE_SYSTEMS:
                setup = Setup(
                    tools=tools,
                    planner=model,
                    joiner=model,
                    react_model=model,
                    examples=DEFAULT_TOOLS_EXAMPLES,
                    question=item.question,
                    context=Context(planner_model=spec, base_url=base_url),
                )
                outcome = await run_system(system, setup)
                record = make_record(
                    workload=WORKLOAD,
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
