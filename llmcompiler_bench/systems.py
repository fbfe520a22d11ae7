"""The systems compared, each run through its real graph with a `Recorder` attached.

LLMCompiler (streaming dispatch), LLMCompiler planning fully before running (the paper's
non-streaming mode), sequential ReAct, parallel-call ReAct (`create_agent`), in live mode the
paper's text-protocol ReAct, for the stress workloads LLMCompiler with an `AsyncSqliteSaver`
checkpointer, and with `--peers` LLMCompiler over HTTP (the peers' path).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore

from agent._context import Context
from agent._graph import create_llm_compiler
from graphs.react_agent import create_react_agent
from llmcompiler_bench.recorder import Recorder
from llmcompiler_bench.text_react import create_text_react_agent


@dataclass(frozen=True)
class System:
    name: str
    label: str
    react: bool = False
    streaming: bool = True
    parallel_calls: bool = False
    sqlite: bool = False
    text_protocol: bool = False
    """ReAct in plain text (Thought / Action / Observation), for models without tool calling."""
    http: bool = False
    """The models are langchain-openai `ChatOpenAI` clients of a `ScriptedOpenAIServer` on
    loopback (the path a user and the peers take), not scripted models in process."""

    @property
    def path(self) -> str:
        """How this system reaches its models, as the report says it."""
        return "HTTP" if self.http else "in process"


LLMCOMPILER = System("llmcompiler", "LLMCompiler")
LLMCOMPILER_HTTP = System("llmcompiler-http", "LLMCompiler over HTTP", http=True)
"""Ours on the peers' path (`--peers`): the headline of the peers' comparison."""
PLAN_FIRST = System("llmcompiler-plan-first", "LLMCompiler (plan, then run)", streaming=False)
SQLITE = System("llmcompiler-sqlite", "LLMCompiler + AsyncSqliteSaver", sqlite=True)
REACT = System("react", "ReAct", react=True)
REACT_PARALLEL = System("react-parallel", "ReAct (parallel calls)", react=True, parallel_calls=True)
TEXT_REACT = System("react-text", "ReAct (text protocol)", react=True, text_protocol=True)
BASELINE_SYSTEMS = (LLMCOMPILER, PLAN_FIRST, REACT, REACT_PARALLEL)
LIVE_SYSTEMS = (LLMCOMPILER, REACT, REACT_PARALLEL, TEXT_REACT)
STRESS_SYSTEMS = (LLMCOMPILER, SQLITE)
SYSTEMS = {s.name: s for s in (*BASELINE_SYSTEMS, SQLITE, TEXT_REACT, LLMCOMPILER_HTTP)}


@dataclass(frozen=True)
class Setup:
    """Everything a run needs besides the system: tools, models, prompts and the question."""

    tools: Sequence[BaseTool]
    planner: BaseChatModel
    joiner: BaseChatModel
    react_model: BaseChatModel
    examples: str
    question: str
    context: Context = field(default_factory=Context)
    store: BaseStore | None = None
    """LLMCompiler's LangGraph store (the result cache lives there); None: no cache."""
    stream_answer: bool = True
    """Also consume the `messages` stream, as a chat client does, to time the first answer
    token (off for the stress runs, whose figure is the engine's own overhead)."""


@dataclass(frozen=True)
class Outcome:
    answer: str
    latency_s: float
    recorder: Recorder
    error: str | None = None
    first_answer_s: float | None = None
    """When the final answer's first token reached the `messages` stream client."""


@contextlib.asynccontextmanager
async def _checkpointer(system: System) -> AsyncIterator[BaseCheckpointSaver | None]:
    if not system.sqlite:
        yield None
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    with tempfile.TemporaryDirectory(prefix="llmcompiler-bench-") as directory:
        path = Path(directory) / "checkpoints.sqlite"
        async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
            yield saver


def _graph(system: System, setup: Setup, saver: BaseCheckpointSaver | None) -> Any:
    if system.text_protocol:
        return create_text_react_agent(setup.tools, setup.react_model)
    if system.react:
        return create_react_agent(
            setup.tools,
            model=setup.react_model,
            parallel_tool_calls=system.parallel_calls,
        )
    return create_llm_compiler(
        setup.tools,
        planner=setup.planner,
        joiner=setup.joiner,
        checkpointer=saver,
        store=setup.store,
        examples=setup.examples,
    )


async def run_system(system: System, setup: Setup, *, thread_id: str = "bench") -> Outcome:
    """One end-to-end run; latency runs from the call to the last state, graph built before.

    The time to first answer token is when the first text of the final answer message reached
    the `messages` stream: LLMCompiler's joiner streams only its answer there (the planner is
    `nostream`), or writes the whole answer at once when `join(final=…)` skips it; a ReAct
    model streams every turn, and the final turn is the one counted. A run that raises is
    reported (answer empty, `error` set) rather than ending the benchmark; so is a run whose
    output names a failure (LLMCompiler's `error`: its answer only explains the failure).
    """
    recorder = Recorder()
    context = replace(setup.context, streaming_dispatch=system.streaming)
    config: dict[str, Any] = {
        "callbacks": [recorder],
        "configurable": {"thread_id": thread_id},
        "recursion_limit": 10_000,
    }
    modes = ["custom", "values", *(["messages"] if setup.stream_answer else [])]
    final: BaseMessage | None = None
    error = None
    async with _checkpointer(system) as saver:
        graph = _graph(system, setup, saver)
        recorder.start()
        try:
            async for mode, data in graph.astream(
                {"messages": [("user", setup.question)]},
                config,
                context=context,
                stream_mode=modes,
            ):
                if mode == "custom":
                    recorder.event(data)
                elif mode == "messages":
                    recorder.message(data[0])
                else:
                    final = data["messages"][-1] if data.get("messages") else final
                    error = data.get("error")
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        latency = recorder.now()
    answer = str(final.content) if final is not None else ""
    first = recorder.first_answer_s(final) if setup.stream_answer else None
    return Outcome(answer, latency, recorder, error, first)
