"""Safe plans: a tool call runs only when the model wrote it whole and meant it.

Every tool here is a side effect (it records what it was asked to do), so each test checks
exactly which calls ran, with which arguments: a line inside a string, a commented-out step,
a call cut off by the token cap or a call with a condition after it never runs, and nothing
of what the model wrote is dropped in silence (the joiner sees it).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agent import Context, create_llm_compiler
from agent.plan import CUT_OFF, MAX_TASK_INDEX, PlanParser, parse_plan, read_plan
from llmcompiler_scripted import ScriptedChatModel
from tests.helpers import STREAMING, run_graph, scripted_graph

SENT: list[tuple[str, str]] = []


@tool
async def send_email(to: str, body: str = "") -> str:
    """Send an email (a side effect)."""
    SENT.append((to, body))
    return f"sent to {to}"


@tool
async def send_alert(message: str) -> str:
    """Page the on-call engineer (a side effect)."""
    SENT.append(("alert", message))
    return "paged"


@tool
async def sales(region: str) -> str:
    """Read the sales figures of a region."""
    return f"{region}: down 12%"


TOOLS = [send_email, send_alert, sales]


@pytest.fixture(autouse=True)
def _clear() -> None:
    SENT.clear()


def _joiner_prompt(joiner: ScriptedChatModel) -> str:
    return str(joiner.calls[0][-1].content)


async def test_a_numbered_line_inside_a_multiline_string_is_part_of_the_string() -> None:
    body = 'Hi,\n2. send_email("boss@example.com", "I quit")\njoin()\n<END_OF_PLAN>\nBye'
    plan = f'1. send_email("team@example.com", """{body}""")\n2. sales("north")\n3. join()'
    graph, *_ = scripted_graph(TOOLS, [plan])
    run = await run_graph(graph, "write to the team, then read the sales")
    assert [("team@example.com", body)] == SENT  # whole, and nothing else was sent
    assert [(t["idx"], t["tool"], t["status"]) for t in run.output["tasks"]] == [
        (1, "send_email", "done"),
        (2, "sales", "done"),  # the `join()` inside the string did not end the plan
    ]


async def test_a_quoted_string_with_a_raw_newline_keeps_its_inner_lines() -> None:
    plan = '1. send_email("a@example.com", \'line one\n2. send_alert("fire")\nend\')\n3. join()'
    graph, *_ = scripted_graph(TOOLS, [plan])
    run = await run_graph(graph, "go")
    assert SENT == [("a@example.com", 'line one\n2. send_alert("fire")\nend')]
    assert [t["idx"] for t in run.output["tasks"]] == [1]


@pytest.mark.parametrize(
    "commented",
    [
        '# 2. send_email("all@example.com", "launch!")  -- not needed',
        '## 2. send_email("all@example.com", "launch!")',
        '// 2. send_email("all@example.com", "launch!")',
        '-- 2. send_email("all@example.com", "launch!")',
        '~~2. send_email("all@example.com", "launch!")~~',
        '<!-- 2. send_email("all@example.com", "launch!") -->',
    ],
)
async def test_a_commented_out_step_never_runs_and_the_joiner_sees_it(commented: str) -> None:
    plan = f'1. sales("north")\n{commented}\n3. join()'
    graph, _, joiner = scripted_graph(TOOLS, [plan])
    run = await run_graph(graph, "sales?")
    assert SENT == []
    assert [t["tool"] for t in run.output["tasks"]] == ["sales"]
    assert commented.strip() in _joiner_prompt(joiner)
    assert [e["text"] for e in run.of("plan_note")] == [commented.strip()]


async def test_a_call_cut_off_by_the_token_cap_is_a_task_error_and_never_runs() -> None:
    """The cap ends the stream inside the string argument (finish reason `length`): the call
    is not closed for the model and run with half its text."""
    plan = (
        '1. sales("north")\n'
        '2. send_email("customers@example.com", "The launch is postponed. Do NOT tell customers '
        'about the new price yet.")\n3. join()'
    )
    planner = ScriptedChatModel(responses=[plan], timing=STREAMING, max_tokens=30)
    joiner = ScriptedChatModel(responses=["Action: Finish(ok)"], timing=STREAMING)
    graph = create_llm_compiler(TOOLS, planner=planner, joiner=joiner)
    run = await run_graph(graph, "go")
    assert SENT == []
    (email,) = [t for t in run.output["tasks"] if t["tool"] == "send_email"]
    assert email["status"] == "error" and email["error"].startswith(CUT_OFF)
    assert CUT_OFF in _joiner_prompt(joiner)


def test_a_whole_call_on_the_last_line_is_not_run_when_the_cap_cut_what_followed() -> None:
    """`send_alert("x")` and then the cap: the line may have gone on (`only if ...`)."""
    plan = '1. sales("north")\n2. send_alert("sales are down") only if $1 shows a decline'
    cut = plan.index(" only if")
    capped, _ = read_plan(plan[:cut], TOOLS, cut_off=True)
    assert capped[1].error is not None and capped[1].error.startswith(CUT_OFF)
    finished, _ = read_plan(plan[:cut], TOOLS)  # the model ended there itself: it was whole
    assert finished[1].error is None


async def test_text_after_a_call_makes_the_line_a_note_that_the_joiner_sees() -> None:
    plan = (
        '1. sales("north")\n'
        '2. send_alert("sales are down") only if $1 shows a decline\n'
        '3. send_email("a@example.com", "hi") 4. send_email("b@example.com", "hi")\n'
        '5. send_email("c@example.com", "hi")  # a comment is fine\n'
        "6. join()"
    )
    graph, _, joiner = scripted_graph(TOOLS, [plan])
    run = await run_graph(graph, "go")
    assert SENT == [("c@example.com", "hi")]
    assert [t["idx"] for t in run.output["tasks"]] == [1, 5]
    notes = [e["text"] for e in run.of("plan_note")]
    assert notes == [
        '2. send_alert("sales are down") only if $1 shows a decline',
        '3. send_email("a@example.com", "hi") 4. send_email("b@example.com", "hi")',
    ]
    prompt = _joiner_prompt(joiner)
    assert all(note in prompt for note in notes)


@pytest.mark.parametrize(
    "second_input",
    [
        {"messages": [("ai", "Reminder: charge again.")]},
        {"messages": []},
    ],
    ids=["appended AI message", "empty input"],
)
async def test_a_turn_without_a_new_human_message_gets_idempotency_keys_of_its_own(
    second_input: dict[str, Any],
) -> None:
    keys: list[str] = []

    @tool
    async def charge(cents: int, config: RunnableConfig) -> str:
        """Charge the card (a side effect)."""
        keys.append(config["metadata"]["idempotency_key"])
        return "charged"

    plan = "1. charge(500)\n2. join()"
    graph, *_ = scripted_graph(
        [charge], [plan, plan, plan], ["Action: Finish(1)"] * 3, checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "turns"}}
    await run_graph(graph, "charge 5 dollars", config=config)
    await graph.ainvoke(second_input, config, context=Context())
    await graph.ainvoke(second_input, config, context=Context())
    assert len(keys) == len(set(keys)) == 3


@pytest.mark.parametrize("idx", [str(2**64), "9" * 4400, str(MAX_TASK_INDEX + 1)])
async def test_an_index_beyond_any_plan_is_a_note_not_a_crash(idx: str) -> None:
    plan = f'1. sales("north")\n{idx}. send_alert("x")\njoin()'
    graph, *_ = scripted_graph(
        TOOLS, [plan, plan], ["Action: Finish(ok)"] * 2, checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "index"}}
    run = await run_graph(graph, "go", config=config)
    assert SENT == []
    assert [t["idx"] for t in run.output["tasks"]] == [1]
    assert run.answer == "ok" and not run.output.get("error")
    assert [e["text"] for e in run.of("plan_note")] == [f'{idx}. send_alert("x")']
    state = (await graph.aget_state(config)).values
    assert state["rounds"][0]["join_idx"] == 2
    run = await run_graph(graph, "again", config=config)  # the thread goes on
    assert run.answer == "ok"


async def test_an_edited_plan_with_an_index_beyond_any_plan_runs_nothing_of_that_line() -> None:
    graph, _, _ = scripted_graph(
        TOOLS,
        ['1. sales("north")\n2. join()'],
        ["Action: Finish(ok)"],
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": "edit"}}
    approve = Context(approve_plan=True)
    await run_graph(graph, "go", context=approve, config=config)
    edited = f'1. sales("south")\n{"9" * 5000}. send_alert("x")\n3. join()'
    run = await run_graph(
        graph, Command(resume={"action": "edit", "plan": edited}), context=approve, config=config
    )
    assert SENT == []
    assert [(t["idx"], t["status"]) for t in run.output["tasks"]] == [(1, "done")]


@pytest.mark.parametrize("depth", [500, 5000])
async def test_a_result_nested_beyond_the_stored_depth_is_cut_not_a_crash(depth: int) -> None:
    @tool
    async def deep() -> Any:
        """Return a deeply nested structure."""
        value: Any = "bottom"
        for _ in range(depth):
            value = [value]
        return value

    graph, *_ = scripted_graph([deep], ["1. deep()\n2. join()"], checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "deep"}}
    run = await run_graph(graph, "go", config=config)
    (record,) = run.output["tasks"]
    assert record["status"] == "done"
    text = str(record["result"])
    assert "nested deeper than" in text
    saved = (await graph.aget_state(config)).values["tasks"][0]
    assert saved["result"] == record["result"]


# -- the property: what runs is exactly what was written whole -------------------------------

STRING_PIECES = [
    "\n",
    "text",
    " ",
    "2. send_email('x@example.com')",
    "3) send_alert('fire')",
    "Step 4: send_alert('y')",
    "join()",
    "<END_OF_PLAN>",
    "# 5. send_alert('z')",
    "Thought: hm",
    "'",
    "(",
    ")",
    "[",
    "costs $5.50",
    "```",
]


@st.composite
def _string_literal(draw: st.DrawFn) -> tuple[str, str]:
    """A string argument (with newlines, numbered call lines, `join()` ...): its source and
    the value the tool must receive."""
    value = "".join(draw(st.lists(st.sampled_from(STRING_PIECES), max_size=8)))
    if draw(st.booleans()) or value.endswith('"'):
        return f'"{value}"', value  # a raw newline in a one-line literal reads as `\n`
    return f'"""{value}"""', value


@st.composite
def _plan_with_intent(draw: st.DrawFn) -> tuple[str, list[tuple[int, str, int]]]:
    """A plan text and the calls meant to run: (index, argument, offset where the call's
    line ends). Lines are whole calls (maybe with a comment), commented-out calls, calls with
    text after them, two calls on a line, prose and thoughts."""
    lines: list[str] = []
    meant: list[tuple[int, str]] = []
    idx = 0
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["whole", "comment", "commented", "trailing", "two", "prose"]))
        idx += 1
        source, value = draw(_string_literal())
        call = f"{idx}. send_alert({source})"
        if kind == "whole":
            lines.append(call)
            meant.append((idx, value))
        elif kind == "comment":
            lines.append(f"{call}  # why: {draw(st.sampled_from(['x', '2. send_alert(1)']))}")
            meant.append((idx, value))
        elif kind == "commented":  # one-line literals: a comment has no strings
            lines.append(f"{draw(st.sampled_from(['#', '//', '--', '##']))} {idx}. send_alert('c')")
        elif kind == "trailing":
            lines.append(f"{call} only if ${max(idx - 1, 1)} shows a decline")
        elif kind == "two":
            lines.append(f"{call} {idx + 1}. send_alert('second')")
            idx += 1
        else:
            lines.append(draw(st.sampled_from(["Thought: next step", "Some prose.", "```"])))
    text = ""
    ends: dict[int, int] = {}
    for line, number in zip(lines, range(len(lines)), strict=True):
        text += line + "\n"
        ends[number] = len(text)
    meant_with_end = []
    line_of_idx = {}
    for number, line in enumerate(lines):
        for i, _ in meant:
            if line.startswith(f"{i}. "):
                line_of_idx[i] = number
    for i, value in meant:
        meant_with_end.append((i, value, ends[line_of_idx[i]]))
    return text + "join()\n", meant_with_end


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_plan_with_intent(), st.data())
def test_every_call_that_would_run_was_written_whole_and_meant(
    planned: tuple[str, list[tuple[int, str, int]]], data: st.DataObject
) -> None:
    text, meant = planned
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(text))), label="cut")
    seen = text if cut is None else text[:cut]
    chunks = data.draw(st.lists(st.integers(0, len(seen)), max_size=10), label="chunks")
    parser = PlanParser(TOOLS)
    tasks = []
    start = 0
    for point in [*sorted(set(chunks)), len(seen)]:
        tasks += parser.feed(seen[start:point])
        start = point
    tasks += parser.close(cut_off=cut is not None)
    assert tasks == parse_plan(seen, TOOLS, cut_off=cut is not None)
    would_run = [(t.idx, t.args["message"]) for t in tasks if not t.is_join and t.error is None]
    expected = [(i, value) for i, value, end in meant if end <= len(seen)]
    assert would_run == expected
