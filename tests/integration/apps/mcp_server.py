"""A tiny MCP server over stdio, for loading its tools through `langchain-mcp-adapters`.

Usage: python tests/apps/mcp_server.py  (speaks MCP on stdin/stdout; run by the MCP client)
"""

from __future__ import annotations

import asyncio

from mcp.server.fastmcp import FastMCP

server = FastMCP("llmcompiler-test-tools")


@server.tool()
async def population(city: str) -> int:
    """Population of `city` (a few cities only)."""
    await asyncio.sleep(0.05)
    return {"Paris": 2_100_000, "Berlin": 3_700_000, "Madrid": 3_300_000}[city]


@server.tool()
def add(a: int, b: int) -> int:
    """a + b."""
    return a + b


if __name__ == "__main__":
    server.run("stdio")
