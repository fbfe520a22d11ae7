"""One run's raw figures (`RunRecord`), the unit everything else aggregates or draws."""

from __future__ import annotations

from dataclasses import dataclass, field

from llmcompiler_bench.accuracy import final_answer, is_correct
from llmcompiler_bench.recorder import ModelSpan, Planned, ToolSpan
from llmcompiler_bench.systems import Outcome, System
from llmcompiler_scripted.timing import ModelProfile


@dataclass
class RunRecord:
    """A system's run of one item; times in seconds from the run's start.

    `bound_s` is T* (LLMCompiler on simulated items only); `failed` maps the tasks that ended
    in an error or were skipped to why, as the engine's events said. `first_answer_s` is the
    time to first answer token; `deduplicated` and `cache_hits` count tasks answered without
    running their tool. `variant` names a compiler-optimizations run (`dedupe_calls:off`, …).
    `question` is what was asked, `gold` its answer; `plan_notes` the plan lines that were not
    actions.
    """

    workload: str
    item: str
    repeat: int
    system: str
    latency_s: float
    answer: str
    correct: bool
    n_tasks: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    models: list[ModelSpan] = field(default_factory=list)
    tools: list[ToolSpan] = field(default_factory=list)
    planned: list[Planned] = field(default_factory=list)
    plan_notes: list[str] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    bound_s: float | None = None
    error: str | None = None
    first_answer_s: float | None = None
    deduplicated: int = 0
    cache_hits: int = 0
    variant: str | None = None
    question: str = ""
    gold: str = ""

    @property
    def tool_calls(self) -> int:
        """Tool calls executed (a deduplicated task or a cache hit runs none)."""
        return len(self.tools)

    @property
    def bound_ratio(self) -> float | None:
        """makespan / T* (1.00 is perfect)."""
        return self.latency_s / self.bound_s if self.bound_s else None

    @property
    def overhead_ms_per_task(self) -> float | None:
        """(makespan − T*) / tasks, in milliseconds."""
        if self.bound_s is None or not self.n_tasks:
            return None
        return (self.latency_s - self.bound_s) / self.n_tasks * 1000


def make_record(
    *,
    workload: str,
    item: str,
    repeat: int,
    system: System,
    outcome: Outcome,
    gold: str,
    n_tasks: int,
    profile: ModelProfile,
    bound_s: float | None = None,
    variant: str | None = None,
    question: str = "",
) -> RunRecord:
    """The record of `outcome`; the answer is judged by the paper's metric."""
    recorder = outcome.recorder
    tokens_in = sum(m.input_tokens for m in recorder.models)
    tokens_out = sum(m.output_tokens for m in recorder.models)
    return RunRecord(
        workload=workload,
        item=item,
        repeat=repeat,
        system=system.name,
        latency_s=outcome.latency_s,
        answer=outcome.answer,
        correct=outcome.error is None and is_correct(final_answer(outcome.answer), gold),
        n_tasks=n_tasks,
        llm_calls=len(recorder.models),
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        cost_usd=profile.cost_usd(tokens_in, tokens_out),
        models=recorder.models,
        tools=recorder.tools,
        planned=recorder.planned,
        plan_notes=recorder.plan_notes,
        failed=recorder.failed,
        bound_s=bound_s,
        error=outcome.error,
        first_answer_s=outcome.first_answer_s,
        deduplicated=recorder.deduplicated,
        cache_hits=recorder.cache_hits,
        variant=variant,
        question=question,
        gold=gold,
    )
