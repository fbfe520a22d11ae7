"""The joiner: its text protocol, replanning, bounds, and failures that end in clear answers."""

from __future__ import annotations

import httpx
import pytest
from langchain_core.tools import tool
from tenacity import wait_exponential_jitter

from agent import Context
from agent._joiner import parse_joiner_output
from tests.helpers import run_graph, scripted_graph


@tool
async def lookup(key: str) -> str:
    """Look up `key`."""
    if key == "missing":
        raise KeyError(key)
    return f"{key}-value"


@pytest.mark.parametrize(
    ("text", "action", "content", "thought"),
    [
        ("Thought: easy\nAction: Finish(1.52)", "finish", "1.52", "easy"),
        ("Thought: t\nAction: Finish(f(x) = (a, b))", "finish", "f(x) = (a, b)", "t"),
        ("Action: Finish(line one\nline two (2))\n", "finish", "line one\nline two (2)", None),
        (
            "Thought: need more\nAction: Replan(no data for K2)",
            "replan",
            "no data for K2",
            "need more",
        ),
        ("The answer is 42.", "finish", "The answer is 42.", None),
        ("Thought: x\naction : finish( lower case )", "finish", "lower case", "x"),
        ("Action: Finish(unclosed answer", "finish", "unclosed answer", None),
    ],
)
def test_parse_joiner_output(text: str, action: str, content: str, thought: str | None) -> None:
    decision = parse_joiner_output(text)
    assert (decision.action, decision.content, decision.thought) == (action, content, thought)


async def test_replan_continues_indices_and_references_earlier_rounds() -> None:
    plans = [
        '1. lookup("a")\n2. lookup("missing")\n3. join()',
        '4. lookup("b from $1")\n5. join()',
    ]
    answers = [
        "Thought: 2 failed\nAction: Replan(lookup 2 failed; try b)",
        "Thought: ok\nAction: Finish($4)",  # a whole-answer reference is that result
    ]
    graph, planner, joiner = scripted_graph([lookup], plans, answers)
    run = await run_graph(graph, "q")
    assert run.answer == "b from a-value-value"
    tasks = run.tasks
    assert [t["round"] for t in run.output["tasks"]] == [1, 1, 2]
    assert tasks[4]["result"] == "b from a-value-value"
    assert [e["round"] for e in run.of("replan")] == [2]
    # The second plan's prompt shows the first plan's outcomes and the joiner's reason.
    replan_prompt = planner.calls[1][-1].text
    assert "a-value" in replan_prompt and "try b" in replan_prompt and "from 4" in replan_prompt
    assert len(joiner.calls) == 2


async def test_max_replans_bounds_the_loop_and_the_last_replan_becomes_an_answer() -> None:
    plans = ['1. lookup("a")\n2. join()', '3. lookup("b")\n4. join()']
    answers = ["Action: Replan(not enough)"] * 2
    graph, planner, _ = scripted_graph([lookup], plans, answers)
    run = await run_graph(graph, "q", context=Context(max_replans=1))
    assert len(planner.calls) == 2  # 1 replan = at most 2 plans
    assert "could not fully answer" in run.answer
    assert "not enough" in run.answer and "a-value" in run.answer and "b-value" in run.answer


async def test_prose_answer_is_taken_as_the_answer() -> None:
    graph, *_ = scripted_graph([lookup], ['1. lookup("a")\n2. join()'], ["It is a-value."])
    run = await run_graph(graph, "q")
    assert run.answer == "It is a-value."


async def test_planner_permanent_error_becomes_a_clear_answer() -> None:
    request = httpx.Request("POST", "http://model/v1/chat/completions")
    error = httpx.HTTPStatusError("401", request=request, response=httpx.Response(401))
    graph, planner, joiner = scripted_graph([lookup], [error])
    run = await run_graph(graph, "q", context=Context(llm_retries=3))
    assert "planner model failed" in run.answer and "401" in run.answer
    assert len(planner.calls) == 1  # permanent: not retried
    assert not joiner.calls
    assert run.output["tasks"] == []


