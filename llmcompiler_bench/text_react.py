"""The paper's ReAct baseline in plain text: Thought / Action / Observation, no tool calling.

Servers without native tool calling (many local ones) can still run ReAct when the protocol is
text: the model writes `Thought:` and `Action: tool(arguments)`, generation stops before
`Observation:`, the tool's result is appended as the observation, and the loop goes on until
`Final Answer:`. Actions are read by the engine's own plan parser, so arguments, unknown tools
and bad arguments are handled (and reported back to the model) exactly as in a plan.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from agent._prompts import describe_tool
from agent._references import result_text
from agent._results import preview
from agent.plan import parse_plan

MAX_STEPS = 8
OBSERVATION_CHARS = 1_000

TEXT_REACT_SYSTEM = """\
Answer the question with the tools below. Use exactly this format:
Thought: what to do next
Action: tool(arguments as Python literals)
Observation: the tool's result (written for you; never write it yourself)
... (Thought / Action / Observation repeat as needed)
Thought: I know the answer
Final Answer: the answer, as short as possible

Tools:
{tools}

Example:
Question: Which is taller, Denali or Aconcagua?
Thought: I need Denali's height.
Action: search("Denali height")
Observation: Denali ... is 6,190 m high.
Thought: Now Aconcagua's height.
Action: search("Aconcagua height")
Observation: Aconcagua ... at 6,961 m.
Thought: I know the answer
Final Answer: Aconcagua"""

_FINAL = re.compile(r"Final\s+Answer\s*:\s*(.*)", re.I | re.S)
_ACTION = re.compile(r"Action\s*:\s*(.+)", re.I)


@dataclass(kw_only=True)
class TextReactState:
    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    scratchpad: str = ""
    steps: int = 0


def _final(text: str) -> str | None:
    match = _FINAL.search(text)
    return match.group(1).strip().split("\n\n")[0].strip() if match else None


def create_text_react_agent(
    tools: Sequence[BaseTool], model: BaseChatModel, *, name: str = "react-text"
) -> Any:
    """Compile the text-protocol ReAct loop over `tools` with `model`."""
    by_name = {tool.name: tool for tool in tools}
    system = TEXT_REACT_SYSTEM.format(tools="\n".join(describe_tool(t) for t in tools))

    async def agent(state: TextReactState) -> dict[str, Any]:
        question = next(m.text for m in reversed(state.messages) if m.type == "human")
        prompt = [
            SystemMessage(system),
            HumanMessage(f"Question: {question}\n{state.scratchpad}".rstrip()),
        ]
        reply = (await model.ainvoke(prompt, stop=["Observation:"])).text
        steps = state.steps + 1
        answer = _final(reply)
        action = _ACTION.search(reply)
        if answer is None and (action is None or steps >= MAX_STEPS):
            answer = _final(f"Final Answer: {reply}") or reply.strip()
        if answer is not None:
            return {"messages": [AIMessage(answer)], "steps": steps}
        assert action is not None
        call = action.group(1).strip().strip("`")
        task = parse_plan(f"1. {call}", by_name)[0]
        if task.is_join or task.error is not None:
            observation = f"error: {task.error or 'not a tool call'}"
        else:
            try:
                result = await by_name[task.tool].ainvoke(task.args)
                observation = result_text(preview(result, OBSERVATION_CHARS))
            except Exception as exc:
                observation = f"error: {type(exc).__name__}: {exc}"
        thought = reply[: action.end()].strip()
        scratchpad = f"{state.scratchpad}\n{thought}\nObservation: {observation}"
        return {"scratchpad": scratchpad, "steps": steps}

    def route(state: TextReactState) -> str:
        last = state.messages[-1] if state.messages else None
        return END if last is not None and last.type == "ai" else "agent"

    builder = StateGraph(TextReactState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route, ["agent", END])
    return builder.compile(name=name)
