"""The live benchmark's clean-answer check: copies of the engine's instructions and bare call
arguments are not answers; honest answers, whatever words they use, are."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from agent import _prompts as prompts
from llmcompiler_bench.cleanliness import PHRASE_WORDS, call_arguments, words
from llmcompiler_bench.live import is_clean, live_table, summarize_live
from llmcompiler_bench.recorder import Planned, ToolSpan
from llmcompiler_bench.records import RunRecord
from llmcompiler_bench.systems import LIVE_SYSTEMS, LLMCOMPILER, REACT
from tools.examples import OFFLINE_TOOLS_EXAMPLES

HONEST = json.loads((Path(__file__).parent / "honest_answers.json").read_text(encoding="utf-8"))
QUESTION = "Which is faster, a cheetah or a lion?"


@pytest.mark.parametrize(
    "answer",
    [
        "N. join()",
        'N. search("cheetah maximum velocity")',
        "**N.** `join()`",
        "The plan line that was not actions is: search cheetah",
        'Reuse earlier results by reference ("$N") instead of repeating calls.',
        "Answer the user's question using the results of the executed plan.",
        "No more replanning is possible: answer with the best you can.",
        "Write only the plan: no Markdown, no prose.",
    ],
)
def test_answers_parroting_the_engines_instructions_are_not_clean(answer: str) -> None:
    assert not is_clean(answer, question=QUESTION)


def _sentences(text: str) -> list[str]:
    fixed = re.sub(r"\{\w+\}", "\n", text)  # what a prompt inserts is not its text
    return [s for s in re.split(r"(?<=[.:])\s+|\n", fixed) if len(words(s)) >= PHRASE_WORDS]


PROMPT_SENTENCES = [
    sentence
    for constant in (
        prompts.PLANNER_SYSTEM,
        prompts.JOINER_SYSTEM,
        prompts.JOINER_THOUGHT,
        prompts.REPLAN_CONTEXT,
        prompts.REPLAN_FORBIDDEN,
        prompts.DIRECT_ANSWER_RULE,
    )
    for sentence in _sentences(constant)
]


def test_every_sentence_of_the_prompts_is_recognised_as_a_copy() -> None:
    assert len(PROMPT_SENTENCES) >= 15
    copied = [s for s in PROMPT_SENTENCES if is_clean(s, question=QUESTION)]
    assert copied == []


def test_an_answer_that_is_only_a_planned_calls_argument_is_not_clean() -> None:
    arguments = call_arguments([{"query": "cheetah maximum velocity"}])
    assert not is_clean("cheetah maximum velocity", question=QUESTION, arguments=arguments)
    assert not is_clean("Cheetah maximum velocity.", question=QUESTION, arguments=arguments)
    # The answer says more than the query: an answer.
    assert is_clean("The cheetah's maximum velocity is 120 km/h.", arguments=arguments)


def test_a_query_from_a_plan_line_the_engine_could_not_read_counts_too() -> None:
    arguments = call_arguments(notes=['N. search("cheetah maximum velocity")'])
    assert arguments == ["cheetah maximum velocity"]
    assert not is_clean("cheetah maximum velocity", question=QUESTION, arguments=arguments)


def test_an_option_the_question_names_is_an_answer_even_if_it_was_searched() -> None:
    question = "Which mountain is taller, Mount Everest or K2?"
    arguments = call_arguments([{"query": "Mount Everest"}, {"query": "K2"}])
    assert is_clean("Mount Everest", question=question, arguments=arguments)


def test_an_answer_repeating_a_worked_examples_words_stays_clean() -> None:
    # Worked examples hold facts and questions, not protocol: the bench's own say this.
    assert "15% of the population of Canada" in OFFLINE_TOOLS_EXAMPLES
    answer = "15% of the population of Canada is about 6 million people."
    assert is_clean(answer, question="What is 15% of the population of Canada?")
    assert is_clean(answer, question="How many Canadians is 15%?")


@pytest.mark.parametrize("entry", HONEST["answers"], ids=lambda e: e["kind"])
def test_honest_answers_stay_clean(entry: dict[str, str]) -> None:
    question = "Which mountain is taller, Mount Everest or K2?"
    arguments = call_arguments([{"query": "Mount Everest height"}, {"query": "K2 height"}])
    assert is_clean(entry["answer"], question=question, arguments=arguments)


def _record(system: str, item: str, answer: str, question: str, gold: str) -> RunRecord:
    return RunRecord(
        workload="corpus",
        item=item,
        repeat=0,
        system=system,
        latency_s=1.0,
        answer=answer,
        correct=answer == gold,
        n_tasks=1,
        llm_calls=2,
        input_tokens=10,
        output_tokens=5,
        cost_usd=0.0,
        question=question,
        gold=gold,
    )


def test_live_summary_counts_clean_answers_by_the_runs_own_calls_and_scores_each_metric() -> None:
    which = "Which river is longer, the Nile or the Amazon River?"
    how_many = "How many meters taller is Mount Everest than K2?"
    parrot = _record(LLMCOMPILER.name, "a", "Nile length", which, "Nile")
    parrot.planned = [Planned(1, "search", 0.1, {"query": "Nile length"})]
    sentence = _record(LLMCOMPILER.name, "b", "The Nile is longer.", which, "Nile")
    number = _record(LLMCOMPILER.name, "c", "238", how_many, "238")
    # ReAct's calls are its tool calls: the same bare query is not clean there either.
    react = _record(REACT.name, "a", "Nile length", which, "Nile")
    react.tools = [ToolSpan("search", {"query": "Nile length"}, 0.1)]
    summaries = {
        s.system: s for s in summarize_live([parrot, sentence, number, react], LIVE_SYSTEMS)
    }
    ours = summaries[LLMCOMPILER.label]
    assert (ours.runs, ours.clean, ours.correct, ours.exact) == (3, 2, 1, 1)
    assert ours.f1 == pytest.approx((2 / 3 + 0.5 + 1.0) / 3)  # "nile length" vs "nile": 2/3
    assert ours.choice == (2, 2)  # both name the gold option alone (the query too)
    assert summaries[REACT.label].clean == 0
    console = Console(record=True, width=250)
    console.print(live_table(list(summaries.values())))
    text = console.export_text()
    for column in ("accuracy (paper)", "EM", "F1", "which-is-more", "clean answers"):
        assert column in text
    assert "0.72" in text and "2/2" in text
