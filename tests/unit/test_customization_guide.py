"""docs/customization.md runs as written: every ```python block, offline, prints what it shows.

The guide's convention: its first runnable block is a complete program, and every later
runnable block continues it. So each block runs in a fresh module, after the opening program
for the recipes, with network connections refused and no model settings in the environment.
Its stdout must equal the ```text block that follows it in the guide, and contain the key facts
listed here (so the documented output can't quietly become trivial).

Blocks fenced ```python no-run are not executed: the MCP recipe needs an MCP server process
(and a real model). They must still compile and their imports must resolve.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import NO_RUN, RUN, Block, read_blocks, run_block

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "customization.md"
OPENING = "the-opening-program"

KEY_FACTS: dict[str, list[str]] = {
    OPENING: [
        "Berlin and Paris have 5,800,000 inhabitants together.",
        "1 population {'city': 'Berlin'} done 3700000",
        "3 add {'a': '$1', 'b': '$2'} done 5800000",
    ],
    "1-add-a-tool": [
        "1 capital done Madrid",
        "2 inhabitants done 3300000",
        "3 area done 604.3",
        "4 density done 5460.9",
    ],
    "2-mark-a-tool-pure-cacheable-or-not-parallel-safe": [
        "run 1: 1 population ran",
        "run 1: 2 population reused $1",
        "run 2: 1 population cache hit",
        "['Paris']",  # the tool itself ran once across both runs
        "['start a', 'end a', 'start b', 'end b',",  # serial calls never overlap
    ],
    "3-where-the-served-graph-s-tools-and-prompts-live": [
        "['wikipedia_search', 'math']",
        "llmcompiler ['__start__', 'joiner', 'planner', 'scheduler']",
    ],
    "4-use-a-different-model-per-stage": [
        "http://localhost:11434/v1",
        "3,300,000 people. 2",  # the planner model also answered as joiner: two calls
    ],
    "5-embed-the-graph-in-your-own-graph": [
        "'task_finished': 2",
        "'task_planned': 2",
        "'plan_finished': 1",
        "{'research'}",
        "Madrid. [2100000, 3300000]",
    ],
}
"""Runnable sections the guide must keep, each with what its block must print."""

NO_RUN_SECTIONS = {"1-add-a-tool"}
"""Sections that must keep a `no-run` block (the MCP example)."""


BLOCKS = read_blocks(GUIDE.read_text(encoding="utf-8"))
RUNNABLE = [block for block in BLOCKS if block.info == RUN]
NOT_RUN = [block for block in BLOCKS if block.info == NO_RUN]


def test_guide_keeps_the_opening_program_and_every_runnable_recipe() -> None:
    assert RUNNABLE, "docs/customization.md has no runnable ```python block"
    assert RUNNABLE[0].section == OPENING, "the guide must open with its complete program"
    assert len([b for b in RUNNABLE if b.section == OPENING]) == 1
    missing = set(KEY_FACTS) - {block.section for block in RUNNABLE}
    assert not missing, f"runnable sections missing from the guide: {sorted(missing)}"
    without_no_run = NO_RUN_SECTIONS - {block.section for block in NOT_RUN}
    assert not without_no_run, f"no ```python no-run block in: {sorted(without_no_run)}"


def test_python_blocks_are_fenced_either_python_or_python_no_run() -> None:
    # A typo such as ```python norun would otherwise silently skip a block.
    odd = [(block.line, block.info) for block in BLOCKS if block.info not in (RUN, NO_RUN)]
    assert not odd


@pytest.mark.parametrize("block", RUNNABLE, ids=[block.id for block in RUNNABLE])
@pytest.mark.usefixtures("offline")
def test_guide_block_runs_offline_and_prints_what_the_guide_shows(
    block: Block, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert block.output is not None, f"line {block.line}: no ```text output block follows"
    printed = run_block(block, RUNNABLE[0], GUIDE, monkeypatch, capsys)
    assert printed == block.output
    for fact in KEY_FACTS.get(block.section, []):
        assert fact in printed


@pytest.mark.parametrize("block", NOT_RUN, ids=[block.id for block in NOT_RUN])
def test_no_run_block_compiles_and_its_imports_resolve(block: Block) -> None:
    tree = ast.parse(block.source(), str(GUIDE))
    imports: list[ast.stmt] = [
        node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert imports, "a no-run block should show where its names come from"
    exec(compile(ast.Module(body=imports, type_ignores=[]), str(GUIDE), "exec"), {})
