"""Token accounting: the Recorder sums the usage each model call reports."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from llmcompiler_bench.recorder import Recorder
from llmcompiler_scripted import PROFILES, ScriptedChatModel, count_tokens


async def test_a_known_prompt_is_counted_at_four_characters_a_token() -> None:
    model = ScriptedChatModel(responses=["hello world!"])  # 12 characters: 3 tokens
    recorder = Recorder()
    prompt = [SystemMessage("x" * 40), HumanMessage("y" * 8)]  # "x"*40 + "\n" + "y"*8
    await model.ainvoke(prompt, config={"callbacks": [recorder], "run_name": "planner_model"})
    (call,) = recorder.models
    assert (call.kind, call.input_tokens, call.output_tokens) == ("planner", 13, 3)
    assert count_tokens("x" * 40 + "\n" + "y" * 8) == 13
    assert PROFILES["gpt-4o-mini-like"].cost_usd(13, 3) == (13 * 0.15 + 3 * 0.60) / 1e6


async def test_tool_schemas_count_on_every_call_and_streams_record_the_first_token() -> None:
    model = ScriptedChatModel(responses=["a", "b"])
    recorder = Recorder()
    schema = {"name": "search", "description": "d", "parameters": {"type": "object"}}
    bare = await model.ainvoke("q", config={"callbacks": [recorder]})
    assert bare.usage_metadata is not None
    async for _ in model.bind_tools([schema]).astream("q", config={"callbacks": [recorder]}):
        pass
    first, second = recorder.models
    assert second.input_tokens > first.input_tokens  # the schema is prompt text too
    assert first.first_token_s is None and second.first_token_s is not None
