"""The streaming parser does linear work: counted, not timed.

Every internal step that scans text is wrapped to count what it is handed: the characters
each regular expression is matched against (a line head or lookahead that is re-matched as it
grows would show up here), the argument text given to `ast`, the values searched for
references, and the per-character steps (a replay that re-fed earlier text would show up
here). A plan four times longer must cost at most a little more work per character.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import agent._plan_checks
import agent.plan
from agent.plan import PlanParser, Task
from tests.helpers import math, search


class CountingPattern:
    """A compiled pattern that adds the length of every string it is matched against."""

    def __init__(self, pattern: re.Pattern[str], work: Counter[str], name: str) -> None:
        self._pattern, self._work, self._name = pattern, work, name

    def _counted(self, method: str) -> Callable[..., Any]:
        def call(string: str, *args: Any) -> Any:
            self._work[self._name] += len(string)
            return getattr(self._pattern, method)(string, *args)

        return call

    def __getattr__(self, name: str) -> Any:
        if name in {"match", "fullmatch", "search", "findall", "finditer", "sub"}:
            return self._counted(name)
        return getattr(self._pattern, name)


def _plan(n: int) -> str:
    """`n` tasks, each with a thought, a string holding parentheses, a reference to the task
    before and to task 1, a comment, and a line break inside its call."""
    lines = "".join(
        f'Thought: step {i}\n{i}. math("p {i} (x)",\n   context=["${i - 1}", "$1 m"])  # c\n'
        for i in range(2, n + 1)
    )
    return '1. search("start")\n' + lines + "join()\n"


def _stream(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Task], Counter[str]]:
    """Parse `text` fed one character at a time; return the tasks and the work counted."""
    work: Counter[str] = Counter()
    with monkeypatch.context() as patch:
        for name, value in vars(agent.plan).items():
            if isinstance(value, re.Pattern):
                patch.setattr(agent.plan, name, CountingPattern(value, work, name))

        def counting(name: str, function: Callable[..., Any], size: Callable[..., int]) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                work[name] += size(*args)
                return function(*args, **kwargs)

            return call

        patch.setattr(
            agent._plan_checks,
            "parse_arguments",
            counting("ast", agent._plan_checks.parse_arguments, lambda text: len(text)),
        )
        patch.setattr(
            agent._plan_checks,
            "find_references",
            counting(
                "references",
                agent._plan_checks.find_references,
                lambda values, *_: len(str(values)),
            ),
        )
        patch.setattr(PlanParser, "_step", counting("steps", PlanParser._step, lambda *_: 1))
        parser = PlanParser([search, math])
        tasks = [task for char in text for task in parser.feed(char)] + parser.close()
    return tasks, work


def test_streaming_parser_work_per_character_does_not_grow_with_the_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    per_char = {}
    for n in (250, 1000):
        text = _plan(n)
        tasks, work = _stream(text, monkeypatch)
        assert len(tasks) == n + 1 and all(t.error is None for t in tasks)
        assert tasks[-1].deps == list(range(1, n + 1))
        assert tasks[-2].deps == [1, n - 1]
        assert {"steps", "ast", "references", "_START", "_THOUGHT"} <= set(work)
        assert work["steps"] >= len(text)
        per_char[n] = {name: count / len(text) for name, count in work.items()}
        per_char[n]["total"] = sum(work.values()) / len(text)
    small, large = per_char[250], per_char[1000]
    # Linear work is a constant per character (up to the longer task numbers); quadratic
    # work in any step would grow about fourfold here.
    grown = {name: large[name] / small[name] for name in small}
    assert all(ratio < 1.3 for ratio in grown.values()), grown


ADVERSARIAL = {
    "digits": lambda n: "1" * n + ". search(" + "\n",
    "dashes": lambda n: "-" * n + "\n",
    "spaces": lambda n: " " * n + '1. search("x")\n',
    "quotes": lambda n: "> " * (n // 2) + "\n",
    "parentheses": lambda n: "(" * n + "\n",
    "step words": lambda n: "Step " * (n // 5) + "\n",
    "unclosed call": lambda n: '1. search("a",\n' + "> " * (n // 2) + "\n",
    "colons in a call": lambda n: '1. search("a",\n' + ":" * n + "\n",
    "end marks in a call": lambda n: '1. search("a",\n' + "<END_OF_PLAN>x" * (n // 14) + "\n",
    "field path": lambda n: "1. search($1" + ".a" * (n // 2) + ")\n",
    "many short lines": lambda n: "12345678901234567890\n" * (n // 21),
}


@pytest.mark.parametrize("shape", ADVERSARIAL)
def test_parser_work_per_character_stays_flat_on_lines_that_could_still_become_tasks(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines that keep looking like the start of a task (a long number, a long run of
    decoration, a long lookahead inside an unclosed call) cost no more per character as they
    grow: each character is looked at a bounded number of times."""
    per_char = []
    for n in (4_000, 16_000):
        text = ADVERSARIAL[shape](n)
        _, work = _stream(text, monkeypatch)
        per_char.append(sum(work.values()) / len(text))
    assert per_char[1] / per_char[0] < 1.3, per_char


def test_the_work_count_would_catch_a_step_that_rescans_the_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The measure itself: a parser that re-matched everything read so far on each character
    (quadratic) shows growing work per character."""
    seen: list[str] = []
    feed = PlanParser.feed

    def rescanning_feed(self: PlanParser, chunk: str) -> list[Task]:
        seen.append(chunk)
        agent.plan._NOT_A_NOTE.fullmatch("".join(seen))
        return feed(self, chunk)

    monkeypatch.setattr(PlanParser, "feed", rescanning_feed)
    ratios = []
    for n in (50, 200):
        seen.clear()
        text = _plan(n)
        _, work = _stream(text, monkeypatch)
        ratios.append(work["_NOT_A_NOTE"] / len(text))
    assert ratios[1] / ratios[0] > 3