async def test_transient_planner_error_is_retried() -> None:
    graph, planner, _ = scripted_graph(
        [lookup], [ConnectionError("reset"), '1. lookup("a")\n2. join()']
    )
    run = await run_graph(graph, "q")
    assert len(planner.calls) == 2
    assert run.tasks[1]["result"] == "a-value"
    assert run.answer == "ok"


async def test_three_transient_failures_in_a_row_are_retried_with_the_default_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The backoff's length is not under test: no waiting between attempts.
    monkeypatch.setattr(wait_exponential_jitter, "__call__", lambda _self, _state: 0.0)
    failures = [ConnectionError("reset")] * 3
    graph, planner, joiner = scripted_graph(
        [lookup], [*failures, '1. lookup("a")\n2. join()'], [*failures, "Action: Finish(a-value)"]
    )
    run = await run_graph(graph, "q")  # Context() as it comes
    assert (len(planner.calls), len(joiner.calls)) == (4, 4)
    assert run.answer == "a-value" and run.output["error"] is None


async def test_joiner_failure_becomes_an_answer_with_what_was_found() -> None:
    graph, *_ = scripted_graph([lookup], ['1. lookup("a")\n2. join()'], [ValueError("bad request")])
    run = await run_graph(graph, "q")
    assert "joiner model failed" in run.answer and "a-value" in run.answer


async def test_empty_plan_goes_straight_to_the_joiner() -> None:
    graph, *_ = scripted_graph([lookup], ["1. join()"], ["Action: Finish(hello)"])
    run = await run_graph(graph, "hi")
    assert run.answer == "hello" and run.output["tasks"] == []
    assert run.of("plan_finished")[0]["n_tasks"] == 0


async def test_follow_up_turn_starts_a_fresh_task_list() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    plans = ['1. lookup("a")\n2. join()', '1. lookup("b")\n2. join()']
    answers = ["Action: Finish(first)", "Action: Finish(second)"]
    graph, planner, _ = scripted_graph([lookup], plans, answers, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "turns"}}
    first = await run_graph(graph, "q1", config=config)
    second = await run_graph(graph, "q2", config=config)
    assert first.answer == "first" and second.answer == "second"
    assert [t["result"] for t in second.output["tasks"]] == ["b-value"]
    assert [m.type for m in second.output["messages"]] == ["human", "ai", "human", "ai"]
    assert "q1" in " ".join(m.text for m in planner.calls[1])  # history reaches the planner


async def test_a_replan_reuses_an_identical_pure_call_from_the_earlier_round() -> None:
    calls: list[str] = []

    @tool
    async def pure_lookup(key: str) -> str:
        """Pure lookup."""
        calls.append(key)
        return f"{key}!"

    pure_lookup.metadata = {"pure": True}
    plans = [
        '1. pure_lookup("a")\n2. join()',
        '3. pure_lookup("a")\n4. pure_lookup("b")\n5. join()',
    ]
    answers = ["Action: Replan(need b too)", "Action: Finish(done)"]
    graph, *_ = scripted_graph([pure_lookup], plans, answers)
    run = await run_graph(graph, "q")
    assert calls == ["a", "b"]
    assert run.tasks[3]["deduplicated_from"] == 1 and run.tasks[3]["result"] == "a!"


async def test_join_final_answers_directly_and_skips_the_joiner_model() -> None:
    plan = '1. lookup("a")\n2. lookup("b from $1")\n3. join(final="$2")'
    graph, _, joiner = scripted_graph([lookup], [plan])
    run = await run_graph(graph, "q")
    assert run.answer == "b from a-value-value"
    assert not joiner.calls


