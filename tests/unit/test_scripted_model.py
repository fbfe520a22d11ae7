"""The scripted chat model: token streaming on absolute deadlines, tool calls, usage, errors."""

from __future__ import annotations

import asyncio
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool

from llmcompiler_scripted import PROFILES, ModelProfile, ScriptedChatModel, ScriptExhaustedError
from llmcompiler_scripted.timing import (
    StreamClock,
    count_prompt_tokens,
    count_tokens,
    paced,
    paced_sync,
    tokenize,
)

TEXT = "The quick brown fox jumps over the lazy dog; " * 4  # 180 chars, 45 tokens


@tool
def search(query: str) -> str:
    """Search the web for a query."""
    return query


def _aggregate(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


def test_token_approximation() -> None:
    assert [count_tokens(t) for t in ["", "a", "abcd", "abcde", "x" * 400]] == [0, 1, 1, 2, 100]
    for text in ["", "a", "abcde", TEXT, "naïve ünïcode ✓"]:
        chunks = tokenize(text)
        assert "".join(chunks) == text
        assert len(chunks) == count_tokens(text)


def test_profiles() -> None:
    default = PROFILES["gpt-4o-mini-like"]
    assert default == ModelProfile()
    assert (default.ttft_s, default.prefill_tok_per_s, default.decode_tok_per_s) == (0.4, 5000, 60)
    assert PROFILES["gpt-3.5-like"].decode_tok_per_s == 80
    assert PROFILES["local-8b"].price_in_per_m == 0
    assert PROFILES["instant"].duration_s(10_000, 1_000) == 0
    # first token at ttft + prefill, token k at k / decode later; scale multiplies all of it
    assert default.offset_s(5000, 60) == pytest.approx(0.4 + 1 + 1)
    half = default.scaled(0.5)
    assert half.name == default.name and half.time_scale == 0.5
    assert half.scaled(0.5).offset_s(5000, 60) == pytest.approx(2.4 / 4)
    assert default.cost_usd(1_000_000, 1_000_000) == pytest.approx(0.75)
    clock = StreamClock(default, prompt_tokens=500, start=100.0)
    assert clock.deadline(3) == pytest.approx(100.0 + 0.4 + 0.1 + 3 / 60)


async def test_stream_tracks_absolute_deadlines() -> None:
    profile = ModelProfile(name="test", ttft_s=0.1, prefill_tok_per_s=1000, decode_tok_per_s=200)
    model = ScriptedChatModel(responses=[TEXT], timing=profile)
    n = count_tokens(TEXT)
    start = time.monotonic()
    arrivals: list[float] = []
    chunks: list[AIMessageChunk] = []
    async for chunk in model.astream("Tell me about foxes."):
        arrivals.append(time.monotonic() - start)
        chunks.append(chunk)
    assert len([c for c in chunks if c.content]) >= n
    assert arrivals == sorted(arrivals)
    prompt_tokens = count_tokens("Tell me about foxes.")
    for k, arrival in enumerate(arrivals[:n]):
        assert arrival >= profile.offset_s(prompt_tokens, k)
    nominal = profile.duration_s(prompt_tokens, n)
    assert arrivals[-1] >= nominal
    assert arrivals[-1] < nominal + 2.0  # very generous: only catches runaway delays
    assert _aggregate(chunks).content == TEXT


async def test_paced_does_not_accumulate_overshoot() -> None:
    # A slow consumer (45 ms per chunk) on a 50 ms token interval: deadlines absorb the work;
    # sleeping one interval per chunk would take 20 * 95 ms instead of about 1 s.
    profile = ModelProfile(name="test", ttft_s=0.0, prefill_tok_per_s=math.inf, decode_tok_per_s=20)
    start = time.monotonic()
    async for _ in paced(range(21), profile, prompt_tokens=0):
        await asyncio.sleep(0.045)
    elapsed = time.monotonic() - start
    assert 1.0 <= elapsed < 1.6
    start = time.monotonic()
    for _ in paced_sync(range(21), profile, prompt_tokens=0):
        time.sleep(0.045)
    assert 1.0 <= time.monotonic() - start < 1.6


async def test_tool_calls_survive_streaming() -> None:
    reply = AIMessage(
        content="Searching both.",
        tool_calls=[
            {"name": "search", "args": {"query": "capital of France and Germany"}, "id": "c1"},
            {"name": "search", "args": {"query": "population"}, "id": None},
        ],
    )
    model = ScriptedChatModel(responses=[reply])
    chunks = [chunk async for chunk in model.astream("go")]
    call_chunks = [tc for c in chunks for tc in c.tool_call_chunks]
    assert len(call_chunks) > 2  # arguments stream token-wise
    assert {tc["index"] for tc in call_chunks} == {0, 1}
    assert [tc["name"] for tc in call_chunks if tc["id"]] == ["search", "search"]
    total = _aggregate(chunks)
    assert total.content == "Searching both."
    assert [(c["name"], c["args"]) for c in total.tool_calls] == [
        ("search", {"query": "capital of France and Germany"}),
        ("search", {"query": "population"}),
    ]
    assert total.tool_calls[0]["id"] == "c1"
    assert total.tool_calls[1]["id"]  # generated when the script gives none
    assert total.response_metadata["finish_reason"] == "tool_calls"


async def test_dict_replies_and_openai_style_tool_calls() -> None:
    arguments = json.dumps({"query": "q"})
    model = ScriptedChatModel(
        responses=[
            {
                "content": "",
                "tool_calls": [{"function": {"name": "search", "arguments": arguments}}],
            },
            {"content": "done"},
        ]
    )
    first = await model.ainvoke("go")
    assert isinstance(first, AIMessage)
    assert first.tool_calls[0]["args"] == {"query": "q"}
    assert (await model.ainvoke("again")).content == "done"


async def test_bind_tools_counts_schemas_as_prompt_tokens() -> None:
    model = ScriptedChatModel(responses=["plain", "with tools"])
    plain = await model.ainvoke([HumanMessage("What is new?")])
    bound = await model.bind_tools([search]).ainvoke([HumanMessage("What is new?")])
    assert plain.usage_metadata is not None and bound.usage_metadata is not None
    schema_tokens = count_tokens(json.dumps(convert_to_openai_tool(search)))
    assert bound.usage_metadata["input_tokens"] >= plain.usage_metadata["input_tokens"] + (
        schema_tokens - 1
    )
    assert [len(call) for call in model.calls] == [1, 1]


async def test_usage_metadata_counts_prompt_and_output() -> None:
    reply = AIMessage(
        content="ok", tool_calls=[{"name": "search", "args": {"query": "x"}, "id": "1"}]
    )
    model = ScriptedChatModel(responses=[reply])
    history: list[BaseMessage] = [HumanMessage("first question"), AIMessage("an answer")]
    chunks = [chunk async for chunk in model.astream(history)]
    usage = _aggregate(chunks).usage_metadata
    expected_in = count_prompt_tokens([{"content": "first question"}, {"content": "an answer"}])
    expected_out = count_tokens("ok") + count_tokens(json.dumps({"query": "x"}))
    assert usage == {
        "input_tokens": expected_in,
        "output_tokens": expected_out,
        "total_tokens": expected_in + expected_out,
    }
    assert chunks[-1].usage_metadata == usage  # on the final chunk only
    assert all(c.usage_metadata is None for c in chunks[:-1])


async def test_scripted_exception_raised_before_first_token() -> None:
    model = ScriptedChatModel(responses=[TimeoutError("scripted"), "recovered"])
    received: list[AIMessageChunk] = []
    with pytest.raises(TimeoutError, match="scripted"):
        async for chunk in model.astream("go"):
            received.append(chunk)
    assert received == []
    assert (await model.ainvoke("retry")).content == "recovered"
    with pytest.raises(ScriptExhaustedError, match="exhausted"):
        await model.ainvoke("one too many")


def test_sync_stream_invoke_and_stop_sequences() -> None:
    model = ScriptedChatModel(responses=["Plan line 1\n<END_OF_PLAN> ignored", "whole"])
    chunks = list(model.stream("go", stop=["<END_OF_PLAN>"]))
    assert _aggregate(chunks).content == "Plan line 1\n"
    assert model.invoke("go").content == "whole"


def test_respond_callable_and_validation() -> None:
    model = ScriptedChatModel(respond=lambda messages: f"echo {messages[-1].content}")
    assert model.invoke("hi").content == "echo hi"
    assert model.invoke("there").content == "echo there"
    with pytest.raises(ValueError, match="either"):
        ScriptedChatModel(responses=["a"], respond=lambda messages: "b")


def test_profile_alias_keeps_langchain_profile_free() -> None:
    timing = PROFILES["local-8b"]
    model = ScriptedChatModel(responses=["a"], profile=timing)  # type: ignore[arg-type]
    assert model.timing is timing
    assert model.profile is None  # LangChain's capability profile, read by create_agent
    assert model._llm_type == "scripted-chat-model"


async def test_concurrent_consumption_uses_each_reply_once() -> None:
    replies = [f"reply {i}" for i in range(40)]
    model = ScriptedChatModel(responses=replies)
    async_results = await asyncio.gather(*(model.ainvoke("q") for _ in range(20)))
    with ThreadPoolExecutor(max_workers=8) as pool:
        thread_results = list(pool.map(lambda _: model.invoke("q"), range(20)))
    contents = sorted(str(m.content) for m in [*async_results, *thread_results])
    assert contents == sorted(replies)
    assert len(model.calls) == 40


async def test_works_as_create_agent_model() -> None:
    from langchain.agents import create_agent

    model = ScriptedChatModel(
        responses=[
            AIMessage(
                content="I will search twice.",
                tool_calls=[
                    {"name": "search", "args": {"query": "a"}, "id": "1"},
                    {"name": "search", "args": {"query": "b"}, "id": "2"},
                ],
            ),
            "Both found.",
        ]
    )
    agent = create_agent(model, [search])
    result = await agent.ainvoke({"messages": [HumanMessage("find a and b")]})
    assert result["messages"][-1].content == "Both found."
    assert sorted(m.content for m in result["messages"] if m.type == "tool") == ["a", "b"]
    assert len(model.calls) == 2
