"""Questions with gold answers over the shipped offline corpus (`tools/data/corpus.json`).

Live mode needs questions a real model can answer with tools that work offline: the bundled
corpus `search`, `calculate` and the LLM-backed `math`. Each question compares or combines two
facts of the corpus (heights, populations, lengths, birth years, release years), in the two
shapes of the paper's workloads: which-is-more (HotpotQA-like) and arithmetic over two
lookups (ParallelQA-like). Gold answers are computed from the passages themselves.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Question:
    """A live-mode question: no gold plan, only the gold answer (the paper's metric)."""

    id: str
    question: str
    answer: str


@dataclass(frozen=True)
class Fact:
    """One number a passage states about its subject."""

    subject: str
    value: float


@dataclass(frozen=True)
class Family:
    """Passages that state the same kind of number, and how to ask about two of them."""

    name: str
    pattern: str
    titles: tuple[str, ...]
    compare: str
    difference: str | None = None
    total: str | None = None


FAMILIES = (
    Family(
        "height",
        r"([\d,]+) m\b",
        ("Mount Everest", "K2", "Kilimanjaro", "Mont Blanc", "Denali", "Aconcagua", "Mount Fuji"),
        "Which mountain is taller, {a} or {b}?",
        difference="How many meters taller is {a} than {b}?",
    ),
    Family(
        "population",
        r"about ([\d,]+) million",
        ("Japan", "France", "Brazil", "Canada", "Nigeria"),
        "Which country has more people, {a} or {b}?",
        total="What is the combined population of {a} and {b}, in millions?",
    ),
    Family(
        "length",
        r"about ([\d,]+) km",
        ("Nile", "Amazon River", "Yangtze", "Mississippi River", "Danube", "Rhine"),
        "Which river is longer, the {a} or the {b}?",
        difference="How many kilometers longer is the {a} than the {b}?",
    ),
    Family(
        "born",
        r"born on \d+ \w+ (\d{4})",
        ("Marie Curie", "Albert Einstein", "Isaac Newton", "Ada Lovelace", "Charles Darwin"),
        "Who was born first, {a} or {b}?",
        difference="How many years after {b} was {a} born?",
    ),
)


def _facts(family: Family, passages: dict[str, str]) -> list[Fact]:
    facts = []
    for title in family.titles:
        match = re.search(family.pattern, passages[title])
        if match is None:
            raise ValueError(f"the corpus passage {title!r} states no {family.name}")
        facts.append(Fact(title, float(match.group(1).replace(",", ""))))
    return facts


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _questions(family: Family, facts: list[Fact]) -> list[tuple[str, str]]:
    """(question, gold) pairs for every pair of subjects, larger first for differences."""
    out: list[tuple[str, str]] = []
    first_is_more: Callable[[Fact, Fact], bool] = (
        (lambda a, b: a.value < b.value)
        if family.name == "born"
        else (lambda a, b: a.value > b.value)
    )
    for a, b in itertools.combinations(facts, 2):
        winner = a if first_is_more(a, b) else b
        out.append((family.compare.format(a=a.subject, b=b.subject), winner.subject))
        big, small = (a, b) if a.value >= b.value else (b, a)
        if family.difference:
            out.append(
                (
                    family.difference.format(a=big.subject, b=small.subject),
                    _number(big.value - small.value),
                )
            )
        if family.total:
            out.append((family.total.format(a=a.subject, b=b.subject), _number(a.value + b.value)))
    return out


def corpus_questions(n: int | None = None) -> list[Question]:
    """Up to `n` questions, interleaved across families so any prefix mixes the shapes."""
    raw = resources.files("tools.data").joinpath("corpus.json").read_text(encoding="utf-8")
    passages = {p["title"]: p["text"] for p in json.loads(raw)}
    per_family = [_questions(f, _facts(f, passages)) for f in FAMILIES]
    mixed = [
        pair for group in itertools.zip_longest(*per_family) for pair in group if pair is not None
    ]
    items = [
        Question(id=f"corpus-{i:03d}", question=question, answer=gold)
        for i, (question, gold) in enumerate(mixed[:n] if n is not None else mixed)
    ]
    return items
