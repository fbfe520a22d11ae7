"""Tools shipped with the template: production (`default_tools`) and offline (`offline_tools`)."""

from __future__ import annotations

from langchain_core.tools import BaseTool

from tools.calculate import EvaluationError, calculate, evaluate
from tools.corpus_search import build_corpus_search, search
from tools.examples import DEFAULT_TOOLS_EXAMPLES, OFFLINE_TOOLS_EXAMPLES
from tools.math import build_math_tool
from tools.wikipedia import build_wikipedia_tool, wikipedia_search

__all__ = [
    "DEFAULT_TOOLS_EXAMPLES",
    "OFFLINE_TOOLS_EXAMPLES",
    "EvaluationError",
    "build_corpus_search",
    "build_math_tool",
    "build_wikipedia_tool",
    "calculate",
    "default_tools",
    "evaluate",
    "offline_tools",
    "search",
    "wikipedia_search",
]


def default_tools() -> list[BaseTool]:
    """The paper's tool set: live Wikipedia search and the LLM-backed `math`."""
    return [wikipedia_search, build_math_tool()]


def offline_tools() -> list[BaseTool]:
    """No network, no extra LLM calls: the bundled-corpus `search` and `calculate`."""
    return [search, calculate]
