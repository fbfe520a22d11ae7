"""Honest answers reach the user exactly as written, through the whole graph.

`honest_answers.json` holds answers a capable model gives (prices, formulas and code, lists,
tables, paragraphs with parentheses, JSON, URLs, non-Latin text, prose using the protocol's
words, unbalanced parentheses, very long answers). Each is written as a joiner reply in the
protocol's form, as bare prose and as a JSON decision, and run through `create_llm_compiler`
with scripted models: the answer arrives unchanged (leading and trailing whitespace aside),
after one plan and one joiner call, and the streamed chunks join to that same text with nothing
withdrawn. The weak models' replies of `real_outputs/` (test_real_output_corpus) must still come
out clean beside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.tools import tool

from llmcompiler_scripted import PROFILES
from tests.helpers import run_chat, scripted_graph

CORPUS = json.loads((Path(__file__).parent / "honest_answers.json").read_text(encoding="utf-8"))
ANSWERS = [
    pytest.param(entry["answer"], id=f"{n}-{entry['kind']}")
    for n, entry in enumerate(CORPUS["answers"])
]


@tool
async def search(query: str) -> str:
    """Search for `query`."""
    return f"{query}: 8,849 m"


def protocol(answer: str) -> str:
    return f"Thought: the results answer the question.\nAction: Finish({answer})"


def prose(answer: str) -> str:
    return answer


def json_decision(answer: str) -> str:
    decision = {"thought": "the results answer it", "action": "finish", "answer": answer}
    return json.dumps(decision, ensure_ascii=False)


def test_the_corpus_covers_every_kind_of_honest_answer() -> None:
    kinds = {entry["kind"] for entry in CORPUS["answers"]}
    assert len(CORPUS["answers"]) >= 40
    assert {"price", "formula", "code", "list", "table", "paragraphs", "json", "url"} <= kinds
    assert {"non-latin", "words", "unbalanced", "long"} <= kinds
    assert max(len(entry["answer"]) for entry in CORPUS["answers"]) > 5000


@pytest.mark.parametrize("shape", [protocol, prose, json_decision])
@pytest.mark.parametrize("answer", ANSWERS)
async def test_an_honest_answer_arrives_unchanged_after_one_plan_and_streams_as_it_is(
    answer: str, shape: Callable[[str], str]
) -> None:
    graph, planner, joiner = scripted_graph(
        [search],
        ['1. search("Mount Everest")\n2. search("K2")\n3. join()'],
        [shape(answer)],
        profile=PROFILES["instant"],
    )
    run = await run_chat(graph, "question")
    assert run.answer == answer.strip()
    assert len(planner.calls) == 1 and len(joiner.calls) == 1  # one plan, no replan
    assert "".join(run.tokens) == answer.strip()
    assert not run.of("answer_withdrawn")
    assert list(run.bubbles.values()) == [answer.strip()]
