"""The offline demo: a real graph run whose *models* are simulated, clearly labelled.

Tools are real (bundled-corpus search with a simulated network latency, `math` on the real
`calculate` evaluator). The planner, joiner and `math` models are scripted replays that stream
token by token at the `gpt-4o-mini-like` profile's speed (0.4 s to first token, 60 tokens/s),
so the timeline shows what streamed dispatch does with a realistic model.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.tools import BaseTool, StructuredTool

from agent import Context, create_llm_compiler
from llmcompiler_scripted import PROFILES, ScriptedChatModel
from tools import OFFLINE_TOOLS_EXAMPLES, build_corpus_search, build_math_tool, calculate

QUESTION = (
    "How much taller is Mount Everest than K2, Kilimanjaro and Mont Blanc, "
    "and what is the average of those differences?"
)

PLAN = """\
Thought: the four heights are independent lookups
1. search("Mount Everest height")
2. search("K2 height")
3. search("Kilimanjaro height")
4. search("Mont Blanc height")
Thought: each difference needs Everest and one other mountain
5. math("How many meters taller is Mount Everest than K2?", context=["$1", "$2"])
6. math("How many meters taller is Mount Everest than Kilimanjaro?", context=["$1", "$3"])
7. math("How many meters taller is Mount Everest than Mont Blanc?", context=["$1", "$4"])
8. calculate("($5 + $6 + $7) / 3")
9. join()"""


SEARCH_LATENCY_S = (0.4, 0.9)
"""Simulated network latency of each search call (seeded uniform draw)."""

_METERS = re.compile(r"([\d,]+(?:\.\d+)?)\s*m\b")
_RESULT = re.compile(r"^(\d+)\. \w+\(.*\)\n\s+-> (.+)$", re.MULTILINE)


def _simulated_math(messages: Sequence[BaseMessage]) -> str:
    """Stands in for the math LLM: subtract the first height in meters of each context item."""
    heights = [m.replace(",", "") for m in _METERS.findall(messages[-1].text)]
    return f"Expression: {heights[0]} - {heights[1]}" if len(heights) >= 2 else "Expression: 0"


def _simulated_joiner(messages: Sequence[BaseMessage]) -> str:
    """Stands in for the joiner LLM: reads the executed results out of its prompt."""
    results = dict(_RESULT.findall(messages[-1].text))
    try:
        k2, kili, blanc, avg = (float(results[i]) for i in ("5", "6", "7", "8"))
    except (KeyError, ValueError):
        return "Action: Finish(I could not compute it.)"
    return (
        f"Action: Finish(Mount Everest is {k2:,.0f} m taller than K2, {kili:,.0f} m taller "
        f"than Kilimanjaro and {blanc:,.0f} m taller than Mont Blanc; the average difference "
        f"is {avg:,.1f} m.)"
    )


def _search_with_latency(seed: int) -> BaseTool:
    corpus = build_corpus_search()
    rng = random.Random(seed)

    async def search(query: str) -> str:
        await asyncio.sleep(rng.uniform(*SEARCH_LATENCY_S))
        return str(await corpus.ainvoke({"query": query}))

    return StructuredTool.from_function(
        coroutine=search,
        name="search",
        description=corpus.description + " (demo: network latency simulated)",
        metadata={"pure": True},
    )


def build_demo(seed: int = 7) -> tuple[Any, Context]:
    """The demo graph and its context: real engine and tools, simulated models."""
    profile = PROFILES["gpt-4o-mini-like"]
    planner = ScriptedChatModel(respond=lambda _messages: PLAN, timing=profile)
    joiner = ScriptedChatModel(respond=_simulated_joiner, timing=profile)
    math_model = ScriptedChatModel(respond=_simulated_math, timing=profile)
    tools = [_search_with_latency(seed), build_math_tool(math_model), calculate]
    graph = create_llm_compiler(
        tools, planner=planner, joiner=joiner, examples=OFFLINE_TOOLS_EXAMPLES
    )
    return graph, Context(max_replans=1)
