"""Bad input is refused before any model call, and a failed run's `error` names its true cause
(docs/reliability.md, "Bad input → what you get"); a refused run leaves the scripted models'
call lists empty. The model server cases (hung, refusing for context length) are in
tests/integration/test_model_server_failures.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from langchain_core.tools import tool

from agent import Context, InvalidInputError, create_llm_compiler
from llmcompiler_cli.main import hint_for
from llmcompiler_scripted import ScriptedChatModel
from tests.helpers import HookedChatModel, run_graph, scripted_graph, search

FINISH = "Thought: done\nAction: Finish(ok)"
PLAN = '1. search("a")\n2. join()'


# -- Context fields: wrong type or out of range ---------------------------------------------
BAD_VALUES = [
    ("planner_model", "", "a non-empty 'provider:model' string"),
    ("joiner_model", 3, "a 'provider:model' string, or empty"),
    ("base_url", "localhost:8080", "an http:// or https:// URL, or empty"),
    ("temperature", 5, "a number >= 0 and <= 2"),
    ("max_output_tokens", 0, "an integer >= 1, or null"),
    ("max_replans", -1, "an integer >= 0"),
    ("max_concurrency", 0, "an integer >= 1"),
    ("max_concurrency", -3, "an integer >= 1"),
    ("max_concurrency", "abc", "an integer >= 1"),
    ("max_concurrency", True, "an integer >= 1"),
    ("tool_timeout_s", 0, "a number > 0"),
    ("tool_timeout_s", -5, "a number > 0"),
    ("tool_timeout_s", float("nan"), "a number > 0"),
    ("default_placement", "gpu", "one of 'thread', 'process', 'ray'"),
    ("max_tasks_per_plan", 0, "an integer >= 1"),
    ("result_preview_chars", 0, "an integer >= 100"),
    ("streaming_dispatch", "false", "true or false"),
    ("approve_plan", 1, "true or false"),
    ("price_per_m_input", -1.0, "a number >= 0, or null"),
    ("llm_retries", -1, "an integer >= 0"),
    ("model_timeout_s", 0, "a number > 0"),
    ("max_question_chars", 0, "an integer >= 1"),
]


def _message(name: str, value: Any, allowed: str) -> str:
    return f"Context.{name}={value!r} is not allowed: it must be {allowed}"


@pytest.mark.parametrize(("name", "value", "allowed"), BAD_VALUES)
def test_a_context_with_a_bad_value_cannot_be_built_and_the_error_names_field_value_and_rule(
    name: str, value: Any, allowed: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        Context(**{name: value})
    assert _message(name, value, allowed) in str(refused.value)


@pytest.mark.parametrize(("name", "value", "allowed"), BAD_VALUES)
async def test_a_context_dict_with_a_bad_value_fails_the_run_before_any_model_call(
    name: str, value: Any, allowed: str
) -> None:
    graph, planner, joiner = scripted_graph([search], [PLAN], [FINISH])
    with pytest.raises(InvalidInputError) as refused:
        await graph.ainvoke({"messages": [("user", "q")]}, context={name: value})
    assert _message(name, value, allowed) in str(refused.value)
    assert planner.calls == [] and joiner.calls == []


async def test_a_context_changed_after_it_was_built_is_refused_by_the_run() -> None:
    graph, planner, joiner = scripted_graph([search], [PLAN], [FINISH])
    context = Context()
    context.max_concurrency = 0
    with pytest.raises(InvalidInputError, match=r"Context\.max_concurrency=0 is not allowed"):
        await run_graph(graph, "q", context=context)
    assert planner.calls == [] and joiner.calls == []


def test_every_bad_field_is_named_in_one_error() -> None:
    with pytest.raises(InvalidInputError) as refused:
        Context(max_tasks_per_plan=0, result_preview_chars=0)
    assert "max_tasks_per_plan=0" in str(refused.value)
    assert "result_preview_chars=0" in str(refused.value)


async def test_an_unknown_context_field_is_refused_naming_the_closest_real_one() -> None:
    graph, planner, _ = scripted_graph([search], [PLAN], [FINISH])
    with pytest.raises(InvalidInputError) as refused:
        await graph.ainvoke({"messages": [("user", "q")]}, context={"max_concurency": 4})
    assert "Context has no field 'max_concurency' (did you mean 'max_concurrency'?)" in str(
        refused.value
    )
    assert planner.calls == []
    with pytest.raises(InvalidInputError, match="no field 'colour'"):
        Context(colour="blue")  # type: ignore[call-arg]


def test_a_good_context_still_copies_and_replaces() -> None:
    context = Context(max_concurrency=4, tool_timeout_s=5)
    assert dataclasses.replace(context, max_replans=0).max_concurrency == 4
    with pytest.raises(InvalidInputError, match="max_replans=-2"):
        dataclasses.replace(context, max_replans=-2)


# -- the question ---------------------------------------------------------------------------
@pytest.mark.parametrize("question", ["", "   ", "\n\t "])
async def test_an_empty_or_blank_question_is_refused_before_any_model_call(question: str) -> None:
    graph, planner, joiner = scripted_graph([search], [PLAN], [FINISH])
    with pytest.raises(InvalidInputError, match="the question is empty"):
        await run_graph(graph, question)
    assert planner.calls == [] and joiner.calls == []


async def test_a_question_over_the_limit_is_refused_and_the_limit_is_a_context_knob() -> None:
    graph, planner, _ = scripted_graph([search], [PLAN], [FINISH])
    question = "x" * 101
    with pytest.raises(InvalidInputError) as refused:
        await run_graph(graph, question, context=Context(max_question_chars=100))
    assert "101 characters long, over the limit of 100 (Context.max_question_chars)" in str(
        refused.value
    )
    assert planner.calls == []
    run = await run_graph(graph, question, context=Context(max_question_chars=101))
    assert run.answer == "ok" and len(planner.calls) == 1


def test_the_default_question_limit_refuses_a_hundred_thousand_characters() -> None:
    assert Context().max_question_chars < 100_000


# -- the true cause of a failed run -------------------------------------------------------------
def _tools(failing: set[str]) -> list[Any]:
    @tool
    async def fetch(name: str) -> str:
        """Fetch `name`."""
        if name in failing:
            raise ConnectionError(f"{name} is down")
        return name.upper()

    return [fetch]


async def test_calls_that_all_failed_are_named_as_such_not_as_an_unreadable_plan() -> None:
    graph, _, _ = scripted_graph(
        _tools({"a", "b"}), ['1. fetch("a")\n2. fetch("b")\n3. join()'], [FINISH]
    )
    run = await run_graph(graph, "q", context=Context(max_replans=0))
    error = run.output["error"]
    assert error == "every call failed: first $1 fetch: ConnectionError: a is down"
    assert "stronger model" not in hint_for(error, Context())


async def test_a_plan_none_of_whose_lines_can_run_is_named_unreadable() -> None:
    graph, _, _ = scripted_graph(_tools(set()), ['1. nope("a")\n2. join()'], [FINISH])
    run = await run_graph(graph, "q", context=Context(max_replans=0))
    assert run.output["error"].startswith("plan unreadable: $1 nope:")
    assert "stronger model" in hint_for(run.output["error"], Context())


async def test_across_replans_the_first_rounds_cause_is_kept_beside_the_last() -> None:
    replan = "Thought: a failed\nAction: Replan(try again)"
    graph, _, _ = scripted_graph(
        _tools({"a"}), ['1. fetch("a")\n2. join()', "no plan at all"], [replan, FINISH]
    )
    run = await run_graph(graph, "q", context=Context(max_replans=1))
    error = run.output["error"]
    assert error.startswith("plan unreadable: no task in it, only text ('no plan at all')")
    first = "every call failed: first $1 fetch: ConnectionError: a is down"
    assert error.endswith(f"; round 1: {first}")


async def test_replans_exhausted_is_named_with_the_last_rounds_failure() -> None:
    replan = "Thought: a failed\nAction: Replan(try again)"
    graph, _, _ = scripted_graph(_tools({"a"}), ['1. fetch("a")\n2. join()'], [replan])
    run = await run_graph(graph, "q", context=Context(max_replans=0))
    error = run.output["error"]
    assert error == (
        "replans exhausted (max_replans=0): still missing: try again; "
        "last round: every call failed: first $1 fetch: ConnectionError: a is down"
    )
    assert "stronger model" not in hint_for(error, Context())  # the tools failed


async def test_a_planner_stream_that_breaks_after_its_first_tokens_is_counted_once() -> None:
    async def break_after_line_1(text: str) -> None:
        if "\n2" in text:
            raise ConnectionError("reset")

    planner = HookedChatModel(
        responses=['1. search("a")\n2. search("b")\n3. join()'], on_text=break_after_line_1
    )
    joiner = ScriptedChatModel(responses=[FINISH])
    graph = create_llm_compiler([search], planner=planner, joiner=joiner)
    run = await run_graph(graph, "q")
    assert run.tasks[1]["status"] == "done"  # its task ran
    usage = run.output["rounds"][0]["planner_usage"]
    assert usage["calls"] == 1 and usage["estimated_calls"] == 1
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert run.output["usage"]["calls"] == 2  # the broken plan and the joiner
