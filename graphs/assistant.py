"""A chat assistant that embeds LLMCompiler as a subgraph (`langgraph.json`: "assistant").

START ──► router ──► llmcompiler (the compiled engine graph, as a node) ──► END
             └─────► answer (one direct model call) ─────────────────────► END

The router is one cheap model call deciding whether the message needs tools; most chat turns
("thanks!", "rephrase that") do not, and skip planning altogether. The engine shares
`messages` (and `tasks`) with this graph, reads its knobs off the same `Context`, and has no
checkpointer of its own: it persists with the parent's, so an `interrupt()` in a tool pauses
the whole assistant and `Command(resume=...)` continues inside the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, SystemMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from agent import Context, TaskRecord, context_of, create_llm_compiler
from agent.models import ModelSpec, ainvoke_with_retry, resolve_model
from tools import DEFAULT_TOOLS_EXAMPLES, default_tools

Route = Literal["tools", "direct"]

ROUTER_SYSTEM = """\
Decide how to handle the user's last message. Reply with one word:
TOOLS if answering needs facts to look up or arithmetic to compute;
DIRECT if it is small talk, or can be answered from the conversation so far."""

ANSWER_SYSTEM = "You are a concise, helpful assistant. Answer the user's last message."


@dataclass(kw_only=True)
class AssistantInput:
    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)


@dataclass(kw_only=True)
class AssistantOutput(AssistantInput):
    tasks: list[TaskRecord] = field(default_factory=list)
    """The engine's task list of the last turn that used tools (empty after a direct answer)."""


@dataclass(kw_only=True)
class AssistantState(AssistantOutput):
    route: Route | None = None


def parse_route(text: str) -> Route:
    """DIRECT only when the model says so plainly; anything unclear goes to the tools."""
    words = text.strip().split()
    return "direct" if words and words[0].strip(".:").upper() == "DIRECT" else "tools"


def build_assistant(
    tools: Sequence[BaseTool | Callable[..., Any]],
    *,
    router: ModelSpec | None = None,
    answerer: ModelSpec | None = None,
    planner: ModelSpec | None = None,
    joiner: ModelSpec | None = None,
    checkpointer: BaseCheckpointSaver | None = None,
    examples: str | None = None,
) -> CompiledStateGraph[AssistantState, Context, AssistantInput, AssistantOutput]:
    """Compile the router assistant around an LLMCompiler graph over `tools`.

    `router` and `answerer` default to the planner model (the argument, else the Context's),
    so one configured model serves every node. `checkpointer` is the parent's and, through
    it, the engine's (None under `langgraph dev`, which brings its own).
    """
    compiler = create_llm_compiler(tools, planner=planner, joiner=joiner, examples=examples)

    def model_for(spec: ModelSpec | None, ctx: Context) -> Any:
        chosen = spec if spec is not None else planner if planner is not None else ctx.planner_model
        return resolve_model(
            chosen, base_url=ctx.base_url, temperature=ctx.temperature, timeout=ctx.model_timeout_s
        )

    async def route(state: AssistantState, runtime: Runtime[Context]) -> dict[str, Any]:
        ctx = context_of(runtime.context)
        reply = await ainvoke_with_retry(
            model_for(router, ctx),
            [SystemMessage(ROUTER_SYSTEM), *state.messages],
            retries=ctx.llm_retries,
            config={"run_name": "router_model", "tags": ["nostream"]},  # a label, not chat
        )
        return {"route": parse_route(reply.text)}

    async def answer(state: AssistantState, runtime: Runtime[Context]) -> dict[str, Any]:
        ctx = context_of(runtime.context)
        reply = await ainvoke_with_retry(
            model_for(answerer, ctx),
            [SystemMessage(ANSWER_SYSTEM), *state.messages],
            retries=ctx.llm_retries,
            config={"run_name": "answer_model"},
        )
        # The streamed reply's id: chat clients already hold its tokens, so no second copy.
        message = AIMessage(reply.text, name="assistant", id=reply.id)
        return {"messages": [message], "tasks": []}

    def after_route(state: AssistantState) -> str:
        return "llmcompiler" if state.route == "tools" else "answer"

    builder = StateGraph(
        AssistantState,
        context_schema=Context,
        input_schema=AssistantInput,
        output_schema=AssistantOutput,
    )
    builder.add_node("router", route)
    builder.add_node("llmcompiler", compiler)
    builder.add_node("answer", answer)
    builder.add_edge(START, "router")
    builder.add_conditional_edges("router", after_route, ["llmcompiler", "answer"])
    builder.add_edge("llmcompiler", END)
    builder.add_edge("answer", END)
    return builder.compile(checkpointer=checkpointer, name="assistant")


graph = build_assistant(default_tools(), examples=DEFAULT_TOOLS_EXAMPLES)
