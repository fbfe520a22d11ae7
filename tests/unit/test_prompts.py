"""The prompts: their fixed parts stay byte-identical, so servers can reuse a prompt prefix."""

from __future__ import annotations

from langchain_core.tools import tool

from agent import Context, create_llm_compiler
from tests.helpers import STREAMING, HookedChatModel, run_graph


@tool
async def lookup(query: str) -> str:
    """Look something up."""
    return query


async def test_system_prompts_are_byte_identical_across_questions_and_rounds() -> None:
    """Servers reuse a prompt prefix only when it is byte-identical: what changes (the question,
    a replan's first index, whether the joiner may replan) sits in the last message."""
    plans = ['1. lookup("a")\n2. join()', '3. lookup("b")\n4. join()', '1. lookup("c")\n2. join()']
    answers = ["Action: Replan(need b)", "Action: Finish(ab)", "Action: Finish(c)"]
    planner = HookedChatModel(responses=plans, timing=STREAMING)
    joiner = HookedChatModel(responses=answers, timing=STREAMING)
    graph = create_llm_compiler([lookup], planner=planner, joiner=joiner)
    await run_graph(graph, "first question", context=Context(max_replans=1))
    await run_graph(graph, "second question", context=Context(max_replans=1))
    assert len(planner.calls) == len(joiner.calls) == 3
    assert len({calls[0].text for calls in planner.calls}) == 1
    assert len({calls[0].text for calls in joiner.calls}) == 1
    assert "Number new actions from 3" in planner.calls[1][-1].text
    assert "No more replanning is possible" in joiner.calls[1][-1].text
    assert "Replanning is allowed" in joiner.calls[0][-1].text


async def test_the_joiner_is_asked_for_a_thought_only_when_joiner_thought_is_on() -> None:
    """Off (the default), the reply format starts with the action, so the answer comes first;
    on, it is the paper's `Thought:` then `Action:`."""
    joiner = HookedChatModel(responses=["Action: Finish(a)"] * 2, timing=STREAMING)
    planner = HookedChatModel(responses=['1. lookup("a")\n2. join()'] * 2, timing=STREAMING)
    graph = create_llm_compiler([lookup], planner=planner, joiner=joiner)
    await run_graph(graph, "q")
    await run_graph(graph, "q", context=Context(joiner_thought=True))
    default, thinking = (calls[0].text for calls in joiner.calls)
    assert "Thought:" not in default
    assert "Reply in exactly this form:\nAction: Finish(<the answer>)" in default
    assert "Reply in exactly this form:\nThought: <one short sentence" in thinking
    assert "\nAction: Finish(<the answer>)" in thinking
