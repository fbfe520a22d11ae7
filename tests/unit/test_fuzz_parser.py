"""Fuzzing the streaming plan parser: random and mutated plans, any chunking.

Properties, for every input: `parse_plan` and `PlanParser` never raise, the streamed result
equals the whole-text result for the chosen chunking, the plan ends with exactly one `join`,
and every task is well formed (JSON-safe arguments, dependencies on earlier tasks only).
`make fuzz` runs 10,000 examples of each property (`LLMCOMPILER_FUZZ_EXAMPLES`); `make test`
a few hundred. Every failing input ever found is kept in `tests/unit/fuzz_corpus/` and re-checked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.plan import PlanParser, Task, parse_plan, read_plan
from tests.helpers import math, search

EXAMPLES = int(os.environ.get("LLMCOMPILER_FUZZ_EXAMPLES", "300"))
CORPUS = Path(__file__).parent / "fuzz_corpus"
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


TOOLS = [search, math]
KNOWN = (1, 2)

PIECES = [
    "1. ",
    "2) ",
    "3. ",
    "10. ",
    "search(",
    "math(",
    "join(",
    ")",
    "(",
    "[",
    "]",
    "{",
    "}",
    '"',
    "'",
    '"""',
    ",",
    "=",
    "query=",
    "context=",
    "$1",
    "${2}",
    "$3",
    "$9",
    "$1.x",
    "$2[0]",
    "$",
    '${1}["k"]',
    "#",
    " ",
    "\n",
    "\r\n",
    "\r",
    "Thought: ",
    "<END_OF_PLAN>",
    "```",
    "**",
    "`",
    "Step ",
    "- ",
    "> ",
    "Here is the plan:",
    "\\",
    "None",
    "1.5",
    "-2",
    "True",
    "x",
    "é",
    "\t",
    ":",
    "final=",
    '"$3"',
]


def check(text: str, cuts: list[int]) -> None:
    whole, notes = read_plan(text, TOOLS, known=KNOWN, max_tasks=5)
    assert whole == parse_plan(text, TOOLS, known=KNOWN, max_tasks=5)
    parser = PlanParser(TOOLS, known=KNOWN, max_tasks=5)
    streamed: list[Task] = []
    start = 0
    for cut in sorted(set(cuts)):
        streamed += parser.feed(text[start:cut])
        start = cut
    streamed += parser.feed(text[start:])
    streamed += parser.close()
    assert streamed == whole
    assert parser.notes == notes  # plan notes, too, do not depend on the chunking
    assert [t.tool for t in whole].count("join") == 1 and whole[-1].tool == "join"
    seen: set[int] = set(KNOWN)
    for task in whole:
        json.dumps(task.args)  # JSON-safe, so records and events serialize
        assert task.deps == sorted(task.deps)
        assert set(task.deps) <= seen, task
        seen.add(task.idx)


@st.composite
def chunked(draw: st.DrawFn, texts: st.SearchStrategy[str]) -> tuple[str, list[int]]:
    text = draw(texts)
    cuts = draw(st.lists(st.integers(0, len(text)), max_size=12))
    return text, cuts


random_plans = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=40).map("".join)

VALID = (
    "Thought: both\n1. search(\"a (b), #c\")\n2) search(query='$1 and ${1}')\n"
    '3. math("sum", context=["$1", "$2", {"k": "$2"}])\n4. join(final="$3")\n<END_OF_PLAN>'
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid plan with characters deleted, duplicated, swapped or inserted."""
    text = VALID
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["delete", "insert", "dup"]))
        if op == "delete":
            text = text[:i] + text[i + 1 :]
        elif op == "insert":
            text = text[:i] + draw(st.sampled_from(PIECES)) + text[i:]
        else:
            text = text[:i] + text[i : i + 5] + text[i:]
    return text


@FUZZ
@given(chunked(random_plans))
def test_random_text_never_breaks_the_parser(case: tuple[str, list[int]]) -> None:
    check(*case)


@FUZZ
@given(chunked(mutated()))
def test_mutated_plans_never_break_the_parser(case: tuple[str, list[int]]) -> None:
    check(*case)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.txt")), ids=lambda p: p.name)
def test_regression_corpus(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for step in (1, 2, 3, 7):
        check(text, list(range(0, len(text), step)))
