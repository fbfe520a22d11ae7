"""The paper's accuracy metric."""

from __future__ import annotations

import pytest

from llmcompiler_bench.accuracy import final_answer, is_correct, normalize


def test_normalize_strips_case_punctuation_and_articles() -> None:
    assert normalize("The  Scotch Collie!") == "scotch collie"
    assert normalize("An apple, a pear") == "apple pear"


@pytest.mark.parametrize(
    ("prediction", "gold", "correct"),
    [
        ("yes", "yes", True),
        ("Yes.", "yes", True),
        ("the Mariana Trench", "Mariana Trench", True),
        ("Mariana", "Mariana Trench", False),
        ("5931.80", "5931.80", True),
        ("about 6,400 meters", "5931.80", True),  # within 10%
        ("6600", "5931.80", False),  # 11% off
        ("-1.9", "-2", True),
        ("no number here", "3307", False),
        ("1,200", "1200", True),
    ],
)
def test_numbers_within_ten_percent_else_exact_match(
    prediction: str, gold: str, correct: bool
) -> None:
    assert is_correct(prediction, gold) is correct


def test_final_answer_drops_reacts_answer_prefix() -> None:
    assert final_answer("Answer: Scotch Collie") == "Scotch Collie"
    assert final_answer("  answer:yes") == "yes"
    assert final_answer("The answer is yes") == "The answer is yes"
