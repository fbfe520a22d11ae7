"""`llmcompiler`: ask a question with a real model, or watch the offline demo.

llmcompiler ask "Which is taller, Everest or K2?" [--model openai:gpt-4o-mini] [--thread ID]
llmcompiler demo
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from rich.console import Console

from agent import (
    Cause,
    Context,
    InvalidInputError,
    ModelNotConfiguredError,
    cause_of,
    check_question,
    models,
)
from llmcompiler_bench.cli import add_bench_arguments, run_bench
from llmcompiler_cli.console import RunView, dump_json


def hint_for(error: str, ctx: Context) -> str:
    """One actionable line for the failure the run reported, chosen by its cause."""
    where = ctx.base_url or os.environ.get("OPENAI_BASE_URL") or "the provider's API"
    cause = cause_of(error)
    if cause is Cause.REPLANS_EXHAUSTED and Cause.CALLS_FAILED in error:
        cause = Cause.CALLS_FAILED  # the tools failed: a stronger model would not help
    if cause is Cause.MODEL_NOT_CONFIGURED:
        return models.NO_MODEL_HINT
    if cause is Cause.MODEL_UNREACHABLE:
        return f"could not reach the model server at {where}: is it running? check --base-url"
    if cause is Cause.MODEL_TIMED_OUT:
        return (
            f"the model server at {where} sent nothing for {ctx.model_timeout_s:g} s: is it "
            "stuck or overloaded? a slow local model may need a longer --model-timeout"
        )
    if cause is Cause.CONTEXT_WINDOW:
        return (
            "the prompt does not fit the model's context window: shorten the question, use a "
            "model with a larger window, or serve it with a larger context (llama.cpp: --n_ctx)"
        )
    if cause is Cause.PLAN_UNREADABLE:
        return "the model wrote no plan line the engine could run: try a stronger model"
    if cause is Cause.CALLS_FAILED:
        return "the plan was read but its tool calls failed: see the first cause above"
    if cause is Cause.REPLANS_EXHAUSTED:
        return "the model kept replanning: allow more with --max-replans, or a stronger model"
    if "Authentication" in error or "401" in error:
        return "the API key was refused: check OPENAI_API_KEY (or your provider's key variable)"
    if "NotFound" in error or "404" in error:
        return f"{where} does not serve model {ctx.planner_model!r}: check --model"
    return f"the model at {where} refused the request: see the error above"


class CliError(Exception):
    """A one-line, user-facing failure (exit code 2)."""


def data_dir() -> Path:
    """Where `--thread` conversations persist: $LLMCOMPILER_DATA_DIR, else the XDG data dir."""
    explicit = os.environ.get("LLMCOMPILER_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "llmcompiler"


class PromptPrinter(BaseCallbackHandler):
    """`--verbose`: show every prompt sent to a model."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        name = kwargs.get("name") or "model"
        for message in messages[0]:
            self.console.rule(f"[dim]{name} prompt: {message.type}[/dim]")
            self.console.print(message.text, markup=False, highlight=False)


def check_model(ctx: Context) -> None:
    """Fail fast, in one line, when no usable model is configured."""
    try:
        models.check_model(ctx.planner_model, base_url=ctx.base_url, temperature=ctx.temperature)
    except ModelNotConfiguredError as exc:
        raise CliError(str(exc)) from exc


@contextlib.asynccontextmanager
async def _checkpointer(
    thread: str | None, *, needed: bool = False
) -> AsyncIterator[BaseCheckpointSaver | None]:
    """SQLite under the data directory for `--thread`; in memory when only pausing needs one."""
    if thread is None:
        yield InMemorySaver() if needed else None
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(directory / "checkpoints.sqlite")) as saver:
        yield saver


async def run(
    graph: Any,
    question: str,
    ctx: Context,
    *,
    thread: str | None,
    as_json: bool,
    verbose: bool,
    console: Console,
) -> int:
    """Stream one run through the shared view; return the exit code."""
    view = RunView(console=Console(file=sys.stderr) if as_json else console)
    config: dict[str, Any] = {"configurable": {"thread_id": thread or str(uuid.uuid4())}}
    if verbose:
        config["callbacks"] = [PromptPrinter(view.console)]
    output: dict[str, Any] = {}
    plan_errors: list[str] = []
    started = time.monotonic()
    payload: Any = {"messages": [("user", question)]}
    while payload is not None:
        async for mode, data in graph.astream(
            payload, config, context=ctx, stream_mode=["custom", "updates", "values"]
        ):
            if mode == "custom":
                view(data)
            elif mode == "values":
                output = data
            elif "planner" in data and data["planner"]["rounds"][-1]["plan_error"]:
                plan_errors.append(data["planner"]["rounds"][-1]["plan_error"])
        payload = await _review_if_paused(graph, config, view.pause()) if ctx.approve_plan else None
    answer = str(output["messages"][-1].content)
    if as_json:
        print(dump_json(answer, output, view.events))
    else:
        view.print_summary(answer, time.monotonic() - started, output.get("usage"))
    failure = output.get("error") or (plan_errors[-1] if plan_errors else None)
    if failure:
        view.console.print(
            f"[red]error:[/red] {failure}\nhint: {hint_for(failure, ctx)}", highlight=False
        )
        return 1
    return 0


