"""The public surface of docs/protocol.md: names, the factory's signature, Context defaults."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from agent import Context, PlanParser, Task, create_llm_compiler, parse_plan


def test_factory_signature_matches_the_spec() -> None:
    params = inspect.signature(create_llm_compiler).parameters
    assert next(iter(params)) == "tools"
    for name in ("planner", "joiner", "checkpointer"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[name].default is None
    assert params["name"].default == "llmcompiler"


def test_context_defaults_match_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LLMCOMPILER_PLANNER_MODEL", "LLMCOMPILER_JOINER_MODEL", "LLMCOMPILER_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    ctx = Context()
    assert (ctx.planner_model, ctx.joiner_model) == ("openai:gpt-4o-mini", None)
    assert (ctx.max_replans, ctx.max_concurrency) == (2, 16)
    assert (ctx.tool_timeout_s, ctx.max_tasks_per_plan) == (60.0, 200)
    monkeypatch.setenv("LLMCOMPILER_PLANNER_MODEL", "openai:local")
    assert Context().planner_model == "openai:local"


def documented_defaults() -> dict[str, Any]:
    """Each Context field's default as the "Context fields" table of docs/configuration.md
    states it (the first literal in its default cell)."""
    text = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    table = text.split("## Context fields", 1)[1].split("\n## ", 1)[0]
    defaults: dict[str, Any] = {}
    for row in table.splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        literal = re.match(r"`([^`]*)`", cells[1]) if len(cells) > 1 else None
        if cells[0].startswith("`") and literal is not None:
            for name in re.findall(r"`(\w+)`", cells[0]):
                defaults[name] = ast.literal_eval(literal.group(1))
    return defaults


def test_every_context_field_has_the_default_docs_configuration_states(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("LLMCOMPILER_PLANNER_MODEL", "LLMCOMPILER_JOINER_MODEL", "LLMCOMPILER_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    ctx = Context()
    actual = {f.name: getattr(ctx, f.name) for f in dataclasses.fields(Context)}
    assert documented_defaults() == actual


def test_parser_api_is_importable_from_the_package() -> None:
    assert parse_plan("", []) == [Task(1, "join", {}, [])]
    assert PlanParser([]).close() == [Task(1, "join", {}, [])]
