"""The offline `search` tool: bundled corpus, deterministic ranking, title boost, misses."""

from __future__ import annotations

import pytest

from tools.corpus_search import CorpusIndex, Passage, build_corpus_search, load_corpus, search


def test_bundled_corpus_loads_as_package_data() -> None:
    passages = load_corpus()
    assert len(passages) >= 30
    assert len({p.title for p in passages}) == len(passages)
    assert all(p.title and p.text for p in passages)


@pytest.mark.parametrize(
    ("query", "title", "fact"),
    [
        ("Mount Everest", "Mount Everest", "8,849 m"),
        ("K2 height", "K2", "8,611 m"),
        ("highest mountain in Africa", "Kilimanjaro", "5,895 m"),
        ("Mont Blanc elevation", "Mont Blanc", "4,806 m"),
        ("Denali", "Denali", "6,190 m"),
        ("Aconcagua", "Aconcagua", "6,961 m"),
        ("population of Brazil", "Brazil", "203 million"),
        ("How long is the Nile?", "Nile", "6,650 km"),
        ("longest river in Asia", "Yangtze", "6,300 km"),
        ("who directed Inception", "Inception", "Christopher Nolan"),
        ("The Godfather release year", "The Godfather", "1972"),
        ("When was Marie Curie born?", "Marie Curie", "1867"),
        ("einstein", "Albert Einstein", "1879"),
    ],
)
def test_hits(query: str, title: str, fact: str) -> None:
    result = search.invoke({"query": query})
    assert result.startswith(f"{title}: ")
    assert fact in result


@pytest.mark.parametrize("query", ["quantum chromodynamics", "", "the of and"])
def test_miss(query: str) -> None:
    assert search.invoke({"query": query}) == f"No result for {query!r}"


def test_title_match_outranks_mentions() -> None:
    passages = [
        ("Tenzing Norgay", "A Sherpa who climbed Everest, Everest's summit, with Hillary."),
        ("Everest", "The highest mountain."),
    ]
    index = CorpusIndex(passages)
    assert index.score("Everest", 1) > index.score("Everest", 0)
    assert build_corpus_search(passages).invoke({"query": "Everest"}).startswith("Everest: ")


def test_ties_go_to_the_earlier_passage() -> None:
    passages = [Passage("A", "shared words here"), Passage("B", "shared words here")]
    assert CorpusIndex(passages).best("shared words") == passages[0]


def test_ranking_is_case_and_plural_insensitive() -> None:
    tool = build_corpus_search([("Rivers", "Long RIVERS of the world."), ("Lakes", "Lakes.")])
    assert tool.invoke({"query": "river"}).startswith("Rivers: ")


def test_empty_corpus_always_misses() -> None:
    assert build_corpus_search([]).invoke({"query": "Everest"}) == "No result for 'Everest'"


def test_tool_schema() -> None:
    assert search.name == "search"
    assert search.metadata == {"pure": True}
    assert list(search.args) == ["query"]
