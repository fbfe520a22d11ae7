"""T*, the critical-path bound of one LLMCompiler run (docs/benchmark.md, "Figures").

    T* = max over tasks v of (e(v) + L(v)) + T_join

`e(v)`: when the planner's stream *nominally* completes task v's line (the profile's deadline
of the token holding its closing paren, the call starting at t = 0); `L(v)`: the longest path
of tool time starting at v, v included; `T_join`: the joiner call's nominal duration for its
actual prompt and output. `join()` counts as a task with no tool time, so the bound never ends
before the plan does. No scheduler can finish sooner without a faster model or faster tools.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from llmcompiler_bench.plans import PlanText
from llmcompiler_scripted.timing import CHARS_PER_TOKEN, ModelProfile


def line_ready_times(plan: PlanText, prompt_tokens: int, profile: ModelProfile) -> dict[int, float]:
    """e(v) for each task of the plan (join included), in seconds from the planner's start."""
    return {
        idx: profile.offset_s(prompt_tokens, close // CHARS_PER_TOKEN)
        for idx, close in plan.closes.items()
    }


def longest_paths(
    durations: Mapping[int, float], deps: Mapping[int, Sequence[int]]
) -> dict[int, float]:
    """L(v): v's duration plus the longest chain of dependents' durations after it."""
    dependents: dict[int, list[int]] = {idx: [] for idx in durations}
    for idx, needs in deps.items():
        for dep in needs:
            dependents[dep].append(idx)
    longest: dict[int, float] = {}
    for idx in sorted(durations, reverse=True):  # dependents have larger indices
        after = (longest[d] for d in dependents[idx])
        longest[idx] = durations[idx] + max(after, default=0.0)
    return longest


def critical_path_bound(
    ready: Mapping[int, float],
    durations: Mapping[int, float],
    deps: Mapping[int, Sequence[int]],
    join_s: float,
) -> float:
    """T* from e(v) (`ready`), tool durations and dependencies, and T_join."""
    longest = longest_paths(durations, deps)
    return max(ready[idx] + longest[idx] for idx in durations) + join_s
