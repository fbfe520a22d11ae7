"""Capture what a real model writes with the project's own prompts: plans, joiner replies and
`math` replies, for the replayed corpus in `tests/unit/real_outputs/`.

    python -m llmcompiler_bench.capture --model openai:local --base-url http://127.0.0.1:8090/v1 \\
        --n 40 --out tests/unit/real_outputs/smollm2-135m.json

Runs LLMCompiler on the offline corpus questions (`make local-model` serves a model) and keeps
the raw text of every model call, classified by the prompt that produced it. The corpus test
replays each text through parser, scheduler and joiner with scripted models.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage

from agent._context import Context
from agent._graph import create_llm_compiler
from agent.models import load_chat_model
from llmcompiler_bench.corpus_questions import corpus_questions
from llmcompiler_bench.live import MAX_OUTPUT_TOKENS, live_tools

KINDS = (("Plan how to answer", "plan"), ("Answer the user's question", "joiner"))


class OutputCapture(BaseCallbackHandler):
    """Keeps each chat model call's streamed (or returned) text, by the kind of its prompt."""

    run_inline = True

    def __init__(self) -> None:
        self.outputs: list[dict[str, str]] = []
        self._open: dict[UUID, dict[str, str]] = {}

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        system = messages[0][0].text if messages and messages[0] else ""
        kind = next((k for prefix, k in KINDS if system.startswith(prefix)), "math")
        self._open[kwargs["run_id"]] = {"kind": kind, "text": ""}

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
        entry = self._open.get(run_id)
        if entry is not None and isinstance(token, str):
            entry["text"] += token

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        entry = self._open.pop(kwargs["run_id"], None)
        if entry is None:
            return
        if not entry["text"]:
            entry["text"] = "".join(g.text for gens in response.generations for g in gens)
        self.outputs.append(entry)

    def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        entry = self._open.pop(kwargs["run_id"], None)
        if entry is not None and entry["text"]:  # a plan stream closed at join()
            self.outputs.append(entry)


async def capture(spec: str, base_url: str | None, n: int) -> list[dict[str, str]]:
    model = load_chat_model(spec, base_url=base_url, temperature=0.0, max_tokens=MAX_OUTPUT_TOKENS)
    tools, examples = live_tools("corpus", model)
    graph: Any = create_llm_compiler(tools, planner=model, joiner=model, examples=examples)
    records: list[dict[str, str]] = []
    for question in corpus_questions(n):
        handler = OutputCapture()
        await graph.ainvoke(
            {"messages": [("user", question.question)]},
            {"callbacks": [handler]},
            context=Context(planner_model=spec, base_url=base_url, max_replans=1),
        )
        records += [{"question": question.question, **entry} for entry in handler.outputs]
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--base-url")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    outputs = asyncio.run(capture(args.model, args.base_url, args.n))
    document = {"model": args.model, "questions": args.n, "outputs": outputs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    counts = {k: sum(o["kind"] == k for o in outputs) for k in ("plan", "joiner", "math")}
    print(f"wrote {args.out}: {counts}")


if __name__ == "__main__":
    main()
