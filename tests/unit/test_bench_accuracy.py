"""The paper's accuracy metric."""

from __future__ import annotations

import pytest

from llmcompiler_bench.accuracy import (
    Scores,
    exact_match,
    final_answer,
    is_correct,
    names_the_choice,
    normalize,
    options,
    score,
    token_f1,
)


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


@pytest.mark.parametrize(
    ("prediction", "gold", "exact"),
    [
        ("The Nile.", "Nile", True),
        ("an  Amazon   River!", "the amazon river", True),
        ("The Nile is longer.", "Nile", False),
        ("6,400", "6400", True),  # punctuation goes: the comma too
        ("6400.0", "6400", False),  # no numeric tolerance here
    ],
)
def test_exact_match_compares_normalized_text(prediction: str, gold: str, exact: bool) -> None:
    assert exact_match(prediction, gold) is exact


@pytest.mark.parametrize(
    ("prediction", "gold", "f1"),
    [
        ("Nile", "Nile", 1.0),
        ("The Nile is longer", "Nile", 0.5),  # precision 1/3, recall 1: 2·(1/3)/(4/3)
        ("Mount Everest is taller", "Mount Everest", 2 / 3),  # p 2/4, r 2/2
        ("K2", "Mount Everest", 0.0),
        ("yes", "no", 0.0),
        ("no it is not", "no", 0.0),  # HotpotQA: a differing yes/no answer scores 0
        ("", "Nile", 0.0),
    ],
)
def test_token_f1_is_hotpotqas(prediction: str, gold: str, f1: float) -> None:
    assert token_f1(prediction, gold) == pytest.approx(f1)


def test_options_are_the_two_names_of_a_which_is_more_question() -> None:
    assert options("Which river is longer, the Nile or the Amazon River?") == (
        "nile",
        "amazon river",
    )
    assert options("Who was born first, Marie Curie or Albert Einstein?") == (
        "marie curie",
        "albert einstein",
    )
    assert options("How many meters taller is Mount Everest than K2?") is None
    assert options("Were Scott Derrickson and Ed Wood of the same nationality?") is None


@pytest.mark.parametrize(
    ("prediction", "choice"),
    [
        ("Mount Everest", True),
        ("Mount Everest is taller than the other one (8,849 m).", True),
        ("mount everest!", True),
        ("Mount Everest is taller than K2.", False),  # names the other option too
        ("K2", False),
        ("Everest", False),  # not the option's name
        ("I could not find the answer.", False),
    ],
)
def test_which_is_more_needs_the_gold_option_without_the_other(
    prediction: str, choice: bool
) -> None:
    question = "Which mountain is taller, Mount Everest or K2?"
    assert names_the_choice(prediction, "Mount Everest", question) is choice


def test_which_is_more_reads_a_gold_answer_longer_than_its_option() -> None:
    question = "Which writer was from England, Henry Roth or Robert Erskine Childers?"
    gold = "Robert Erskine Childers DSC"
    assert names_the_choice("Robert Erskine Childers", gold, question) is True
    assert names_the_choice("Henry Roth", gold, question) is False


def test_which_is_more_does_not_apply_to_other_questions() -> None:
    question = "How many meters taller is Mount Everest than K2?"
    assert names_the_choice("238", "238", question) is None
    # The gold answer names neither option: not a which-is-more question.
    assert names_the_choice("yes", "yes", "Is it big, small or large?") is None


def test_score_gives_every_metric_of_one_answer() -> None:
    question = "Which river is longer, the Nile or the Amazon River?"
    assert score("Answer: The Nile is longer.", "Nile", question) == Scores(
        paper=False, exact=False, f1=0.5, choice=True
    )
    assert score("Nile", "Nile", question) == Scores(paper=True, exact=True, f1=1.0, choice=True)
    numeric = score("about 240 meters", "238", "How many meters taller is Mount Everest than K2?")
    assert numeric == Scores(paper=True, exact=False, f1=0.0, choice=None)
