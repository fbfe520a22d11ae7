"""Static checks of a plan's tasks: the call's arguments read as literals (with `ast`, never
evaluated), bound by name to the tool's signature, references to earlier tasks, indices.

`PlanChecker` holds what the checks need across one plan (the indices seen so far, the valid
reference targets); `agent.plan.PlanParser` reads the text and asks it to build each `Task`.
A failed check never drops a line: the task carries the error, the joiner sees it.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterable
from typing import Any

from agent._references import find_references
from agent._references import is_exact_reference as _is_exact
from agent._task import Task
from agent._toolset import JOIN, Signature, Toolset

MAX_TASK_INDEX = 1_000_000
"""A larger task number is beyond any plan: such a line is a note, never a task (indices are
stored as 64-bit integers by checkpointers)."""


class PlanChecker:
    """Builds the tasks of one plan, in order, checking each against the toolset and the
    tasks before it."""

    def __init__(self, toolset: Toolset, *, known: Iterable[int], max_tasks: int | None) -> None:
        self._toolset = toolset
        self._earlier = set(known)  # valid reference targets: known plus this plan's tasks
        self._top = max(self._earlier, default=0)
        self._plan_indices: list[int] = []  # this plan's tasks so far, errors included
        self._max_tasks = max_tasks

    def task(self, idx: int, tool: str, text: str, thought: str | None) -> Task:
        """The task of `idx. tool(text)`, with `error` set when a check fails."""
        errors: list[str] = []
        if idx in self._earlier:
            errors.append(f"duplicate index {idx}")
        elif idx < self._top:
            errors.append(f"index {idx} does not increase (an earlier task has index {self._top})")
        signature = self._toolset.signature(tool)
        if signature is None:
            known_tools = ", ".join(sorted(self._toolset)) or "none"
            errors.append(f"unknown tool '{tool}' (known tools: {known_tools})")

        positional, keywords, parse_errors = parse_arguments(text)
        errors.extend(parse_errors)
        args: dict[str, Any] = {}
        if not parse_errors:
            args, bind_errors = _bind(tool, signature, positional, keywords)
            errors.extend(bind_errors)
        values = [*positional, *(value for _, value in keywords)]
        refs, ref_errors = find_references(values, self._earlier)
        errors.extend(ref_errors)

        self._plan_indices.append(idx)
        self._earlier.add(idx)
        self._top = max(self._top, idx)
        if self._max_tasks is not None and len(self._plan_indices) > self._max_tasks:
            errors = [f"plan exceeds max_tasks_per_plan ({self._max_tasks})"]
        return Task(
            idx=idx,
            tool=tool,
            args=args,
            deps=sorted(refs),
            thought=thought,
            error="; ".join(errors) or None,
        )

    def join(self, idx: int | None, text: str, thought: str | None) -> Task:
        """The plan's `join`; an index that does not increase (or none) is renumbered.

        `join` takes one optional argument, `final="$N"`: task N's result *is* the answer, so
        the joiner model call can be skipped when it succeeds. Anything else is ignored.
        """
        if idx is None or idx <= self._top or idx > MAX_TASK_INDEX:
            idx = self._top + 1
        deps = sorted(set(self._plan_indices))
        args = {"final": final} if (final := self._final_reference(text)) else {}
        return Task(idx=idx, tool=JOIN, args=args, deps=deps, thought=thought)

    def _final_reference(self, text: str) -> str | None:
        positional, keywords, errors = parse_arguments(text)
        values = [value for name, value in keywords if name == "final"] or positional[:1]
        if errors or len(values) != 1 or not isinstance(values[0], str):
            return None
        refs, ref_errors = find_references(values[0], self._plan_indices)
        return values[0] if len(refs) == 1 and not ref_errors and _is_exact(values[0]) else None


def _source(code: str, node: ast.AST) -> str:
    """The text of `node` as written, shortened for an error message (never re-rendered:
    `ast.unparse` recurses and a deep expression would overflow the stack)."""
    text = ast.get_source_segment(code, node) or type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def parse_arguments(text: str) -> tuple[list[Any], list[tuple[str, Any]], list[str]]:
    """Literal values of the call's arguments, via `ast` only (never eval)."""
    code = f"_({text})"
    try:
        with warnings.catch_warnings():  # models write odd escapes ("\("); not our warning
            warnings.simplefilter("ignore")
            call = ast.parse(code, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        reason = exc.msg if isinstance(exc, SyntaxError) else f"{type(exc).__name__}: {exc}"
        return [], [], [f"cannot parse the arguments ({reason})"]
    if not isinstance(call, ast.Call):
        return [], [], ["cannot parse the arguments (not a single call)"]
    positional: list[Any] = []
    keywords: list[tuple[str, Any]] = []
    errors: list[str] = []
    nodes: list[tuple[str | None, ast.expr]] = [(None, node) for node in call.args]
    for keyword in call.keywords:
        if keyword.arg is None:
            errors.append(f"argument unpacking (**{_source(code, keyword.value)}) is not supported")
        else:
            nodes.append((keyword.arg, keyword.value))
    for name, node in nodes:
        if isinstance(node, ast.Starred):
            errors.append(f"argument unpacking ({_source(code, node)}) is not supported")
            continue
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            errors.append(f"argument {_source(code, node)} is not a Python literal")
            continue
        try:
            value = _json_value(value)
        except TypeError as exc:
            errors.append(
                f"argument {_source(code, node)} is not JSON data ({exc} is not supported)"
            )
            continue
        if name is None:
            positional.append(value)
        else:
            keywords.append((name, value))
    return positional, keywords, errors


def _json_value(value: Any) -> Any:
    """`value` with tuples as lists, so args are plain JSON data for state, events and resumes.

    Raises TypeError naming what JSON cannot hold (sets, bytes, complex numbers, tuple keys).
    """
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {_json_key(key): _json_value(item) for key, item in value.items()}
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"a {type(value).__name__} value")


def _json_key(key: Any) -> Any:
    if key is None or isinstance(key, str | int | float):
        return key
    raise TypeError(f"a {type(key).__name__} dict key")


def _bind(
    tool: str,
    signature: Signature | None,
    positional: list[Any],
    keywords: list[tuple[str, Any]],
) -> tuple[dict[str, Any], list[str]]:
    """Arguments by parameter name, like a Python call would bind them."""
    if signature is None:  # unknown tool: positional arguments keep their place as a name
        return {**{f"arg{i}": value for i, value in enumerate(positional, 1)}, **dict(keywords)}, []
    params, required = signature.params, signature.required
    errors: list[str] = []
    if len(positional) > len(params):
        errors.append(
            f"{tool} takes {len(params)} positional argument(s) but {len(positional)} were given"
        )
    args = dict(zip(params, positional, strict=False))
    for name, value in keywords:
        if name in args:
            errors.append(f"{tool} got multiple values for argument '{name}'")
            continue
        if name not in params:
            errors.append(
                f"{tool} has no parameter '{name}' (parameters: {', '.join(params) or 'none'})"
            )
        args[name] = value
    missing = [name for name in params if name in required and name not in args]
    if missing:
        errors.append(f"{tool} is missing required argument(s): {', '.join(missing)}")
    return args, errors
