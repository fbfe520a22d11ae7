"""Answer scores: the paper's metric, and the usual normalised ones beside it.

Normalization is HotpotQA's (SQuAD's): lower-case, strip punctuation and the articles
a/an/the, collapse whitespace. The paper's metric matches a numeric gold answer by the first
number in the prediction (within ±10%), any other by normalized exact match; a model that
answers in sentences scores 0 on it, so live mode also reports HotpotQA's token F1 and, for
which-is-more questions, whether the answer names the gold option and not the other one.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass

NUMERIC_TOLERANCE = 0.10
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+")
_ANSWER = re.compile(r"^\s*answer\s*:\s*", re.IGNORECASE)
_OPTIONS = re.compile(r",\s*([^,]+?)\s+or\s+([^,?]+?)\s*\?\s*$")
"""`…, A or B?`: the two options of a which-is-more question (both corpus shapes, most
HotpotQA comparison questions)."""
_CLOSED = frozenset({"yes", "no", "noanswer"})
"""HotpotQA's F1 gives 0 when either side is one of these and they differ."""


def final_answer(text: str) -> str:
    """The answer part of a reply: what follows a leading `Answer:` (ReAct's form), if any."""
    return _ANSWER.sub("", text.strip(), count=1)


def normalize(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())


def as_number(text: str) -> float | None:
    """`text` as a number if it is exactly one (thousands commas allowed), else None."""
    stripped = text.strip()
    if not _NUMBER.fullmatch(stripped):
        return None
    return float(stripped.replace(",", ""))


def first_number(text: str) -> float | None:
    match = _NUMBER.search(text)
    return float(match[0].replace(",", "")) if match else None


def is_correct(prediction: str, gold: str) -> bool:
    """The paper's metric: within ±10% of a numeric gold answer; otherwise equal after
    `normalize`."""
    target = as_number(gold)
    if target is None:
        return exact_match(prediction, gold)
    value = first_number(prediction)
    if value is None:
        return False
    return abs(value - target) <= NUMERIC_TOLERANCE * abs(target)


def exact_match(prediction: str, gold: str) -> bool:
    """Normalized exact match (HotpotQA's EM)."""
    return normalize(prediction) == normalize(gold)


def token_f1(prediction: str, gold: str) -> float:
    """HotpotQA's token F1 over the normalized words (0 when a yes/no answer differs)."""
    predicted, expected = normalize(prediction), normalize(gold)
    if predicted != expected and (predicted in _CLOSED or expected in _CLOSED):
        return 0.0
    common = Counter(predicted.split()) & Counter(expected.split())
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(predicted.split())
    recall = same / len(expected.split())
    return 2 * precision * recall / (precision + recall)


def options(question: str) -> tuple[str, str] | None:
    """The two options a which-is-more question names (`…, A or B?`), normalized; None for
    any other question."""
    match = _OPTIONS.search(question.strip())
    if match is None:
        return None
    first, second = normalize(match[1]), normalize(match[2])
    return (first, second) if first and second and first != second else None


def _names(text: str, name: str) -> bool:
    """Whether normalized `text` contains the normalized words `name` (whole words)."""
    return f" {name} " in f" {text} "


def names_the_choice(prediction: str, gold: str, question: str) -> bool | None:
    """For a which-is-more question whose gold answer is one of its two options: whether the
    prediction names that option (or the gold answer) and not the other one. None when the
    question is not of that kind (no `…, A or B?`, or the gold answer names neither option)."""
    found = options(question)
    if found is None:
        return None
    expected = normalize(gold)
    chosen = [o for o in found if expected and (_names(o, expected) or _names(expected, o))]
    if len(chosen) != 1:
        return None
    choice = chosen[0]
    other = found[1] if choice == found[0] else found[0]
    predicted = normalize(prediction)
    name = choice if _names(expected, choice) else expected  # the shorter: "K2", not "K2 DSC"
    return _names(predicted, name) and not _names(predicted, other)


@dataclass(frozen=True)
class Scores:
    """Every score of one answer (`choice` None: not a which-is-more question)."""

    paper: bool
    exact: bool
    f1: float
    choice: bool | None


def score(prediction: str, gold: str, question: str) -> Scores:
    """All scores of `prediction` (its leading `Answer:` dropped) against `gold`."""
    answer = final_answer(prediction)
    return Scores(
        paper=is_correct(answer, gold),
        exact=exact_match(answer, gold),
        f1=token_f1(answer, gold),
        choice=names_the_choice(answer, gold, question),
    )
