"""Whether an answer is one a user may see: the benchmark's check, stricter than the engine's.

The engine drops only what is unambiguously protocol (`agent._joiner_reply`), so that honest answers
reach the user as written. Counting what a real model did, the benchmark also counts as not
clean what a weak model copies from the engine's own instructions instead of answering:

- a protocol line (`agent._joiner_reply.protocol_lines`), or an unresolved reference (`$3`) as the
  whole answer;
- a plan line with a placeholder for its number (`N. join()`, `N. search("...")`);
- a run of `PHRASE_WORDS` words of the engine's prompt text (`prompt_phrases`: the fixed text
  of the planner and joiner prompts as `agent._prompts` renders them, worked examples
  included), unless the question holds the same words (an answer may echo its question);
- only the argument of a call the plan made or tried to make (a search query), unless the
  question holds that text (the name of an option it asks about).

Words are compared lower-cased, without punctuation, articles and forms of "to be", and
without a plural `s`, so "The plan line that was not actions is: …" matches the prompt's "Plan
lines that were not actions".
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from agent._joiner_reply import is_call_line, protocol_lines
from agent._prompts import joiner_prompt, planner_messages
from agent._references import is_exact_reference
from agent._state import RoundRecord

PHRASE_WORDS = 4
"""Words in a row shared with the prompts that make an answer a copy of them."""
_IGNORED = frozenset({"a", "an", "the", "is", "are", "was", "were", "be", "been"})
_WORD = re.compile(r"[a-z0-9]+")
_PLACEHOLDER = re.compile(r"^([ \t>*_`#-]*)[A-Za-z][.):][ \t]*")
"""`N. ` (or `K)`, `X:`) where a plan line has its number."""
_STRING = re.compile(r"\"((?:[^\"\\]|\\.)+)\"|'((?:[^'\\]|\\.)+)'")
"""A quoted string in a plan line the planner could not read as an action."""
_MARK = "\x00"
"""Stands for whatever a prompt inserts (question, results, notes): no phrase spans it."""


def words(text: str) -> list[str]:
    """`text` as the words phrases are compared by (see the module docstring)."""
    found = [w for w in _WORD.findall(text.lower()) if w not in _IGNORED]
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in found]


def _phrases(text: str) -> Iterator[tuple[str, ...]]:
    said = words(text)
    for start in range(len(said) - PHRASE_WORDS + 1):
        yield tuple(said[start : start + PHRASE_WORDS])


def _prompt_texts() -> Iterator[str]:
    """Every prompt the engine writes, rendered with `_MARK` for what it inserts: the first
    plan and a replan, the joiner with and without replanning left and with and without a
    thought, with a plan note and the plan lines that were not actions."""
    earlier = RoundRecord(
        round=1,
        question_id=None,
        join_idx=1,
        final=None,
        plan_error=None,
        planner_usage=None,
        joiner_usage=None,
        joiner_thought=None,
        decision="replan",
        replan_reason=_MARK,
    )
    for direct, rounds in ((True, [earlier]), (False, [])):
        yield from (
            m.text
            for m in planner_messages(
                direct_answers=direct,
                tools=[],
                examples="",  # worked examples hold facts an honest answer may repeat
                messages=[],
                question=_MARK,
                earlier_tasks=[],
                earlier_rounds=rounds,
                first_idx=1,
                limit=1,
            )
        )
    for can_replan, thought in itertools.product((True, False), repeat=2):
        yield from (
            m.text
            for m in joiner_prompt(
                messages=[],
                question=_MARK,
                tasks=[],
                plan_note=_MARK,
                can_replan=can_replan,
                plan_notes=[_MARK],
                limit=1,
                thought=thought,
            ).messages
        )


@functools.cache
def prompt_phrases() -> frozenset[tuple[str, ...]]:
    """Every run of `PHRASE_WORDS` words of the engine's fixed prompt text."""
    return frozenset(
        phrase
        for text in _prompt_texts()
        for part in text.split(_MARK)
        for phrase in _phrases(part)
    )


def copied_phrase(answer: str, question: str = "") -> str | None:
    """The first words of `answer` copied from the engine's prompts, or None."""
    asked = set(_phrases(question))
    known = prompt_phrases()
    for phrase in _phrases(answer):
        if phrase in known and phrase not in asked:
            return " ".join(phrase)
    return None


def placeholder_line(answer: str, tools: Collection[str]) -> str | None:
    """The first line of `answer` that is a plan line numbered with a letter (`N. join()`)."""
    for line in answer.splitlines():
        numbered = _PLACEHOLDER.match(line)
        if numbered and is_call_line(_PLACEHOLDER.sub(r"\1", line, count=1), tools):
            return line
    return None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def call_arguments(calls: Iterable[Mapping[str, Any]] = (), notes: Iterable[str] = ()) -> list[str]:
    """The text arguments of the calls a run planned or made (`calls`: each call's arguments)
    and the quoted strings of the plan lines it could not read (`notes`)."""
    found = [text for args in calls for text in _strings(dict(args))]
    found += [a or b for note in notes for a, b in _STRING.findall(note)]
    return found


def only_an_argument(answer: str, arguments: Iterable[str], question: str = "") -> str | None:
    """The call argument that `answer` is, word for word, unless the question holds it."""
    said = words(answer)
    asked = " ".join(words(question))
    for argument in arguments:
        if said and words(argument) == said and f" {' '.join(said)} " not in f" {asked} ":
            return argument
    return None


def unclean_reason(
    answer: str,
    tools: Collection[str],
    *,
    question: str = "",
    arguments: Iterable[str] = (),
) -> str | None:
    """Why `answer` is not one a user may see (module docstring), or None when it is clean."""
    text = answer.strip()
    if not text:
        return "empty"
    if is_exact_reference(text):
        return f"an unresolved reference: {text}"
    if dropped := protocol_lines(text, tools):
        return f"protocol: {dropped[0].strip()}"
    if line := placeholder_line(text, tools):
        return f"a plan line: {line.strip()}"
    if phrase := copied_phrase(text, question):
        return f"the engine's prompt: {phrase}"
    if argument := only_an_argument(text, arguments, question):
        return f"only the argument of a call: {argument}"
    return None
