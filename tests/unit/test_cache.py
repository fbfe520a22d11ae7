"""The cross-run result cache: hits across runs and threads, TTL, and what is never cached."""

from __future__ import annotations

import asyncio

from langchain_core.tools import tool
from langgraph.store.memory import InMemoryStore

from agent import Context
from tests.helpers import run_graph, scripted_graph

CALLS: list[str] = []


@tool
async def weather(city: str) -> str:
    """Weather in `city`."""
    CALLS.append(city)
    if city == "nowhere":
        raise ValueError("no such city")
    return f"sunny in {city}"


weather.metadata = {"pure": True, "cache_ttl_s": 60}


@tool
async def clock(city: str) -> str:
    """Current time in `city` (not cacheable)."""
    CALLS.append(f"clock {city}")
    return "12:00"


PLAN = '1. weather("Paris")\n2. clock("Paris")\n3. weather("nowhere")\n4. join()'


async def test_second_run_on_another_thread_hits_the_cache() -> None:
    CALLS.clear()
    graph, *_ = scripted_graph(
        [weather, clock],
        [PLAN, PLAN],
        ["Action: Finish(a)", "Action: Finish(b)"],
        store=InMemoryStore(),
    )
    first = await run_graph(graph, "q", config={"configurable": {"thread_id": "one"}})
    second = await run_graph(graph, "q", config={"configurable": {"thread_id": "two"}})
    assert CALLS == ["Paris", "clock Paris", "nowhere", "clock Paris", "nowhere"]
    assert "cache_hit" not in first.tasks[1]
    assert second.tasks[1]["cache_hit"] is True and second.tasks[1]["result"] == "sunny in Paris"
    assert second.tasks[3]["status"] == "error"  # failures are never cached
    hits = [e for e in second.of("task_finished") if e.get("cache_hit")]
    assert [e["idx"] for e in hits] == [1]
    assert not second.of("task_started", 1)


async def test_expired_entries_and_disabled_cache_run_the_tool() -> None:
    CALLS.clear()
    plan = '1. weather("Rome")\n2. join()'
    store = InMemoryStore()
    graph, *_ = scripted_graph([weather], [plan] * 2, ["Action: Finish(x)"] * 2, store=store)
    await run_graph(graph, "q")
    await run_graph(graph, "q", context=Context(cache_results=False))
    # Traits are read when the graph is built: a graph over a short-lived copy of the tool
    # shares the store, and finds the entry expired.
    short = weather.model_copy(update={"metadata": {"pure": True, "cache_ttl_s": 0.05}})
    graph, *_ = scripted_graph([short], [plan], ["Action: Finish(x)"], store=store)
    await asyncio.sleep(0.1)
    await run_graph(graph, "q")
    assert CALLS == ["Rome", "Rome", "Rome"]


async def test_without_a_store_nothing_is_cached() -> None:
    CALLS.clear()
    plan = '1. weather("Oslo")\n2. join()'
    graph, *_ = scripted_graph([weather], [plan] * 2, ["Action: Finish(x)"] * 2)
    await run_graph(graph, "q")
    await run_graph(graph, "q")
    assert CALLS == ["Oslo", "Oslo"]
