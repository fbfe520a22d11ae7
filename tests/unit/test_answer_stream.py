"""The joiner's answer reaches chat clients token by token, without its scaffolding."""

from __future__ import annotations

import pytest
from langchain_core.tools import tool

from agent.answer import AnswerExtractor
from agent.joiner import parse_joiner_output
from tests.helpers import scripted_graph


@tool
async def lookup(key: str) -> str:
    """Look up `key`."""
    return f"{key}-value"


def _final(raw: str) -> str | None:
    decision = parse_joiner_output(raw)
    return decision.content if decision.action == "finish" else None


@pytest.mark.parametrize(
    "raw",
    [
        "Thought: easy\nAction: Finish(It is (roughly) 42 m.)",
        "Thought: t\nAction: Finish(  spaced answer  )\n",
        "Action: Finish(no closing paren",
        "Plain prose answer (with parens).",
        "Thought: hmm\nAction: Replan(need more)",
    ],
)
def test_extractor_releases_exactly_the_answer_for_any_chunking(raw: str) -> None:
    for size in (1, 2, 3, 7, len(raw)):
        extractor = AnswerExtractor()
        released = "".join(extractor.feed(raw[i : i + size]) for i in range(0, len(raw), size))
        released += extractor.close(_final(extractor.raw))
        assert released == (_final(raw) or "")


async def test_messages_stream_carries_only_the_answer_and_only_once() -> None:
    answer = "Thought: both found\nAction: Finish(The values are a-value and b-value (both).)"
    graph, *_ = scripted_graph([lookup], ['1. lookup("a")\n2. lookup("b")\n3. join()'], [answer])
    tokens: list[str] = []
    ids: set[str | None] = set()
    final = None
    async for mode, data in graph.astream(
        {"messages": [("user", "q")]}, stream_mode=["messages", "values"]
    ):
        if mode == "messages":
            message, _meta = data
            if message.type in ("ai", "AIMessageChunk") and message.text:
                tokens.append(message.text)
                ids.add(message.id)
        else:
            final = data
    assert "".join(tokens) == "The values are a-value and b-value (both)."
    assert len(tokens) > 3  # streamed in pieces, not one block
    assert final is not None and final["messages"][-1].id in ids  # one message, not two


@pytest.mark.parametrize(
    "answer",
    [
        "Thought: the last result is the answer\nAction: Finish($3)",
        "Thought: combine\nAction: Finish(It is $3 (from $1 and $2).)",
    ],
)
async def test_streamed_answer_never_shows_a_raw_reference_and_equals_the_resolved_one(
    answer: str,
) -> None:
    plan = '1. lookup("a")\n2. lookup("b")\n3. lookup("$1+$2")\n4. join()'
    graph, *_ = scripted_graph([lookup], [plan], [answer])
    tokens: list[str] = []
    final = None
    async for mode, data in graph.astream(
        {"messages": [("user", "q")]}, stream_mode=["messages", "values"]
    ):
        if mode == "messages":
            message, _meta = data
            if message.type in ("ai", "AIMessageChunk") and message.text:
                tokens.append(message.text)
        else:
            final = data
    assert final is not None
    resolved = final["messages"][-1].text
    assert "a-value+b-value-value" in resolved
    assert not any("$" in token for token in tokens)
    assert "".join(tokens) == resolved
