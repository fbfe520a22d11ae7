"""The output-token cap holds whatever the server honours: the engine stops reading a reply
once it is past `Context.max_output_tokens` and closes the stream."""

from __future__ import annotations

from langchain_core.tools import tool

from agent import Context, create_llm_compiler
from agent._output_cap import OutputCap
from tests.helpers import STREAMING, HookedChatModel, run_graph

CALLED: list[str] = []


@tool
async def lookup(query: str) -> str:
    """Look something up."""
    CALLED.append(query)
    return query


async def test_a_planner_that_ignores_the_cap_is_read_no_further_than_the_cap() -> None:
    seen: list[str] = []

    async def record(text: str) -> None:
        seen.append(text)

    runaway = '1. lookup("a")\n' + "Albert Einstein: " * 400 + '\n2. lookup("b")\n3. join()'
    planner = HookedChatModel(responses=[runaway], timing=STREAMING, on_text=record)
    joiner = HookedChatModel(responses=["Action: Finish(a)"], timing=STREAMING)
    graph = create_llm_compiler([lookup], planner=planner, joiner=joiner)
    run = await run_graph(graph, "go", context=Context(max_output_tokens=40))
    assert CALLED == ["a"]
    assert run.answer == "a"
    assert len(seen) <= 40  # chunks read: at most the cap, not the 800 that followed
    assert 'lookup("b")' not in seen[-1]
    assert run.output["rounds"][0]["plan_cut_off"] is True


def test_the_cap_counts_chunks_or_estimated_tokens_whichever_is_smaller() -> None:
    def chunks_until_reached(cap: OutputCap, piece: str) -> int:
        return next(n for n in range(1, 1000) if cap.reached(piece))

    # a model that streams one character per chunk: about 4 characters a token
    assert 36 <= chunks_until_reached(OutputCap(10), "x") <= 44
    # a server that streams one token (several characters) per chunk
    assert chunks_until_reached(OutputCap(10), " word") == 10
    assert not OutputCap(None).reached("x" * 10_000)


async def test_a_joiner_that_ignores_the_cap_is_read_no_further_than_the_cap() -> None:
    seen: list[str] = []

    async def record(text: str) -> None:
        seen.append(text)

    runaway = "Action: Finish(" + "Albert Einstein: " * 400 + ")"
    planner = HookedChatModel(responses=['1. lookup("a")\n2. join()'], timing=STREAMING)
    joiner = HookedChatModel(responses=[runaway], timing=STREAMING, on_text=record)
    graph = create_llm_compiler([lookup], planner=planner, joiner=joiner)
    run = await run_graph(graph, "go", context=Context(max_output_tokens=40))
    assert len(seen) <= 40
    assert run.answer.startswith("Albert Einstein:") and len(run.answer) < 400
    assert run.output["usage"]["calls"] == 2  # the cut joiner call is counted
