"""What real models write, replayed through parser → scheduler → joiner.

`tests/unit/real_outputs/` holds raw outputs of open models run locally with the project's own
prompts (`python -m llmcompiler_bench.capture`, against `make local-model`) and hand-written
failure shapes that real models produce. Each plan, joiner reply and `math` reply is replayed
with scripted models and the offline tools: the outcome is a task list or a recorded error the
joiner sees; never a crash, never a plan read as nothing in silence, never protocol text in
the answer. A joiner reply with a `keeps` field mixes protocol text with an honest answer:
after the last replan, the answer given must still hold that honest part (cleaned, not
replaced).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import BaseTool

from agent import Context, create_llm_compiler
from agent.plan import read_plan
from llmcompiler_bench.live import is_clean
from llmcompiler_scripted import ScriptedChatModel
from tools import build_corpus_search, build_math_tool, calculate
from tools.arithmetic import EvaluationError, evaluate
from tools.math import extract_expression

CORPUS = Path(__file__).parent / "real_outputs"
FINAL_STATUSES = {"done", "error", "skipped"}


def outputs(kind: str) -> list[Any]:
    cases = []
    for path in sorted(CORPUS.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        for n, entry in enumerate(document["outputs"]):
            if entry["kind"] == kind:
                cases.append(pytest.param(entry, id=f"{path.stem}-{n}"))
    return cases


def offline_tools() -> list[BaseTool]:
    math_model = ScriptedChatModel(respond=lambda _messages: "Expression: 8849 - 8611")
    return [build_corpus_search(), build_math_tool(math_model), calculate]


def test_the_corpus_holds_real_captures_and_every_kind() -> None:
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in CORPUS.glob("*.json")]
    assert any("hand-written" not in d["model"] for d in documents)  # a real model's outputs
    kinds = [entry["kind"] for d in documents for entry in d["outputs"]]
    assert all(kinds.count(kind) >= 3 for kind in ("plan", "joiner", "math"))


@pytest.mark.parametrize("entry", outputs("plan"))
async def test_a_real_plan_runs_to_a_clean_answer_or_a_reported_error(
    entry: dict[str, str],
) -> None:
    tools = offline_tools()
    tasks, notes = read_plan(entry["text"], tools)
    runnable = [t for t in tasks if not t.is_join]
    assert runnable or notes or entry["text"].strip() == "", "a plan read as nothing in silence"
    planner = ScriptedChatModel(responses=[entry["text"], "1. join()", "1. join()"])
    joiner = ScriptedChatModel(
        respond=lambda _messages: "Thought: the results are in.\nAction: Finish(done)"
    )
    graph = create_llm_compiler(tools, planner=planner, joiner=joiner)
    result = await graph.ainvoke(
        {"messages": [("user", entry["question"])]}, context=Context(max_replans=1)
    )
    assert all(t["status"] in FINAL_STATUSES for t in result["tasks"])
    assert all(t["error"] for t in result["tasks"] if t["status"] != "done")
    assert is_clean(result["messages"][-1].text)


@pytest.mark.parametrize("entry", outputs("joiner"))
async def test_a_real_joiner_reply_gives_a_clean_answer_keeping_its_honest_part(
    entry: dict[str, str],
) -> None:
    planner = ScriptedChatModel(
        respond=lambda _messages: '1. search("Mount Everest")\n2. search("K2")\n3. join()'
    )
    joiner = ScriptedChatModel(respond=lambda _messages: entry["text"])
    graph = create_llm_compiler(offline_tools(), planner=planner, joiner=joiner)
    result = await graph.ainvoke(
        {"messages": [("user", entry["question"])]}, context=Context(max_replans=1)
    )
    answer = result["messages"][-1].text
    assert is_clean(answer), answer
    assert entry.get("keeps", "") in answer


def test_the_corpus_holds_leaky_joiner_replies_with_a_known_honest_part() -> None:
    kept = [param.values[0] for param in outputs("joiner") if "keeps" in param.values[0]]
    assert len(kept) >= 3
    assert not any(is_clean(entry["text"]) for entry in kept)  # each needs cleaning


@pytest.mark.parametrize("entry", outputs("math"))
def test_a_real_math_reply_gives_a_number_or_a_clear_error(entry: dict[str, str]) -> None:
    try:
        value = evaluate(extract_expression(entry["text"]))
    except EvaluationError as exc:
        assert str(exc)
    else:
        assert isinstance(value, int | float)
