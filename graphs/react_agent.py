"""The ReAct baseline builder: LangChain's `create_agent` with the same tools and model settings.

It takes its model from the same `Context` as the compiler (resolved per call, so the graph
builds with no API key), which keeps every comparison like for like. `parallel_tool_calls`
chooses between classic sequential ReAct (one tool per model turn) and the parallel-call
variant (OpenAI parallel function calling).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from langchain.agents import create_agent
from langchain.agents.middleware import ModelRequest, ModelResponse, wrap_model_call
from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver

from agent import Context, context_of
from agent.models import ModelSpec, resolve_model

REACT_SYSTEM = """\
Answer the user's question using the tools. Think step by step: before each tool call write \
one short sentence saying why you call it, then call it; read its result before the next \
step. When you know the answer, reply with it directly.

Example:
Question: Which is taller, Mount Everest or K2, and by how many meters?
I need Everest's height first. -> search("Mount Everest height") -> 8,849 m
Now K2's height. -> search("K2 height") -> 8,611 m
The difference needs arithmetic. -> math("difference", context=["8,849 m", "8,611 m"]) -> 238
Answer: Everest, by 238 meters."""


def create_react_agent(
    tools: Sequence[BaseTool | Callable[..., Any]],
    *,
    model: ModelSpec | None = None,
    parallel_tool_calls: bool = True,
    system_prompt: str = REACT_SYSTEM,
    checkpointer: BaseCheckpointSaver | None = None,
    name: str = "react",
) -> Any:
    """Compile the ReAct baseline over `tools`, configured by `Context` like the compiler."""

    @wrap_model_call
    async def model_from_context(
        request: ModelRequest[Context],
        handler: Callable[[ModelRequest[Context]], Awaitable[ModelResponse]],
    ) -> ModelResponse:
        ctx = context_of(request.runtime.context)
        chosen = resolve_model(
            model if model is not None else ctx.planner_model,
            base_url=ctx.base_url,
            temperature=ctx.temperature,
            max_tokens=ctx.max_output_tokens,
            timeout=ctx.model_timeout_s,
        )
        settings = dict(request.model_settings)
        if not parallel_tool_calls:
            settings["parallel_tool_calls"] = False
        return await handler(request.override(model=chosen, model_settings=settings))

    placeholder = cast(BaseChatModel, init_chat_model(configurable_fields="any"))
    return create_agent(
        placeholder,  # never called: the middleware picks the model per request
        list(tools),
        system_prompt=system_prompt,
        middleware=[model_from_context],
        context_schema=Context,
        checkpointer=checkpointer,
        name=name,
    )
