"""What the scripted models say: the gold plan, the joiner's answer, and ReAct's turns.

The joiner and ReAct's last turn answer correctly only when every task's evidence reached
their prompt, so a lost or wrong result shows up as a wrong answer instead of going unseen.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from agent._prompts import JOINER_THOUGHT
from llmcompiler_bench.personas import PERSONAS, Persona
from llmcompiler_bench.plans import GoldTask, layers, results_of
from llmcompiler_bench.workloads import Item
from llmcompiler_scripted.chat_model import Responder

NOT_FOUND = "I could not find the answer."


def _complete(item: Item, text: str) -> bool:
    return all(task.evidence in text for task in item.tasks)


def planner(item: Item, persona: Persona = PERSONAS["clean"]) -> Responder:
    """The planner streams the gold plan (as the persona writes it), whatever the prompt."""
    text = persona.plan(item.plan.text)
    return lambda _messages: text


def _asks_for_thought(messages: Sequence[BaseMessage]) -> bool:
    """Whether the joiner's system prompt asks for a `Thought:` first (`joiner_thought`)."""
    return any(m.type == "system" and JOINER_THOUGHT in m.text for m in messages)


def joiner(item: Item, persona: Persona = PERSONAS["clean"]) -> Responder:
    """The answer when the prompt holds every result, else a wrong answer (in the persona's
    form of reply, with a thought first when the prompt asks for one)."""

    def respond(messages: list[BaseMessage]) -> str:
        complete = _complete(item, "\n".join(m.text for m in messages))
        thought = "the results answer the question." if complete else "some results are missing."
        answer = item.answer if complete else NOT_FOUND
        return persona.reply(thought if _asks_for_thought(messages) else None, answer)

    return respond


def _thought(calls: Sequence[GoldTask]) -> str:
    """The one sentence a ReAct model writes before its call(s)."""
    if len(calls) > 1:
        return f"These {len(calls)} calls do not depend on each other, so I make them at once."
    call = calls[0]
    subject = next((v for v in call.args.values() if isinstance(v, str)), call.tool)
    return f"Next I need {subject}, so I call {call.tool}."


def react(item: Item, *, parallel: bool) -> Responder:
    """ReAct turns: one call per turn in plan order, or (parallel) one dependency layer per
    turn, chosen by how many tool results the conversation holds; then `Answer: …`, the form
    of the ReAct prompt's own worked example."""
    turns = layers(item.tasks) if parallel else [[task] for task in item.tasks]
    quotes = results_of(item.tasks, quoted=True)
    starts = {sum(len(t) for t in turns[:i]): turn for i, turn in enumerate(turns)}

    def respond(messages: list[BaseMessage]) -> AIMessage:
        observed = [m for m in messages if isinstance(m, ToolMessage)]
        turn = starts.get(len(observed))
        if turn is None or len(observed) >= len(item.tasks):
            seen = "\n".join(m.text for m in observed)
            return AIMessage(f"Answer: {item.answer if _complete(item, seen) else NOT_FOUND}")
        calls = [
            {"name": t.tool, "args": t.resolved_args(quotes), "id": f"call_{t.idx}"} for t in turn
        ]
        return AIMessage(_thought(turn), tool_calls=calls)

    return respond
