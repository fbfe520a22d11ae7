"""Our scripted planner and joiner behind HTTP: the path a user takes, and the peers' path.

The peers reach their scripted models through a `ScriptedOpenAIServer` on loopback; ours, in
the main comparison, calls `ScriptedChatModel`s in process. For the peers' headline
comparison ours takes the same path: one server per run, with the run's timing profile,
answering our planner's requests with the planner's script and every other request with the
joiner's, and langchain-openai's `ChatOpenAI` (built by `agent.models.load_chat_model`, as the
engine builds a configured model) pointed at it. The server always streams usage when asked
(a persona's `report_usage` applies to the in-process models only).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import convert_to_messages

from agent._prompts import PLANNER_SYSTEM
from agent.models import load_chat_model
from llmcompiler_scripted import ModelProfile, ScriptedOpenAIServer
from llmcompiler_scripted.chat_model import Reply, Responder

MODEL = "openai:gpt-4o-mini"
"""The model name sent (the scripted server answers for any)."""
PLANNER_PROMPT = PLANNER_SYSTEM.split("{", 1)[0]
"""How our planner's requests begin (the fixed text before the tool list)."""


def is_planner(messages: list[dict[str, Any]]) -> bool:
    """Whether a request is our planner's: its system prompt starts with `PLANNER_PROMPT`."""
    return bool(messages) and str(messages[0].get("content") or "").startswith(PLANNER_PROMPT)


def _reply(respond: Responder, messages: list[dict[str, Any]]) -> Reply:
    reply = respond(convert_to_messages(messages))
    if isinstance(reply, Exception):
        raise reply
    return reply


@contextlib.contextmanager
def served_model(
    planner: Responder, joiner: Responder, profile: ModelProfile
) -> Iterator[BaseChatModel]:
    """One chat model (planner and joiner, as a user configures one) reaching `planner` and
    `joiner` through a scripted OpenAI-compatible server on loopback, while the context lasts."""

    def respond(messages: list[dict[str, Any]]) -> Reply:
        return _reply(planner if is_planner(messages) else joiner, messages)

    with ScriptedOpenAIServer(respond=respond, timing=profile) as server:
        yield load_chat_model(MODEL, base_url=server.base_url, temperature=0.0)
