"""Tools from the LangChain ecosystem work in a plan as they come.

`BaseTool` subclasses (pydantic argument schema, sync-only or async-only), `@tool` and
`StructuredTool.from_function` tools, plain functions and coroutines, and an MCP server's tools
loaded through `langchain-mcp-adapters` from a tiny local stdio server (tests/integration/apps).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

from langchain_core.tools import BaseTool, StructuredTool, ToolException, tool
from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain_mcp_adapters.tools import load_mcp_tools
from pydantic import BaseModel, Field

from agent._references import result_text
from tests.helpers import run_graph, scripted_graph

MCP_SERVER = Path(__file__).resolve().parent / "apps" / "mcp_server.py"
RATES = {"EUR": 1.1, "GBP": 1.25}
PRICES = {"book": 12.5}


class DollarArgs(BaseModel):
    amount: float = Field(description="Amount in `currency`.")
    currency: Literal["EUR", "GBP"] = Field(default="EUR", description="Source currency.")


class ToDollars(BaseTool):
    """A classic subclass: pydantic schema, sync `_run` only (runs in the engine's pool)."""

    name: str = "to_dollars"
    description: str = "Convert an amount to US dollars."
    args_schema: type[BaseModel] = DollarArgs
    threads: list[str] = Field(default_factory=list)

    def _run(self, amount: float, currency: str = "EUR") -> float:
        self.threads.append(threading.current_thread().name)
        return round(amount * RATES[currency], 2)


class PriceArgs(BaseModel):
    item: str


class FetchPrice(BaseTool):
    """Async-only subclass: `_arun` does the work, `_run` refuses."""

    name: str = "fetch_price"
    description: str = "Price of `item` in GBP."
    args_schema: type[BaseModel] = PriceArgs

    def _run(self, item: str) -> float:
        raise NotImplementedError("fetch_price is async-only")

    async def _arun(self, item: str) -> float:
        await asyncio.sleep(0.02)
        return PRICES[item]


@tool
async def exchange_rate(currency: str) -> float:
    """Dollars per unit of `currency`."""
    await asyncio.sleep(0.02)
    if currency not in RATES:
        raise ToolException(f"no rate for {currency}")
    return RATES[currency]


def _multiply(value: float, factor: float) -> float:
    return round(value * factor, 2)


multiply = StructuredTool.from_function(
    func=_multiply, name="multiply", description="value * factor."
)


def describe(amount: float, unit: str) -> str:
    """A human-readable amount."""
    return f"{amount:.2f} {unit}"


async def shout(text: str) -> str:
    """Upper-case `text`."""
    await asyncio.sleep(0.01)
    return text.upper() + "!"


async def test_every_kind_of_tool_runs_and_chains_in_one_plan() -> None:
    to_dollars = ToDollars()
    plan = """\
1. to_dollars(amount=100, currency="EUR")
2. exchange_rate("GBP")
3. fetch_price(item="book")
4. multiply(value="$3", factor="$2")
5. describe(amount="$4", unit="usd")
6. shout(text="$5 and $1 usd")
7. join()
<END_OF_PLAN>"""
    graph, planner, _ = scripted_graph(
        [to_dollars, exchange_rate, FetchPrice(), multiply, describe, shout], [plan]
    )
    run = await run_graph(graph, "convert things")

    assert {t["idx"]: t["status"] for t in run.output["tasks"]} == dict.fromkeys(
        range(1, 7), "done"
    )
    assert [run.tasks[i]["result"] for i in range(1, 7)] == [
        110.0,
        1.25,
        12.5,
        15.62,
        "15.62 usd",
        "15.62 USD AND 110.0 USD!",
    ]
    # A sync tool runs in the engine's pool, never on the event loop's thread.
    assert to_dollars.threads and to_dollars.threads[0].startswith("llmcompiler-tool")
    tool_list = str(planner.calls[0][0].content)
    for signature in (
        "to_dollars(amount: float, currency: str = 'EUR')",
        "exchange_rate(currency: str)",
        "fetch_price(item: str)",
        "multiply(value: float, factor: float)",
        "describe(amount: float, unit: str)",
        "shout(text: str)",
    ):
        assert signature in tool_list, tool_list


async def test_schema_violations_and_tool_errors_fail_only_their_task() -> None:
    plan = """\
1. to_dollars(amount="lots")
2. to_dollars(amount=5, currency="JPY")
3. exchange_rate("JPY")
4. multiply(value="$3", factor=2)
5. to_dollars(amount=10, currency="GBP")
6. join()
<END_OF_PLAN>"""
    graph, _, _ = scripted_graph([ToDollars(), exchange_rate, multiply], [plan])
    run = await run_graph(graph, "q")

    statuses = {t["idx"]: t["status"] for t in run.output["tasks"]}
    assert statuses == {1: "error", 2: "error", 3: "error", 4: "skipped", 5: "done"}
    assert "amount" in run.tasks[1]["error"] and "float" in run.tasks[1]["error"]
    assert "currency" in run.tasks[2]["error"]
    assert "no rate for JPY" in run.tasks[3]["error"]
    assert "$3" in run.tasks[4]["error"]
    assert run.tasks[5]["result"] == 12.5


@asynccontextmanager
async def mcp_tools() -> AsyncIterator[list[BaseTool]]:
    """The local MCP server's tools over one stdio session (the server exits with it).

    A context manager, not a fixture: the MCP client's anyio scopes must close in the task
    that opened them.

    `handle_tool_errors=False`: an MCP tool error raises, so the scheduler records the task as
    failed and skips its dependents, instead of passing the error text on as a result.
    """
    client = MultiServerMCPClient(
        {"local": {"command": sys.executable, "args": [str(MCP_SERVER)], "transport": "stdio"}}
    )
    async with client.session("local") as session:
        yield await load_mcp_tools(session, handle_tool_errors=False)


async def test_mcp_server_tools_run_in_parallel_in_a_plan() -> None:
    plan = """\
1. population("Paris")
2. population(city="Berlin")
3. population("Atlantis")
4. add(a="$3", b=1)
5. add(a=2, b=3)
6. join()
<END_OF_PLAN>"""
    async with mcp_tools() as tools:
        graph, planner, joiner = scripted_graph(tools, [plan])
        run = await run_graph(graph, "How many people live in Paris and Berlin?")

    assert "population(city: str)" in str(planner.calls[0][0].content)
    statuses = {t["idx"]: t["status"] for t in run.output["tasks"]}
    assert statuses == {1: "done", 2: "done", 3: "error", 4: "skipped", 5: "done"}
    assert "2100000" in result_text(run.tasks[1]["result"])
    assert "3700000" in result_text(run.tasks[2]["result"])
    assert "5" in result_text(run.tasks[5]["result"])
    assert "Atlantis" in run.tasks[3]["error"]
    # Both lookups were in flight together (one server, one session).
    assert run.position("task_started", 2) < run.position("task_finished", 1)
    assert "3700000" in str(joiner.calls[0][-1].content)


async def test_mcp_results_chain_into_typed_arguments() -> None:
    plan = '1. population("Paris")\n2. population("Berlin")\n3. add(a="$1", b="$2")\n4. join()'
    async with mcp_tools() as tools:
        graph, _, _ = scripted_graph(tools, [plan])
        run = await run_graph(graph, "q")
    assert run.tasks[3]["status"] == "done", run.tasks[3]["error"]
    assert result_text(run.tasks[3]["result"]) == "5800000"
