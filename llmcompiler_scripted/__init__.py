"""Scripted models with realistic timing, for tests and the benchmark (no real LLM needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmcompiler_scripted.chat_model import ScriptedChatModel, ScriptExhaustedError
from llmcompiler_scripted.timing import PROFILES, ModelProfile, count_tokens

if TYPE_CHECKING:
    from llmcompiler_scripted.server import ScriptedOpenAIServer

__all__ = [
    "PROFILES",
    "ModelProfile",
    "ScriptExhaustedError",
    "ScriptedChatModel",
    "ScriptedOpenAIServer",
    "count_tokens",
]


def __getattr__(name: str) -> Any:
    # Imported lazily: `python -m llmcompiler_scripted.server` would otherwise find the module
    # already imported by this package and warn (runpy's RuntimeWarning).
    if name == "ScriptedOpenAIServer":
        from llmcompiler_scripted.server import ScriptedOpenAIServer

        return ScriptedOpenAIServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
