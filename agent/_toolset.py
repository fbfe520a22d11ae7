"""What a user passes as tools, as the engine needs them: a `Toolset`, built once.

`create_llm_compiler` builds it from the tools it is given (LangChain `BaseTool`s or plain,
sync or async, functions; a sequence, or a mapping whose keys name them) and hands the same
object to the planner, the parser, the scheduler and the reviewer: tool names, the argument
signatures the parser binds calls to, and the traits the scheduler reads from each tool's
metadata are worked out here once, not per round or per call. The parser API accepts the same
inputs, so `parse_plan(text, tools)` reads plans exactly as the graph does.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel

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


@dataclass(frozen=True)
class Signature:
    """A tool's parameters in order and the required ones, from the schema the model sees."""

    params: tuple[str, ...]
    required: frozenset[str]

    @classmethod
    def of(cls, tool: BaseTool) -> Signature:
        schema = tool.tool_call_schema
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            fields = schema.model_fields
            return cls(tuple(fields), frozenset(n for n, f in fields.items() if f.is_required()))
        json_schema = schema if isinstance(schema, dict) else schema.schema()  # dict, pydantic v1
        return cls(
            tuple(json_schema.get("properties", {})), frozenset(json_schema.get("required", ()))
        )


@dataclass(frozen=True)
class ToolTraits:
    """What a tool's metadata tells the engine (docs/protocol.md, "Tool metadata")."""

    pure: bool = False
    """Same arguments, same result, no side effects: identical calls may run once."""
    parallel: bool = True
    """False: calls of the tool in one run execute one at a time, in plan order."""
    cache_ttl_s: float | None = None
    """Seconds a result may be reused across runs (the result cache); None: never."""
    placement: str | None = None
    """Where calls run (`"thread"`, `"process"`, `"ray"`); None: the Context's default."""
    ray_options: Mapping[str, Any] = field(default_factory=dict)
    """Options of a Ray-placed call: `num_cpus`, `num_gpus` and `ray_options` merged."""

    @classmethod
    def of(cls, tool: BaseTool) -> ToolTraits:
        metadata = tool.metadata or {}
        ttl = metadata.get("cache_ttl_s")
        options: dict[str, Any] = {
            "num_cpus": metadata.get("num_cpus", 1),
            "num_gpus": metadata.get("num_gpus", 0),
            "name": f"llmcompiler:{tool.name}",
        }
        options.update(metadata.get("ray_options") or {})
        return cls(
            pure=bool(metadata.get("pure")),
            parallel=metadata.get("parallel", True) is not False,
            cache_ttl_s=float(ttl) if isinstance(ttl, int | float) and ttl > 0 else None,
            placement=metadata.get("placement"),
            ray_options=options,
        )


class Toolset(Mapping[str, BaseTool]):
    """The graph's tools by the name plans call them, with their signatures and traits.

    A mapping of name to tool (so it goes wherever tools by name go); `signature(name)` and
    `traits(name)` give what the parser and the scheduler need, computed once.
    """

    def __init__(self, tools: Iterable[ToolLike] | Mapping[str, ToolLike]) -> None:
        self._tools = named_tools(tools)
        self._signatures = {name: Signature.of(tool) for name, tool in self._tools.items()}
        self._traits = {name: ToolTraits.of(tool) for name, tool in self._tools.items()}

    @classmethod
    def of(cls, tools: Iterable[ToolLike] | Mapping[str, ToolLike]) -> Toolset:
        """`tools` as a Toolset (itself, when it already is one)."""
        return tools if isinstance(tools, Toolset) else cls(tools)

    def __getitem__(self, name: str) -> BaseTool:
        return self._tools[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def signature(self, name: str) -> Signature | None:
        """The tool's signature; None for a name that is no tool of the set."""
        return self._signatures.get(name)

    def traits(self, name: str) -> ToolTraits:
        """The tool's traits; the defaults for a name that is no tool (it never runs)."""
        return self._traits.get(name, ToolTraits())