async def test_join_final_falls_back_to_the_joiner_when_that_task_failed_or_is_disabled() -> None:
    plan = '1. lookup("missing")\n2. join(final="$1")'
    graph, _, joiner = scripted_graph([lookup], [plan], ["Action: Finish(could not)"])
    run = await run_graph(graph, "q")
    assert run.answer == "could not" and len(joiner.calls) == 1

    graph, planner, joiner = scripted_graph([lookup], ['1. lookup("a")\n2. join(final="$1")'])
    run = await run_graph(graph, "q", context=Context(direct_answers=False))
    assert run.answer == "ok" and len(joiner.calls) == 1
    assert 'join(final="$3")' not in planner.calls[0][0].text  # nor offered to the planner


async def test_planner_is_told_about_direct_answers_by_default() -> None:
    graph, planner, _ = scripted_graph([lookup], ["1. join()"])
    await run_graph(graph, "q")
    assert 'join(final="$3")' in planner.calls[0][0].text


# -- honest answers are untouched (issue: prices, failed tasks, formulas, paragraphs, JSON) ----
@tool
async def price(item: str) -> str:
    """The price of `item`."""
    if item == "visa":
        raise LookupError("no price for visa")
    return f"{item.title()}: 1.50 USD"


async def test_money_in_an_answer_is_text_not_a_reference_to_a_result() -> None:
    graph, *_ = scripted_graph(
        [price],
        ['1. price("apples")\n2. join()'],
        ["Thought: found it\nAction: Finish(Apples cost $1.50 per pound.)"],
    )
    run = await run_graph(graph, "How much are apples?")
    assert run.answer == "Apples cost $1.50 per pound."


@pytest.mark.parametrize("max_replans", [0, 1])
async def test_a_dollar_amount_naming_a_failed_task_is_text_and_costs_no_replan(
    max_replans: int,
) -> None:
    graph, planner, joiner = scripted_graph(
        [price],
        ['1. price("apples")\n2. price("visa")\n3. join()'],
        ["Thought: known fee\nAction: Finish(The visa fee is $2 online.)"],
    )
    run = await run_graph(graph, "q", context=Context(max_replans=max_replans))
    assert run.answer == "The visa fee is $2 online."
    assert len(planner.calls) == len(joiner.calls) == 1


@pytest.mark.parametrize(
    "answer",
    [
        "The derivative of sin(x) is\ncos(x)",
        "Sum them with:\nprint(sum(values))",
        "My final thought: both sources agree on 8,849 m.",
        "Recommended action: renew the passport first.",
    ],
)
@pytest.mark.parametrize("max_replans", [0, 1])
async def test_formulas_code_and_prose_using_protocol_words_are_answers(
    answer: str, max_replans: int
) -> None:
    graph, planner, _ = scripted_graph(
        [lookup], ['1. lookup("a")\n2. join()'], [f"Thought: done\nAction: Finish({answer})"]
    )
    run = await run_graph(graph, "q", context=Context(max_replans=max_replans))
    assert run.answer == answer
    assert len(planner.calls) == 1


async def test_finish_keeps_every_paragraph_up_to_its_closing_parenthesis() -> None:
    reply = (
        "Thought: two parts\nAction: Finish(Everest is taller (8,849 m).\n\n"
        "K2 is second (8,611 m), and harder to climb.)\n\nI hope this helps!"
    )
    graph, *_ = scripted_graph([lookup], ['1. lookup("a")\n2. join()'], [reply])
    run = await run_graph(graph, "q")
    assert run.answer == (
        "Everest is taller (8,849 m).\n\nK2 is second (8,611 m), and harder to climb."
    )


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        ("Action: Finish(I'm glad it helped :))", "I'm glad it helped :)"),
        ("Action: Finish(Check the appendix (see note)", "Check the appendix (see note"),
        ("Action: Finish(Steps:\n1) boil\n2) serve)\n\nEnjoy :)", "Steps:\n1) boil\n2) serve"),
        ("Action: Finish(42) because both agree (mostly)", "42"),
        ("Action: Finish(no closing parenthesis\n\nat all", "no closing parenthesis\n\nat all"),
    ],
)
def test_an_answer_with_unbalanced_parentheses_ends_where_the_documented_rule_says(
    reply: str, answer: str
) -> None:
    assert parse_joiner_output(reply).content == answer


