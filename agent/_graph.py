"""`create_llm_compiler`: planner, scheduler and joiner assembled into one LangGraph graph.

START ──► planner ──┐   (same superstep; linked in-process by agent._handoff)
   └────► scheduler ┴──► joiner ──► END
             ▲                 │ replan
             └─────────────────┘ (planner and scheduler again)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore

from agent._context import Context
from agent._joiner import make_joiner, route_after_joiner
from agent._planner import make_planner
from agent._prompts import derived_examples
from agent._scheduler import make_scheduler
from agent._state import InputState, OutputState, State
from agent._toolset import ToolLike, Toolset
from agent.models import ModelSpec


def create_llm_compiler(
    tools: Sequence[ToolLike] | Mapping[str, ToolLike],
    *,
    planner: ModelSpec | None = None,
    joiner: ModelSpec | None = None,
    checkpointer: BaseCheckpointSaver | None = None,
    store: BaseStore | None = None,
    name: str = "llmcompiler",
    examples: str | None = None,
) -> CompiledStateGraph[State, Context, InputState, OutputState]:
    """Compile an LLMCompiler graph over `tools` (a sequence, or a mapping whose keys name
    the tools: the key is then the tool's name everywhere, the prompt included).

    Models (an instance or `"provider:model"`) are resolved when a run needs them, never here:
    the graph builds with no API key set. `examples` are the planner's worked examples; give
    ones that use your tools (by default one is written with the tools' own names). `store`
    holds the cross-run result cache of tools marked `metadata={"cache_ttl_s": ...}` (the dev
    server and LangGraph Server bring their own).
    """
    toolset = Toolset(tools)  # names, signatures and traits, worked out once
    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    examples = examples or derived_examples(list(toolset.values()))
    builder.add_node("planner", make_planner(toolset, planner, examples))
    builder.add_node("scheduler", make_scheduler(toolset))
    builder.add_node("joiner", make_joiner(joiner, planner, tuple(toolset)))
    builder.add_edge(START, "planner")
    builder.add_edge(START, "scheduler")
    builder.add_edge(["planner", "scheduler"], "joiner")
    builder.add_conditional_edges("joiner", route_after_joiner, ["planner", "scheduler", "__end__"])
    return builder.compile(checkpointer=checkpointer, store=store, name=name)
