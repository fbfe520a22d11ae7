"""One peer run's raw figures, read from the runner's JSON line and the server's call log."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmcompiler_bench.accuracy import final_answer, is_correct


@dataclass(frozen=True)
class ModelCall:
    """One request the peer made to the scripted server; times in seconds from the run's start
    (`first_token` and `end`: when its first and last tokens were due)."""

    kind: str
    """`planner`, `joiner`, or `unknown` (a request neither prompt matched: answered 500)."""
    start: float
    end: float
    input_tokens: int
    output_tokens: int
    first_token: float | None = None


@dataclass
class PeerRun:
    """A peer's run of one item and repeat. `latency_s` is None when the run produced no
    result at all (the runner crashed or timed out); `error` then says why."""

    peer: str
    workload: str
    item: str
    repeat: int
    latency_s: float | None
    answer: str
    correct: bool
    error: str | None = None
    models: list[ModelCall] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    bound_s: float | None = None

    @property
    def llm_calls(self) -> int:
        return len(self.models)

    @property
    def input_tokens(self) -> int:
        return sum(m.input_tokens for m in self.models)

    @property
    def output_tokens(self) -> int:
        return sum(m.output_tokens for m in self.models)

    @property
    def bound_ratio(self) -> float | None:
        if self.latency_s is None or not self.bound_s:
            return None
        return self.latency_s / self.bound_s


@dataclass(frozen=True)
class PeerSkip:
    """A peer (`workload` None: all of it) or one workload of it that was not run, and why."""

    peer: str
    workload: str | None
    reason: str


def read_results(text: str) -> dict[str, dict[str, Any]]:
    """The runner's result lines by job id; a line that is not a JSON object is ignored (the
    job then counts as having produced no result)."""
    results: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and "id" in data:
            results[str(data["id"])] = data
    return results


def make_run(
    *,
    peer: str,
    workload: str,
    item: str,
    repeat: int,
    gold: str,
    result: Mapping[str, Any] | None,
    calls: Sequence[tuple[str, float, float, float, int, int]] = (),
    missing: str = "the runner wrote no result",
) -> PeerRun:
    """The run from the runner's `result` and the server's `calls` (kind, monotonic start,
    nominal time to first token, nominal duration, input tokens, output tokens); the answer is
    judged by the paper's metric."""
    if result is None:
        return PeerRun(peer, workload, item, repeat, None, "", False, missing)
    start = float(result.get("start") or 0.0)
    latency = result.get("latency_s")
    answer = str(result.get("answer") or "")
    error = result.get("error")
    models = [
        ModelCall(kind, at - start, at - start + last, tokens_in, tokens_out, at - start + first)
        for kind, at, first, last, tokens_in, tokens_out in calls
    ]
    return PeerRun(
        peer=peer,
        workload=workload,
        item=item,
        repeat=repeat,
        latency_s=float(latency) if latency is not None else None,
        answer=answer,
        correct=error is None and is_correct(final_answer(answer), gold),
        error=str(error) if error else None,
        models=models,
        tools=list(result.get("tools") or ()),
    )
