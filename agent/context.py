"""Run-time configuration, passed as LangGraph's `context` and shown in Studio.

Secrets never live here (Studio displays the context): API keys come from the environment.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Literal

DEFAULT_PLANNER_MODEL = "openai:gpt-4o-mini"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name) or default


@dataclass(kw_only=True)
class Context:
    """Knobs of one LLMCompiler run (LangGraph `context_schema`)."""

    planner_model: str = field(
        default_factory=lambda: (
            _env("LLMCOMPILER_PLANNER_MODEL", DEFAULT_PLANNER_MODEL) or DEFAULT_PLANNER_MODEL
        ),
        metadata={
            "description": "Planner chat model as 'provider:model' (init_chat_model). "
            "Env LLMCOMPILER_PLANNER_MODEL; default openai:gpt-4o-mini."
        },
    )
    joiner_model: str | None = field(
        default_factory=lambda: _env("LLMCOMPILER_JOINER_MODEL"),
        metadata={
            "description": "Joiner chat model as 'provider:model'; empty means the planner's. "
            "Env LLMCOMPILER_JOINER_MODEL."
        },
    )
    base_url: str | None = field(
        default_factory=lambda: _env("LLMCOMPILER_BASE_URL"),
        metadata={
            "description": "Base URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp) "
            "for models given as strings. Env LLMCOMPILER_BASE_URL; langchain-openai also "
            "reads OPENAI_BASE_URL."
        },
    )
    temperature: float = field(
        default=0.0,
        metadata={"description": "Sampling temperature for models built from strings."},
    )
    max_output_tokens: int | None = field(
        default=None,
        metadata={
            "description": "Cap on the tokens one model call (built from a string) may write; "
            "None: the provider's default. Small local models can ramble to their context "
            "limit without it."
        },
    )
    max_replans: int = field(
        default=2,
        metadata={"description": "Replans allowed after the first plan (N means at most N+1)."},
    )
    max_concurrency: int = field(
        default=16,
        metadata={
            "description": "Tool calls running at once in one run (waiting tasks don't count)."
        },
    )
    tool_timeout_s: float = field(
        default=60.0,
        metadata={"description": "Per tool call; a timeout becomes that task's error."},
    )
    default_placement: Literal["thread", "process", "ray"] = field(
        default="thread",
        metadata={
            "description": "Where calls of sync tools that declare no metadata placement run: "
            "thread (a thread of its own), process (the engine's worker processes: CPU-bound "
            "tools) or ray (a Ray task; RAY_ADDRESS picks the cluster). Async tools stay on "
            "the event loop unless they declare one."
        },
    )
    max_tasks_per_plan: int = field(
        default=200,
        metadata={"description": "Longer plans: the extra lines become errors the joiner sees."},
    )
    result_preview_chars: int = field(
        default=2000,
        metadata={
            "description": "Results longer than this are truncated in prompts and stream "
            "events (state keeps the stored form)."
        },
    )
    streaming_dispatch: bool = field(
        default=True,
        metadata={
            "description": "Dispatch each task while the plan still streams. Off: plan fully, "
            "then run (the paper's non-streaming mode, kept for comparison)."
        },
    )
    approve_plan: bool = field(
        default=False,
        metadata={
            "description": "Pause (LangGraph interrupt) once each plan is complete, before any "
            "of its tools runs; resume with approve, an edited plan, or reject (replan)."
        },
    )
    dedupe_calls: bool = field(
        default=True,
        metadata={
            "description": "Common-call elimination: identical calls of a pure tool "
            "(metadata pure=True) in one run execute once; the others reuse the result."
        },
    )
    cache_results: bool = field(
        default=True,
        metadata={
            "description": "Reuse results of tools marked metadata cache_ttl_s across runs "
            "and threads (kept in the LangGraph store, when the graph has one)."
        },
    )
    direct_answers: bool = field(
        default=True,
        metadata={
            "description": 'Let a plan end with join(final="$N") when task N\'s result is '
            "the answer: it is returned as is and the joiner model call is skipped."
        },
    )
    price_per_m_input: float | None = field(
        default=None,
        metadata={
            "description": "USD per million input tokens for cost accounting; empty: the "
            "built-in list prices by model name (unknown models report no cost)."
        },
    )
    price_per_m_output: float | None = field(
        default=None,
        metadata={"description": "USD per million output tokens (see price_per_m_input)."},
    )
    llm_retries: int = field(
        default=3,
        metadata={
            "description": "Retries of a planner/joiner call on transient errors (rate limit, "
            "5xx, connection), exponential backoff with jitter; a stream only before its "
            "first token."
        },
    )


def price_override(ctx: Context) -> tuple[float, float] | None:
    """The Context's prices, when both are set."""
    if ctx.price_per_m_input is None or ctx.price_per_m_output is None:
        return None
    return (ctx.price_per_m_input, ctx.price_per_m_output)


def context_of(value: Any) -> Context:
    """The run's Context; `None` (no context given) or a mapping is coerced.

    Embedded in a parent graph with its own context schema, our fields are read off the
    parent's context by name, so a parent can configure the child.
    """
    if isinstance(value, Context):
        return value
    if value is None:
        return Context()
    names = {f.name for f in dataclasses.fields(Context)}
    source = value if isinstance(value, dict) else vars(value) if hasattr(value, "__dict__") else {}
    return Context(**{k: v for k, v in source.items() if k in names and v is not None})