async def test_a_json_reply_is_decoded_whatever_braces_surround_it() -> None:
    reply = (
        'Thought: the set {a, b} is complete\n```json\n{"action": "finish", "answer": '
        '"Everest {8,849 m}"}\n```\nCheers {the assistant}'
    )
    graph, *_ = scripted_graph([lookup], ['1. lookup("a")\n2. join()'], [reply])
    run = await run_graph(graph, "q")
    assert run.answer == "Everest {8,849 m}"


async def test_a_json_replan_stays_a_replan() -> None:
    replan = 'Thought: {missing}\n{"action": "replan", "reason": "need b"}\nThanks {bye}'
    graph, planner, _ = scripted_graph(
        [lookup],
        ['1. lookup("a")\n2. join()', '3. lookup("b")\n4. join()'],
        [replan, "Action: Finish(done)"],
    )
    run = await run_graph(graph, "q")
    assert len(planner.calls) == 2 and run.answer == "done"
    assert run.of("replan")[0]["reason"] == "need b"


async def test_a_json_null_answer_is_no_answer_not_the_word_null() -> None:
    graph, *_ = scripted_graph(
        [lookup], ['1. lookup("a")\n2. join()'], ['{"action": "finish", "answer": null}']
    )
    run = await run_graph(graph, "q", context=Context(max_replans=0))
    assert run.answer != "null"
    assert "could not fully answer" in run.answer and "a-value" in run.answer


async def test_a_whole_answer_reference_to_a_failed_task_is_not_shown() -> None:
    graph, planner, _ = scripted_graph(
        [lookup],
        ['1. lookup("missing")\n2. join()', '3. lookup("a")\n4. join()'],
        ["Action: Finish($1)", "Action: Finish($3)"],
    )
    run = await run_graph(graph, "q")
    assert len(planner.calls) == 2 and run.answer == "a-value"


# -- a weak model copies the end of its prompt --------------------------------------------
async def test_lines_copying_the_prompts_own_framing_are_dropped_and_the_answer_kept() -> None:
    """As SmolLM2 does: its answer, then the prompt's notes section and replan line copied."""
    plan = '1. lookup("a")\n2. math(n) + 0.5 * n = 2.67\n3. join()'
    reply = (
        "The answer is a-value.\n\n"
        "Plan lines that were not actions (the plan may be incomplete):\n"
        "- 2. math(n) + 0.5 * n = 2.67\n"
        "-> a-value\n\n"
        "3. Replanning is allowed."
    )
    graph, planner, _ = scripted_graph([lookup], [plan], [reply])
    run = await run_graph(graph, "q")
    assert run.answer == "The answer is a-value."
    assert len(planner.calls) == 1


@pytest.mark.parametrize(
    "reply",
    [
        "Action: Replan(<what is missing and why>)",
        "Action: Replan(<the answer>)",
        "Action: Finish(<the answer>)",
        "Thought: <one short sentence on what the results show>\nAction: Finish(<the answer>)",
    ],
)
async def test_a_copied_reply_template_is_no_answer_and_never_a_new_plan(reply: str) -> None:
    """As SmolLM2 does: the reply format's placeholder copied as the whole reason or answer
    decides nothing, so no new plan runs tools on it; the run gives what was found."""
    graph, planner, _ = scripted_graph(
        [lookup], ['1. lookup("a")\n2. join()', '3. lookup("b")\n4. join()'], [reply]
    )
    run = await run_graph(graph, "q")
    assert len(planner.calls) == 1
    assert run.answer.startswith("I could not fully answer the question: the joiner gave no")
    assert "a-value" in run.answer


async def test_an_honest_answer_with_generic_headers_and_arrows_is_untouched() -> None:
    answer = "Results:\n- apples -> 3\n-> see below\nNote: prices vary."
    graph, *_ = scripted_graph(
        [lookup], ['1. lookup("a")\n2. join()'], [f"Action: Finish({answer})"]
    )
    run = await run_graph(graph, "q")
    assert run.answer == answer
