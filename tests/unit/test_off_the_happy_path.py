"""Regressions off the happy path: runs that used to crash, hang, hand a result to the wrong
call, run a call twice, or show the user the wrong words. Each test names the behaviour it pins.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command, interrupt

from agent import Context, create_llm_compiler
from agent._joiner import parse_joiner_output
from agent._joiner_reply import is_call_line
from llmcompiler_scripted import ScriptedChatModel
from tests.helpers import STREAMING, run_graph, scripted_graph

FINISH = "Thought: done\nAction: Finish(ok)"


@tool
async def echo(text: str) -> str:
    """Return `text`."""
    return text


@tool
async def big(digits: int) -> int:
    """A number with `digits` digits."""
    return 10 ** (digits - 1) + 7


@tool
def halve(value: int) -> int:
    """Half of `value` (integer division)."""
    return value // 2


@tool
async def pair(a: int, b: int) -> tuple[int, int]:
    """`a` and `b` as a tuple."""
    return (a, b)


@tool
async def count_items(items: Any) -> str:
    """The type and length of `items`."""
    return f"{type(items).__name__}:{len(items)}"


# -- 1. replan after an unknown tool --------------------------------------------------------
async def test_replan_after_a_plan_that_called_an_unknown_tool_runs_round_two() -> None:
    graph, *_ = scripted_graph(
        [echo],
        ['1. serch("x")\n2. join()', '3. echo("found")\n4. join()'],
        ["Thought: the tool name was wrong\nAction: Replan(use echo)", FINISH],
    )
    run = await run_graph(graph, "go", context=Context(max_replans=1))
    assert run.tasks[1]["status"] == "error" and "serch" in run.tasks[1]["error"]
    assert run.tasks[3]["status"] == "done" and run.tasks[3]["result"] == "found"
    assert run.answer == "ok"


# -- 2. big integers and tuples through a checkpointer --------------------------------------
async def test_integers_beyond_64_bits_survive_a_checkpointer() -> None:
    graph, *_ = scripted_graph(
        [big, halve],
        ['1. big(30)\n2. halve(123456789012345678901234567890)\n3. halve("$1")\n4. join()'],
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": "big"}}
    run = await run_graph(graph, "go", config=config)
    assert [run.tasks[i]["status"] for i in (1, 2, 3)] == ["done"] * 3
    assert int(run.tasks[1]["result"]) == 10**29 + 7
    assert int(run.tasks[2]["result"]) == 123456789012345678901234567890 // 2
    assert int(run.tasks[3]["result"]) == (10**29 + 7) // 2
    saved = (await graph.aget_state(config)).values["tasks"]
    assert [t["result"] for t in saved] == [t["result"] for t in run.output["tasks"]]


async def test_tuple_results_are_stored_as_lists_whether_or_not_a_run_resumes() -> None:
    plan = '1. pair(1, 2)\n2. count_items("$1")\n3. join()'
    plain, *_ = scripted_graph([pair, count_items], [plan])
    stored, *_ = scripted_graph([pair, count_items], [plan], checkpointer=InMemorySaver())
    first = await run_graph(plain, "go")
    second = await run_graph(stored, "go", config={"configurable": {"thread_id": "tuple"}})
    assert first.tasks[1]["result"] == second.tasks[1]["result"] == [1, 2]
    assert first.tasks[2]["result"] == second.tasks[2]["result"] == "list:2"


# -- 3. a sync tool that overruns its timeout -----------------------------------------------
async def test_sync_tool_past_its_timeout_does_not_block_later_sync_tools() -> None:
    release = threading.Event()

    @tool
    def stall(seconds: float) -> str:
        """Block a thread for up to `seconds`."""
        release.wait(seconds)
        return "late"

    @tool
    def quick(n: int) -> int:
        """Return `n`."""
        return n

    graph, *_ = scripted_graph([stall, quick], ["1. stall(3)\n2. quick(1)\n3. quick(2)\n4. join()"])
    try:
        run = await run_graph(graph, "go", context=Context(max_concurrency=1, tool_timeout_s=0.3))
    finally:
        release.set()
    assert "timed out" in run.tasks[1]["error"]
    assert [run.tasks[i]["result"] for i in (2, 3)] == [1, 2]


# -- 4. a failing store ---------------------------------------------------------------------
class BrokenStore(InMemoryStore):
    async def aget(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("store unreachable")

    async def aput(self, *args: Any, **kwargs: Any) -> None:
        raise ConnectionError("store unreachable")


async def test_a_failing_store_is_a_cache_miss_and_the_run_goes_on() -> None:
    @tool(extras={})
    async def lookup(key: str) -> str:
        """Look `key` up."""
        return f"<{key}>"

    lookup.metadata = {"cache_ttl_s": 60}
    graph, *_ = scripted_graph(
        [lookup, echo], ['1. lookup("a")\n2. echo("b")\n3. join()'], store=BrokenStore()
    )
    run = await run_graph(graph, "go")
    assert run.tasks[1]["result"] == "<a>" and run.tasks[2]["result"] == "b"
    assert run.answer == "ok"


# -- 5. two concurrent resumes of one thread ------------------------------------------------
async def test_two_concurrent_resumes_of_one_thread_both_finish() -> None:
    planner = ScriptedChatModel(responses=['1. echo("a")\n2. join()'], timing=STREAMING)
    joiner = ScriptedChatModel(responses=[FINISH, FINISH], timing=STREAMING)
    graph = create_llm_compiler(
        [echo], planner=planner, joiner=joiner, checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "twice"}}
    ctx = Context(approve_plan=True)
    await run_graph(graph, "go", context=ctx, config=config)  # paused for approval
    both = asyncio.gather(
        run_graph(graph, Command(resume="approve"), context=ctx, config=config),
        run_graph(graph, Command(resume="approve"), context=ctx, config=config),
    )
    first, second = await asyncio.wait_for(both, timeout=20)
    assert first.answer == second.answer == "ok"


# -- 6. resuming with a tool removed --------------------------------------------------------
async def test_resume_with_a_tool_removed_keeps_recorded_results_with_their_tasks() -> None:
    @tool
    async def retired(text: str) -> str:
        """A tool that will be removed before the resume."""
        return f"retired:{text}"

    @tool
    async def confirm(text: str) -> str:
        """Ask a person to confirm `text` (pauses the run)."""
        return f"{text}:{interrupt(text)}"

    plan = '1. retired("a")\n2. echo("b")\n3. confirm("$2")\n4. join()'
    saver = InMemorySaver()
    planner = ScriptedChatModel(responses=[plan], timing=STREAMING)
    joiner = ScriptedChatModel(responses=[FINISH], timing=STREAMING)
    before = create_llm_compiler(
        [retired, echo, confirm], planner=planner, joiner=joiner, checkpointer=saver
    )
    config = {"configurable": {"thread_id": "removed"}}
    await run_graph(before, "go", config=config)  # paused inside confirm
    after = create_llm_compiler([echo, confirm], planner=planner, joiner=joiner, checkpointer=saver)
    run = await run_graph(after, Command(resume="yes"), config=config)
    assert run.tasks[1]["result"] == "retired:a"  # recorded before the tool was removed
    assert run.tasks[2]["result"] == "b"
    assert run.tasks[3]["result"] == "b:yes"


# -- 7. interrupt() in one tool while a sibling runs ----------------------------------------
async def test_interrupt_in_one_tool_lets_running_siblings_finish_once() -> None:
    starts: list[str] = []

    @tool
    async def side_effect(name: str) -> str:
        """Start a side effect that takes a moment to finish."""
        starts.append(name)
        await asyncio.sleep(0.3)
        return f"did {name}"

    @tool
    async def ask_human(question: str) -> str:
        """Ask a person."""
        await asyncio.sleep(0.05)
        return str(interrupt(question))

    graph, *_ = scripted_graph(
        [side_effect, ask_human],
        ['1. ask_human("ok?")\n2. side_effect("write")\n3. join()'],
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": "interrupt"}}
    await run_graph(graph, "go", config=config)
    run = await run_graph(graph, Command(resume="yes"), config=config)
    assert starts == ["write"]
    assert run.tasks[1]["result"] == "yes" and run.tasks[2]["result"] == "did write"


# -- 8. an edited plan decides its own final answer -----------------------------------------
async def test_edited_plan_is_answered_by_its_own_join_final() -> None:
    graph, *_ = scripted_graph(
        [echo],
        ['1. echo("planned")\n2. join(final="$1")'],
        ["Thought: should not be needed\nAction: Finish(from the joiner)"],
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": "edit"}}
    ctx = Context(approve_plan=True)
    await run_graph(graph, "go", context=ctx, config=config)
    edit = {"action": "edit", "plan": '1. echo("edited")\n2. echo("second")\n3. join(final="$2")'}
    run = await run_graph(graph, Command(resume=edit), context=ctx, config=config)
    assert run.answer == "second"


async def test_edited_plan_without_final_goes_to_the_joiner() -> None:
    graph, *_ = scripted_graph(
        [echo],
        ['1. echo("planned")\n2. join(final="$1")'],
        ["Thought: read it\nAction: Finish(from the joiner)"],
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": "edit-no-final"}}
    ctx = Context(approve_plan=True)
    await run_graph(graph, "go", context=ctx, config=config)
    edit = {"action": "edit", "plan": '1. echo("edited")\n2. join()'}
    run = await run_graph(graph, Command(resume=edit), context=ctx, config=config)
    assert run.answer == "from the joiner"


# -- 9. tools passed as a mapping -----------------------------------------------------------
async def test_mapping_keys_name_tools_in_the_prompt_the_cache_and_deduplication() -> None:
    def make(label: str) -> BaseTool:
        @tool
        async def value(key: str) -> str:
            """Return a labelled value."""
            return f"{label}:{key}"

        value.metadata = {"pure": True, "cache_ttl_s": 60}
        return value

    tools = {"left": make("L"), "right": make("R")}  # both tools are named "value"
    graph, planner, _ = scripted_graph(
        tools, ['1. left("k")\n2. right("k")\n3. join()'], store=InMemoryStore()
    )
    run = await run_graph(graph, "go")
    prompt = planner.calls[0][0].text
    assert "left(key: str)" in prompt and "right(key: str)" in prompt
    assert "value(" not in prompt
    assert run.tasks[1]["result"] == "L:k" and run.tasks[2]["result"] == "R:k"
    second = await run_graph(scripted_graph(tools, ['1. right("k")\n2. join()'])[0], "go")
    assert second.tasks[1]["result"] == "R:k"


# -- 10. the streamed answer is the answer --------------------------------------------------
async def test_streamed_answer_matches_the_final_answer_when_a_reply_holds_two_actions() -> None:
    reply = "Thought: unsure\nAction: Finish(maybe 4)\nThought: no\nAction: Replan(check again)"
    graph, *_ = scripted_graph([echo], ['1. echo("x")\n2. join()'], [reply])
    streamed = ""
    final: dict[str, Any] = {}
    async for mode, data in graph.astream(
        {"messages": [("user", "go")]}, stream_mode=["messages", "values"], context=Context()
    ):
        if mode == "messages":
            streamed += data[0].text
        else:
            final = data
    assert streamed == final["messages"][-1].content


# -- 11. a tool's own TimeoutError ----------------------------------------------------------
async def test_a_tools_own_timeout_error_keeps_its_message() -> None:
    @tool
    async def connect(host: str) -> str:
        """Connect to `host`."""
        raise TimeoutError(f"connect to {host} timed out after 2s")

    graph, *_ = scripted_graph([connect], ['1. connect("db")\n2. join()'])
    run = await run_graph(graph, "go", context=Context(tool_timeout_s=60))
    assert run.tasks[1]["error"] == "TimeoutError: connect to db timed out after 2s"


# -- the joiner's reply shapes ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "action", "answer"),
    [
        ("Thought: x\nAction: Finish(42)\n\nHope this helps (really).", "finish", "42"),
        ("Action: Finish(f(x) = 2\nso 4)\n\nNote (aside).", "finish", "f(x) = 2\nso 4"),
        ("Thought: need more\nAction: Replan", "replan", ""),
        (
            "Thought: need more\nAction: Replan: search the other one",
            "replan",
            "search the other one",
        ),
    ],
)
def test_joiner_reply_shapes_parse_without_scaffolding(
    reply: str, action: str, answer: str
) -> None:
    decision = parse_joiner_output(reply)
    assert (decision.action, decision.content) == (action, answer)


async def test_an_empty_finish_gives_an_answer_with_what_was_found() -> None:
    graph, *_ = scripted_graph([echo], ['1. echo("the value")\n2. join()'], ["Action: Finish()"])
    run = await run_graph(graph, "go")
    assert "the value" in run.answer


class Abort(BaseException):
    """A control-flow signal a tool raises on purpose."""


async def test_a_custom_base_exception_from_a_tool_surfaces_with_its_own_type() -> None:
    @tool
    async def abort(reason: str) -> str:
        """Stop everything."""
        raise Abort(reason)

    graph, *_ = scripted_graph([abort], ['1. abort("stop")\n2. join()'])
    with pytest.raises(Abort):
        await run_graph(graph, "go")


# -- real-model shapes: the plan ends at join() ---------------------------------------------
class CountingModel(ScriptedChatModel):
    """Counts the chunks the engine actually read, and whether it closed the stream early."""

    chunks_read: int = 0
    closed_early: bool = False

    async def _astream(self, *args: Any, **kwargs: Any) -> Any:
        finished = False
        try:
            async for chunk in super()._astream(*args, **kwargs):
                self.chunks_read += 1
                yield chunk
            finished = True
        finally:
            self.closed_early = not finished


async def test_planner_stops_reading_at_join_and_closes_the_model_stream() -> None:
    commentary = " ".join(["This plan searches both and then joins the results."] * 40)
    planner = CountingModel(
        responses=[f'1. echo("a")\n2. join()\n\n{commentary}'], timing=STREAMING
    )
    joiner = ScriptedChatModel(responses=[FINISH], timing=STREAMING)
    graph = create_llm_compiler([echo], planner=planner, joiner=joiner)
    run = await run_graph(graph, "go")
    assert run.answer == "ok"
    assert planner.closed_early
    assert planner.chunks_read < 20  # the commentary is hundreds of chunks long


async def test_joiner_stops_reading_once_its_finish_line_closes_and_closes_the_stream() -> None:
    """What a model writes after a closed `Finish(...)` line is never read, so never waited for
    (here it even holds a second action, which the first one overrules anyway)."""
    commentary = " ".join(["I answered from the two results, which agree."] * 40)
    answer = "Yes (both (a) and (b)):\n- one\n\n- two (2)"
    joiner = CountingModel(
        responses=[f"Action: Finish({answer})\nAction: Replan(more)\n{commentary}"],
        timing=STREAMING,
    )
    planner = ScriptedChatModel(responses=['1. echo("a")\n2. join()'], timing=STREAMING)
    graph = create_llm_compiler([echo], planner=planner, joiner=joiner)
    run = await run_graph(graph, "go")
    assert run.answer == answer
    assert joiner.closed_early
    assert joiner.chunks_read < 60  # the commentary is hundreds of chunks long
    assert run.output["usage"]["calls"] == 2  # the closed call still counts


async def test_joiner_reads_past_a_closing_parenthesis_with_text_after_it_on_its_line() -> None:
    """A `)` followed by more text on its line may be the answer's own (a smiley): reading goes
    on to the `)` that ends a line, so nothing of the answer is cut."""
    answer = "Done :) and more\nsee the list 1) here"
    joiner = CountingModel(responses=[f"Action: Finish({answer})\nThanks."], timing=STREAMING)
    planner = ScriptedChatModel(responses=['1. echo("a")\n2. join()'], timing=STREAMING)
    graph = create_llm_compiler([echo], planner=planner, joiner=joiner)
    run = await run_graph(graph, "go")
    assert run.answer == answer


async def test_a_replan_line_ends_the_joiners_reading_too() -> None:
    joiner = CountingModel(
        responses=[
            "Action: Replan(the search failed)\n" + "More thoughts on the plan. " * 60,
            "Action: Finish(b)",
        ],
        timing=STREAMING,
    )
    planner = ScriptedChatModel(
        responses=['1. echo("a")\n2. join()', '3. echo("b")\n4. join()'], timing=STREAMING
    )
    graph = create_llm_compiler([echo], planner=planner, joiner=joiner)
    run = await run_graph(graph, "go")
    assert run.answer == "b"
    assert run.output["rounds"][0]["replan_reason"] == "the search failed"
    assert joiner.chunks_read < 60


@pytest.mark.parametrize(
    ("line", "is_call"),
    [
        ('1. search("Mount Everest")', True),
        ("search(query='K2 height')", True),
        ('**2.** `math("a", context=["$1"])`', True),
        ("search(Mount Everest)", True),
        ("2. join()", True),
        ("search(a) + search(b)", False),
        ("cos(x)", False),
        ("print(sum(values))", False),
        ("1. print(sum(values))", False),
        ("f(x) = (a, b)", False),
        ("Mount Everest (8,849 m)", False),
    ],
)
def test_call_lines_are_told_apart_from_answers_with_parentheses(line: str, is_call: bool) -> None:
    assert is_call_line(line, {"search", "math"}) is is_call
