"""The joiner's answer reaches chat clients token by token, without its scaffolding, and what a
client shows at the end is the final answer: text taken back is announced before its
replacement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.tools import tool

from agent import create_llm_compiler
from agent._joiner_reply import ReplyReader, parse_joiner_output, settled_answer
from llmcompiler_scripted import ScriptedChatModel
from tests.helpers import HookedChatModel, run_chat, scripted_graph

TOOLS = ("lookup", "search")
HONEST = json.loads((Path(__file__).parent / "honest_answers.json").read_text(encoding="utf-8"))


@tool
async def lookup(key: str) -> str:
    """Look up `key`."""
    return f"{key}-value"


def final(reply: str) -> str:
    decision = parse_joiner_output(reply, TOOLS)
    return decision.content if decision.action == "finish" else ""


REPLIES = [
    "Thought: easy\nAction: Finish(It is (roughly) 42 m.)",
    "Thought: t\nAction: Finish(  spaced answer  )\n",
    "Action: Finish(no closing paren",
    "Action: Finish(Check the appendix (see note)",
    "Action: Finish(Glad it helped :))\n\nBye :)",
    "Action: Finish(Steps:\n1) boil\n2) serve)",
    "Action: Finish($2 a month)",
    'Action: Finish(Answer:\n1. search("x")\n   -> x\nEverest)',
    "Action: Finish(Thought: Everest is taller)",
    "Plain prose answer (with parens).",
    "Thought: hmm\nAction: Replan(need more)",
    *(f"Thought: ok\nAction: Finish({entry['answer']})" for entry in HONEST["answers"]),
]


@pytest.mark.parametrize("reply", REPLIES)
def test_what_settles_while_a_reply_arrives_is_always_the_start_of_the_final_answer(
    reply: str,
) -> None:
    answer = final(reply)
    for end in range(len(reply) + 1):
        shown = settled_answer(reply[:end], TOOLS).text
        assert answer.startswith(shown), (reply[:end], shown)


@pytest.mark.parametrize(
    "reply", [*REPLIES, "Let me check the results.\nThought: ok\nAction: Finish(42 (m))"]
)
def test_a_reader_following_a_reply_chunk_by_chunk_reads_what_a_fresh_reading_does(
    reply: str,
) -> None:
    reader = ReplyReader(TOOLS)
    for end in range(len(reply) + 1):
        assert reader.settled(reply[:end]) == settled_answer(reply[:end], TOOLS), reply[:end]


@pytest.mark.parametrize(
    "line",
    [
        "Thought: I am done",
        "  **Action:** Replan(more)",
        "Finish(42)",
        'search("K2 height")',
        '3. search(query="K2")',
        "Step 4: lookup('a')",
        "5. join()",
    ],
)
def test_no_part_of_a_protocol_line_inside_an_answer_is_ever_shown(line: str) -> None:
    reply = f"Action: Finish(Everest.\n{line}\nK2 is second.)"
    assert final(reply) == "Everest.\nK2 is second."
    for end in range(len(reply) + 1):
        assert final(reply).startswith(settled_answer(reply[:end], TOOLS).text)


async def test_messages_stream_carries_only_the_answer_and_only_once() -> None:
    answer = "Thought: both found\nAction: Finish(The values are a-value and b-value (both).)"
    graph, *_ = scripted_graph([lookup], ['1. lookup("a")\n2. lookup("b")\n3. join()'], [answer])
    run = await run_chat(graph, "q")
    assert "".join(run.tokens) == "The values are a-value and b-value (both)."
    assert len(run.tokens) > 3  # streamed in pieces, not one block
    assert run.bubbles == {run.output["messages"][-1].id: run.answer}  # one message, not two


async def test_an_answer_judged_leaky_is_never_streamed_as_it_was_written() -> None:
    reply = 'Thought: ok\nAction: Finish(Everest is taller (8,849 m).\n1. lookup("Everest"))'
    graph, *_ = scripted_graph([lookup], ['1. lookup("a")\n2. join()'], [reply, reply])
    run = await run_chat(graph, "q")
    assert run.answer == "Everest is taller (8,849 m)."
    assert "".join(run.tokens) == run.answer and not run.of("answer_withdrawn")


async def test_prose_taken_back_by_a_later_action_line_is_withdrawn_before_the_answer() -> None:
    reply = "Let me look at the results first.\nThought: both found\nAction: Finish(42)"
    graph, *_ = scripted_graph([lookup], ['1. lookup("a")\n2. join()'], [reply])
    run = await run_chat(graph, "q")
    assert run.answer == "42"
    [withdrawn] = run.of("answer_withdrawn")
    assert withdrawn["text"] == "Let me look at the results first." and withdrawn["round"] == 1
    assert run.bubbles == {run.output["messages"][-1].id: "42"}
    assert "".join(run.tokens) == withdrawn["text"] + "42"


async def test_prose_followed_by_a_replan_is_withdrawn() -> None:
    replan = "The first lookup is not enough.\nAction: Replan(need b)"
    graph, planner, _ = scripted_graph(
        [lookup],
        ['1. lookup("a")\n2. join()', '3. lookup("b")\n4. join()'],
        [replan, "Action: Finish(b-value)"],
    )
    run = await run_chat(graph, "q")
    assert len(planner.calls) == 2
    assert [e["text"] for e in run.of("answer_withdrawn")] == ["The first lookup is not enough."]
    assert list(run.bubbles.values()) == ["b-value"]


async def test_a_joiner_failing_mid_answer_withdraws_what_it_streamed() -> None:
    async def fail_late(text: str) -> None:
        if len(text) > 60:
            raise ConnectionError("connection reset")

    joiner = HookedChatModel(
        responses=["Thought: ok\nAction: Finish(Everest is the highest mountain, K2 is second.)"],
        on_text=fail_late,
    )
    planner = ScriptedChatModel(responses=['1. lookup("a")\n2. join()'])
    run = await run_chat(create_llm_compiler([lookup], planner=planner, joiner=joiner), "q")
    [withdrawn] = run.of("answer_withdrawn")
    assert withdrawn["text"]
    assert "Everest is the highest mountain, K2 is second.".startswith(withdrawn["text"])
    assert "the joiner model" in run.answer
    assert list(run.bubbles.values()) == [run.answer]


async def test_streamed_answer_never_shows_a_raw_reference_and_equals_the_resolved_one() -> None:
    answer = "Thought: the last result is the answer\nAction: Finish($3)"
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