async def _review_if_paused(graph: Any, config: dict[str, Any], console: Console) -> Any:
    """`--approve`: show a paused plan, ask the person, and return the resume command."""
    snapshot = await graph.aget_state(config)
    pending = [i.value for task in snapshot.tasks for i in task.interrupts]
    if not pending:
        return None
    console.rule(f"plan {pending[0]['round']} awaits approval")
    console.print(pending[0]["plan_text"], markup=False, highlight=False)
    choice = (await asyncio.to_thread(input, "[a]pprove, [e]dit or [r]eject? ")).strip().lower()
    if choice.startswith("e"):
        console.print("Enter the new plan, then an empty line:")
        lines = []
        while line := (await asyncio.to_thread(input)).rstrip():
            lines.append(line)
        return Command(resume={"action": "edit", "plan": "\n".join(lines)})
    if choice.startswith("r"):
        reason = await asyncio.to_thread(input, "Why (the planner sees this)? ")
        return Command(resume={"action": "reject", "reason": reason.strip() or None})
    return Command(resume="approve")


async def _ask(args: argparse.Namespace, console: Console) -> int:
    from agent import create_llm_compiler
    from tools import DEFAULT_TOOLS_EXAMPLES, default_tools

    overrides = {
        "planner_model": args.model,
        "joiner_model": args.joiner_model,
        "base_url": args.base_url,
        "max_replans": args.max_replans,
        "max_output_tokens": args.max_output_tokens,
        "approve_plan": args.approve or None,
        "joiner_thought": args.joiner_thought or None,
        "model_timeout_s": args.model_timeout,
    }
    ctx = Context(**{k: v for k, v in overrides.items() if v is not None})
    check_question(args.question, ctx.max_question_chars)
    check_model(ctx)
    async with _checkpointer(args.thread, needed=ctx.approve_plan) as saver:
        graph = create_llm_compiler(
            default_tools(), examples=DEFAULT_TOOLS_EXAMPLES, checkpointer=saver
        )
        return await run(
            graph,
            args.question,
            ctx,
            thread=args.thread,
            as_json=args.json,
            verbose=args.verbose,
            console=console,
        )


async def _demo(args: argparse.Namespace, console: Console) -> int:
    from llmcompiler_cli.demo import QUESTION, build_demo

    graph, ctx = build_demo()
    if not args.json:
        console.print(
            "[bold yellow]SIMULATED MODELS[/bold yellow]: the planner, joiner and math models "
            "are scripted replays streaming at gpt-4o-mini-like speed (0.4 s to first token, "
            "60 tokens/s); the engine and tools are real (bundled-corpus search with "
            "simulated 0.4-0.9 s latency, calculator).\n"
        )
        console.print(f"[bold]question:[/bold] {QUESTION}\n")
    return await run(
        graph, QUESTION, ctx, thread=None, as_json=args.json, verbose=args.verbose, console=console
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmcompiler", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("ask", help="answer a question with a real model")
    ask.add_argument("question")
    ask.add_argument("--model", help="planner model 'provider:model' (default: Context)")
    ask.add_argument("--joiner-model", help="joiner model (default: the planner's)")
    ask.add_argument("--base-url", help="OpenAI-compatible server URL (vLLM, Ollama, ...)")
    ask.add_argument("--max-replans", type=int)
    ask.add_argument(
        "--max-output-tokens", type=int, help="cap each model call's output (small local models)"
    )
    ask.add_argument(
        "--model-timeout",
        type=float,
        metavar="SECONDS",
        help="how long to wait for a model's reply (default: Context.model_timeout_s)",
    )
    ask.add_argument(
        "--joiner-thought",
        action="store_true",
        help="ask the joiner for a Thought: before its answer (small local models replan less)",
    )
    ask.add_argument("--thread", help="continue a conversation (persisted with SQLite)")
    ask.add_argument("--approve", action="store_true", help="review each plan before any tool runs")
    demo = commands.add_parser("demo", help="offline demo with simulated models")
    for sub in (ask, demo):
        sub.add_argument("--json", action="store_true", help="print the result as JSON")
        sub.add_argument("--verbose", action="store_true", help="show the prompts")
    bench = commands.add_parser("bench", help="benchmark against ReAct and the bound T*")
    add_bench_arguments(bench)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    console = Console()
    handler = {"ask": _ask, "demo": _demo, "bench": run_bench}[args.command]
    try:
        code = asyncio.run(handler(args, console))
    except (CliError, InvalidInputError) as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
