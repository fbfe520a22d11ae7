"""Run-time configuration, passed as LangGraph's `context` and shown in Studio.

Secrets never live here (Studio displays the context): API keys come from the environment.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from agent._inputs import (
    RULE,
    check_fields,
    check_names,
    choice,
    flag,
    integer,
    model_string,
    number,
    url,
)
from agent.placement import PLACEMENTS, Placement

DEFAULT_PLANNER_MODEL = "openai:gpt-4o-mini"
DEFAULT_MODEL_TIMEOUT_S = 120.0
MIN_PREVIEW_CHARS = 100
"""Shorter result previews would hide the results from the joiner."""


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name) or default


@dataclass(kw_only=True)
class Context:
    """Knobs of one LLMCompiler run (LangGraph `context_schema`).

    Every field declares what it allows (`agent._inputs`): a Context with a value of the wrong
    type or out of range, or with a field it does not have, cannot be built, so LangGraph's
    own coercion of a `context={...}` dict (in process and under the server) refuses it
    before any node runs.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Context:
        # Runs before the generated __init__, so an unknown name gets our error, not a TypeError.
        check_names(cls.__name__, kwargs, (f.name for f in dataclasses.fields(cls)))
        return super().__new__(cls)

    def __post_init__(self) -> None:
        check_fields(self)

    planner_model: str = field(
        default_factory=lambda: (
            _env("LLMCOMPILER_PLANNER_MODEL", DEFAULT_PLANNER_MODEL) or DEFAULT_PLANNER_MODEL
        ),
        metadata={
            RULE: model_string(),
            "description": "Planner chat model as 'provider:model' (init_chat_model). "
            "Env LLMCOMPILER_PLANNER_MODEL; default openai:gpt-4o-mini.",
        },
    )
    joiner_model: str | None = field(
        default_factory=lambda: _env("LLMCOMPILER_JOINER_MODEL"),
        metadata={
            RULE: model_string(optional=True),
            "description": "Joiner chat model as 'provider:model'; empty means the planner's. "
            "Env LLMCOMPILER_JOINER_MODEL.",
        },
    )
    base_url: str | None = field(
        default_factory=lambda: _env("LLMCOMPILER_BASE_URL"),
        metadata={
            RULE: url(),
            "description": "Base URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp) "
            "for models given as strings. Env LLMCOMPILER_BASE_URL; langchain-openai also "
            "reads OPENAI_BASE_URL.",
        },
    )
    temperature: float = field(
        default=0.0,
        metadata={
            RULE: number(0, 2),
            "description": "Sampling temperature for models built from strings.",
        },
    )
    max_output_tokens: int | None = field(
        default=None,
        metadata={
            RULE: integer(1).or_none(),
            "description": "Cap on the tokens one planner or joiner reply may have: sent to "
            "models built from strings (as max_completion_tokens and, to OpenAI-compatible "
            "servers, max_tokens) and enforced by the engine, which stops reading there. "
            "None: the provider's default. Small local models can ramble to their context "
            "limit without it.",
        },
    )
    max_replans: int = field(
        default=2,
        metadata={
            RULE: integer(0),
            "description": "Replans allowed after the first plan (N means at most N+1).",
        },
    )
    max_concurrency: int = field(
        default=16,
        metadata={
            RULE: integer(1),
            "description": "Tool calls running at once in one run (waiting tasks don't count).",
        },
    )
    tool_timeout_s: float = field(
        default=60.0,
        metadata={
            RULE: number(0, above=True),
            "description": "Per tool call; a timeout becomes that task's error.",
        },
    )
    default_placement: Placement = field(
        default="thread",
        metadata={
            RULE: choice(*PLACEMENTS),
            "description": "Where calls of sync tools that declare no metadata placement run: "
            "thread (a thread of its own), process (the engine's worker processes: CPU-bound "
            "tools) or ray (a Ray task; RAY_ADDRESS picks the cluster). Async tools stay on "
            "the event loop unless they declare one.",
        },
    )
    max_tasks_per_plan: int = field(
        default=200,
        metadata={
            RULE: integer(1),
            "description": "Longer plans: the extra lines become errors the joiner sees.",
        },
    )
    result_preview_chars: int = field(
        default=2000,
        metadata={
            RULE: integer(MIN_PREVIEW_CHARS),
            "description": "Results longer than this are truncated in prompts and stream "
            "events (state keeps the stored form).",
        },
    )
    joiner_thought: bool = field(
        default=False,
        metadata={
            RULE: flag(),
            "description": "Ask the joiner for a one-sentence Thought: before its Action (the "
            "paper's format). Off: it answers at once, 10-20 output tokens sooner per answer.",
        },
    )
    streaming_dispatch: bool = field(
        default=True,
        metadata={
            RULE: flag(),
            "description": "Dispatch each task while the plan still streams. Off: plan fully, "
            "then run (the paper's non-streaming mode, kept for comparison).",
        },
    )
    approve_plan: bool = field(
        default=False,
        metadata={
            RULE: flag(),
            "description": "Pause (LangGraph interrupt) once each plan is complete, before any "
            "of its tools runs; resume with approve, an edited plan, or reject (replan).",
        },
    )
    dedupe_calls: bool = field(
        default=True,
        metadata={
            RULE: flag(),
            "description": "Common-call elimination: identical calls of a pure tool "
            "(metadata pure=True) in one run execute once; the others reuse the result.",
        },
    )
    cache_results: bool = field(
        default=True,
        metadata={
            RULE: flag(),
            "description": "Reuse results of tools marked metadata cache_ttl_s across runs "
            "and threads (kept in the LangGraph store, when the graph has one).",
        },
    )
    direct_answers: bool = field(
        default=True,
        metadata={
            RULE: flag(),
            "description": 'Let a plan end with join(final="$N") when task N\'s result is '
            "the answer: it is returned as is and the joiner model call is skipped.",
        },
    )
    price_per_m_input: float | None = field(
        default=None,
        metadata={
            RULE: number(0).or_none(),
            "description": "USD per million input tokens for cost accounting; empty: the "
            "built-in list prices by model name (unknown models report no cost).",
        },
    )
    price_per_m_output: float | None = field(
        default=None,
        metadata={
            RULE: number(0).or_none(),
            "description": "USD per million output tokens (see price_per_m_input).",
        },
    )
    llm_retries: int = field(
        default=3,
        metadata={
            RULE: integer(0),
            "description": "Retries of a planner/joiner call on transient errors (rate limit, "
            "5xx, connection), exponential backoff with jitter; a stream only before its "
            "first token.",
        },
    )
    model_timeout_s: float = field(
        default=DEFAULT_MODEL_TIMEOUT_S,
        metadata={
            RULE: number(0, above=True),
            "description": "Request timeout of models built from strings: how long to wait "
            "for a reply (while streaming: for each next chunk) before the call fails as "
            "timed out (then retried like any transient error, see llm_retries).",
        },
    )
    max_question_chars: int = field(
        default=20_000,
        metadata={
            RULE: integer(1),
            "description": "Longest question (the last user message) a run accepts; a longer "
            "one is refused before any model call. About 5,000 tokens by default.",
        },
    )


def price_override(ctx: Context) -> tuple[float, float] | None:
    """The Context's prices, when both are set."""
    if ctx.price_per_m_input is None or ctx.price_per_m_output is None:
        return None
    return (ctx.price_per_m_input, ctx.price_per_m_output)


def context_of(value: Any) -> Context:
    """The run's Context, checked; `None` (no context given) or a mapping is coerced.

    Embedded in a parent graph with its own context schema, our fields are read off the
    parent's context by name, so a parent can configure the child.
    """
    if isinstance(value, Context):
        check_fields(value)  # an instance may have been changed after it was built
        return value
    if value is None:
        return Context()
    names = {f.name for f in dataclasses.fields(Context)}
    source = value if isinstance(value, dict) else vars(value) if hasattr(value, "__dict__") else {}
    return Context(**{k: v for k, v in source.items() if k in names and v is not None})
