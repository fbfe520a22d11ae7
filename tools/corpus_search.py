"""`search`: retrieval over a small bundled corpus, so the demo runs offline and repeatably.

Scoring is deterministic: a passage scores the IDF weights of the query words it contains,
with words of its title counting three times (a query naming an entity should land on that
entity's page, not on one that mentions it); ties go to the earlier passage.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from importlib import resources
from typing import NamedTuple

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

TITLE_WEIGHT = 2.0
"""Extra weight of a query word found in the title, on top of its weight in the text."""

_WORD = re.compile(r"[^\W_]+")
_STOPWORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "by", "did", "do", "does", "for", "from", "how"}
    | {"in", "is", "it", "its", "of", "on", "or", "the", "to", "was", "what", "when", "where"}
    | {"which", "who", "whom", "why", "with"}
)


class Passage(NamedTuple):
    title: str
    text: str


def _words(text: str) -> set[str]:
    """Lower-cased content words, a plural `s` dropped so `rivers` finds `river`."""
    words = set()
    for word in _WORD.findall(text.casefold()):
        if word in _STOPWORDS:
            continue
        plural = len(word) > 3 and word.endswith("s") and not word.endswith("ss")
        words.add(word[:-1] if plural else word)
    return words


def load_corpus() -> list[Passage]:
    """The bundled passages (`tools/data/corpus.json`), read as package data."""
    raw = resources.files("tools.data").joinpath("corpus.json").read_text(encoding="utf-8")
    return [Passage(item["title"], item["text"]) for item in json.loads(raw)]


class CorpusIndex:
    """Word sets and IDF weights computed once, so each query is a few set lookups."""

    def __init__(self, passages: Sequence[tuple[str, str]]) -> None:
        self.passages = [Passage(title, text) for title, text in passages]
        self._titles = [_words(p.title) for p in self.passages]
        self._texts = [
            _words(p.text) | title for p, title in zip(self.passages, self._titles, strict=True)
        ]
        counts = Counter(word for words in self._texts for word in words)
        n = len(self.passages)
        self._idf = {word: math.log(1 + n / count) for word, count in counts.items()}

    def score(self, query: str, i: int) -> float:
        return sum(
            self._idf.get(word, 0.0)
            * ((word in self._texts[i]) + TITLE_WEIGHT * (word in self._titles[i]))
            for word in _words(query)
        )

    def best(self, query: str) -> Passage | None:
        """The best-scoring passage, or None when no query word occurs anywhere."""
        if not self.passages:
            return None
        i = max(range(len(self.passages)), key=lambda i: self.score(query, i))
        return self.passages[i] if self.score(query, i) > 0 else None


class SearchArgs(BaseModel):
    query: str = Field(description="An entity or topic, e.g. 'Mount Everest height'.")


def build_corpus_search(passages: Sequence[tuple[str, str]] | None = None) -> BaseTool:
    """A `search` tool over `passages` (`(title, text)` pairs), else the bundled corpus."""
    index = CorpusIndex(load_corpus() if passages is None else passages)

    def _search(query: str) -> str:
        passage = index.best(query)
        return f"{passage.title}: {passage.text}" if passage else f"No result for {query!r}"

    return StructuredTool.from_function(
        func=_search,
        name="search",
        description=(
            "Search a small offline encyclopedia for one entity or topic. Returns the best "
            "passage as 'Title: text', or 'No result for ...'."
        ),
        args_schema=SearchArgs,
        metadata={"pure": True},
        handle_tool_error=False,
    )


search: BaseTool = build_corpus_search()
