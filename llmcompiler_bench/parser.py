"""How parsing cost grows with a plan's length: `make bench-parser` (a table, not a test).

Plans of 25,000 to 100,000 characters, each read in one piece and in 1-character chunks (the
worst streaming case). Linear cost shows as a flat "µs per 1,000 chars" column. Three shapes:
an ordinary plan, a plan whose lines keep looking like the start of a task (a long
number, a long run of decoration) and one long call whose arguments span many lines.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

from langchain_core.tools import tool

from agent.plan import PlanParser, parse_plan


@tool
def search(query: str) -> str:
    """Search the web."""
    return query


@tool
def math(problem: str, context: list[str] | None = None) -> str:
    """Solve a math problem."""
    return problem


TOOLS = [search, math]


def _ordinary(size: int) -> str:
    lines, i = ['1. search("start")\n'], 2
    while sum(map(len, lines)) < size:
        lines.append(f'Thought: step {i}\n{i}. math("p {i} (x)", context=["${i - 1}"])  # c\n')
        i += 1
    return "".join(lines)


def _task_like(size: int) -> str:
    """Two lines, each as long as the plan allows, that keep looking like a task's start."""
    return "1" * (size // 2) + ". search(\n" + "-" * (size // 2) + "\n"


def _long_call(size: int) -> str:
    body = '    "an argument line (with a comma, a # and a $1)",\n'
    return "1. search([\n" + body * (size // len(body)) + "])\n"


SHAPES: dict[str, Callable[[int], str]] = {
    "ordinary plan": _ordinary,
    "task-like lines": _task_like,
    "one long call": _long_call,
}


def _seconds(text: str, chunk: int) -> float:
    start = time.perf_counter()
    if chunk >= len(text):
        parse_plan(text, TOOLS)
    else:
        parser = PlanParser(TOOLS)
        for at in range(0, len(text), chunk):
            parser.feed(text[at : at + chunk])
        parser.close()
    return time.perf_counter() - start


def table(sizes: Sequence[int]) -> str:
    rows = ["| plan | chars | one piece | µs / 1k chars | 1-char chunks | µs / 1k chars |"]
    rows.append("|---|---|---|---|---|---|")
    for name, make in SHAPES.items():
        for size in sizes:
            text = make(size)
            whole = min(_seconds(text, len(text)) for _ in range(3))
            chars = min(_seconds(text, 1) for _ in range(3))
            per_k = 1e6 / (len(text) / 1000)
            rows.append(
                f"| {name} | {len(text):,} | {whole * 1000:.0f} ms | {whole * per_k:.0f} "
                f"| {chars * 1000:.0f} ms | {chars * per_k:.0f} |"
            )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25000,50000,100000", help="plan lengths in chars")
    args = parser.parse_args(argv)
    print(table([int(size) for size in args.sizes.split(",")]))


if __name__ == "__main__":
    main()
