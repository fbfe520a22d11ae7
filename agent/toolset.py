"""What a user passes as tools, as the engine needs them: LangChain tools by unique name.

Shared by `create_llm_compiler` and the parser API, so `parse_plan(text, tools)` accepts the
same tools (LangChain `BaseTool`s or plain, sync or async, functions) as the graph does.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool

JOIN = "join"
"""The pseudo-tool that ends a plan; its task depends on every task of the plan."""

ToolLike = BaseTool | Callable[..., Any]


def as_tool(item: ToolLike) -> BaseTool:
    """A plain (async) function becomes a tool; its docstring, if any, is the description."""
    if isinstance(item, BaseTool):
        return item
    description = inspect.getdoc(item) or f"{item.__name__}{inspect.signature(item)}"
    if inspect.iscoroutinefunction(item):
        return StructuredTool.from_function(coroutine=item, description=description)
    return StructuredTool.from_function(item, description=description)


def _renamed(tool: BaseTool, name: str) -> BaseTool:
    """A copy of `tool` called `name`, so that one name serves everywhere: the planner's
    prompt, the plan, the result cache and common-call elimination."""
    return tool if tool.name == name else tool.model_copy(update={"name": name})


def named_tools(tools: Iterable[ToolLike] | Mapping[str, ToolLike]) -> dict[str, BaseTool]:
    """Tools by the name plans call them (a mapping's keys, else each tool's own name);
    `join` is reserved and names must be unique."""
    pairs = (
        [(name, _renamed(as_tool(item), name)) for name, item in tools.items()]
        if isinstance(tools, Mapping)
        else [(tool.name, tool) for tool in map(as_tool, tools)]
    )
    named: dict[str, BaseTool] = {}
    for name, tool in pairs:
        if name == JOIN:
            raise ValueError("'join' is reserved by the plan language; rename the tool")
        if name in named:
            raise ValueError(f"two tools are named {name!r}")
        named[name] = tool
    return named
