"""The paper's published figures, printed beside ours for reference: NOT measured here.

Kim et al., "An LLM Compiler for Parallel Function Calling", ICML 2024, Tables 1–2: latency
of ReAct† and of LLMCompiler, OpenAI parallel function calling's speedup over ReAct, the cost
reduction, and the gain of the streaming planner, all on real GPT models over the real APIs.
They describe the paper's setup, not this simulation, so they are reference points, not
results or goals. Other implementations are measured in the same run, on the same items and
latencies, by `llmcompiler bench --peers` (`llmcompiler_bench/peers/`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Paper:
    """One workload's published figures (seconds and ratios, as printed in the paper)."""

    react_s: float
    llmcompiler_s: float
    speedup_react: float
    parallel_calls_vs_react: float | None
    cost_reduction: float
    streaming_gain: float

    @property
    def speedup_parallel(self) -> float | None:
        """LLMCompiler vs parallel function calling, derived from the two speedups over ReAct."""
        if self.parallel_calls_vs_react is None:
            return None
        return self.speedup_react / self.parallel_calls_vs_react


PAPER = {
    "hotpotqa": Paper(7.12, 3.95, 1.80, 1.61, 3.37, 1.01),
    "movie": Paper(20.47, 5.47, 3.74, 2.76, 6.73, 1.03),
    "parallelqa": Paper(35.90, 16.69, 2.15, None, 4.65, 1.30),
}
