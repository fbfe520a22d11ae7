"""The paper's accuracy metric: numeric answers within ±10%, else normalized exact match.

Normalization is SQuAD's (lower-case, strip punctuation and the articles a/an/the, collapse
whitespace). A gold answer that is a number is matched by the first number in the prediction.
"""

from __future__ import annotations

import re
import string

NUMERIC_TOLERANCE = 0.10
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+")
_ANSWER = re.compile(r"^\s*answer\s*:\s*", re.IGNORECASE)


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
    """Within ±10% of a numeric gold answer; otherwise equal after `normalize`."""
    target = as_number(gold)
    if target is None:
        return normalize(prediction) == normalize(gold)
    value = first_number(prediction)
    if value is None:
        return False
    return abs(value - target) <= NUMERIC_TOLERANCE * abs(target)
