"""The runner protocol every peer adapter shares; it runs inside the peer's own virtualenv.

Standard library only (pydantic is imported lazily, by `schema_model`): the peer's venv has
none of this project installed. An adapter script defines `prepare(job, calls)`, which builds
the peer's agent and its tools and returns a function asking the job's question and returning
the answer text, and then calls `main(prepare)`::

    python ADAPTER.py JOBS.json RESULTS.jsonl

`JOBS.json` is `{"jobs": [job, ...]}`; each job has an `id`, the `question`, the `base_url` of
the scripted OpenAI-compatible server answering for it, the `tools` (name, description, JSON
schema) and the simulated `calls` (below). One JSON line per job is appended to
`RESULTS.jsonl`: `id`, `latency_s` (only the question's run: the agent is built before the
clock starts), `answer`, `error`, `start` (`time.monotonic()` at the start, which the parent
lines up with the server's request times: one clock across processes on Linux), and `tools`
(each execution: tool, start and end in seconds from the start).

`calls` maps a call key (`call_key`: the tool name and its arguments, as JSON with sorted
keys) to the `[result, latency_s]` of each gold task making that call, in plan order: the n-th
execution of a call sleeps the n-th latency and returns its result, as the benchmark's own
simulated tools do (`llmcompiler_bench/tools.py`). A call whose values arrive as their text
(the original LLMCompiler replaces `$N` by `str(result)`: `["2939.9"]` for `[2939.9]`) is the
same call, as a real tool reading its arguments would take it. An unknown call raises, which
the peer then handles its own way (usually an error observation and a wrong answer).
"""

# mypy: ignore-errors
from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import time
import traceback


def call_key(tool, args):
    """The key of one call, as `llmcompiler_bench.tools.call_key` computes it."""
    return json.dumps([tool, args], sort_keys=True, ensure_ascii=False, default=str)


def as_text(value):
    """`value` with every number, boolean and null written as its Python text (`str`)."""
    if isinstance(value, dict):
        return {name: as_text(item) for name, item in value.items()}
    if isinstance(value, list):
        return [as_text(item) for item in value]
    return value if isinstance(value, str) else str(value)


def text_key(key):
    """`key` (a `call_key`) with its argument values as text."""
    tool, args = json.loads(key)
    return call_key(tool, as_text(args))


class Calls:
    """The simulated tools of one job; `call` blocks (thread pools), `acall` awaits."""

    def __init__(self, table):
        self.table = table
        self.by_text = {text_key(key): key for key in table}
        self.executed = {}
        self.spans = []
        self.start = time.monotonic()
        self._lock = threading.Lock()

    def _take(self, tool, args):
        args = {name: value for name, value in args.items() if value is not None}
        key = call_key(tool, args)
        key = key if key in self.table else self.by_text.get(text_key(key), key)
        same = self.table.get(key)
        if not same:
            raise LookupError(f"no simulated result for {tool}({json.dumps(args)[:300]})")
        with self._lock:
            count = self.executed.get(key, 0)
            self.executed[key] = count + 1
        result, latency = same[min(count, len(same) - 1)]
        return result, latency

    def _span(self, tool, started):
        with self._lock:
            self.spans.append(
                {
                    "tool": tool,
                    "start": started - self.start,
                    "end": time.monotonic() - self.start,
                }
            )

    def call(self, tool, args):
        started = time.monotonic()
        result, latency = self._take(tool, args)
        if latency > 0:
            time.sleep(latency)
        self._span(tool, started)
        return result

    async def acall(self, tool, args):
        started = time.monotonic()
        result, latency = self._take(tool, args)
        if latency > 0:
            await asyncio.sleep(latency)
        self._span(tool, started)
        return result


def schema_model(spec):
    """A pydantic model whose JSON schema shows the tool's parameters as given (types,
    descriptions, defaults), while accepting any value: the peer validates its arguments, and
    a result passed to a later call (a number into a list of strings) must reach the tool as
    it is, as it reaches ours."""
    from typing import Any

    from pydantic import Field, create_model

    parameters = spec["parameters"]
    required = set(parameters.get("required", ()))
    fields = {}
    for name, schema in parameters.get("properties", {}).items():
        extra = {k: v for k, v in schema.items() if k not in ("description", "default")}
        default = ... if name in required else schema.get("default")
        fields[name] = (
            Any,
            Field(default, description=schema.get("description"), json_schema_extra=extra),
        )
    return create_model(f"{spec['name']}_args", **fields)


def _run_job(prepare, job):
    calls = Calls(job["calls"])
    ask = prepare(job, calls)
    answer, error = "", None
    calls.start = start = time.monotonic()
    try:
        answer = ask()
    except Exception as exc:  # the peer's own failure: reported, the next job still runs
        error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc(file=sys.stderr)
    latency = time.monotonic() - start
    return {
        "id": job["id"],
        "latency_s": latency,
        "answer": "" if answer is None else str(answer),
        "error": error,
        "start": start,
        "tools": sorted(calls.spans, key=lambda span: span["start"]),
    }


def main(prepare):
    """Run every job of `argv[1]` in order, one result line each in `argv[2]`. The peers print
    freely; their stdout goes to stderr, which the parent keeps in a log file."""
    jobs_path, results_path = sys.argv[1], sys.argv[2]
    with open(jobs_path, encoding="utf-8") as handle:
        jobs = json.load(handle)["jobs"]
    with (
        open(results_path, "a", encoding="utf-8") as out,
        contextlib.redirect_stdout(sys.stderr),
    ):
        for job in jobs:
            try:
                result = _run_job(prepare, job)
            except Exception as exc:  # building the agent failed
                traceback.print_exc(file=sys.stderr)
                result = {"id": job["id"], "error": f"{type(exc).__name__}: {exc}"}
            out.write(json.dumps(result, default=str) + "\n")
            out.flush()
