"""`$N` / `${N}` references to earlier tasks' results: one mechanism for parser and scheduler.

The parser calls `find_references` to learn a task's dependencies and reject bad references;
the scheduler calls `resolve_references` with the results of exactly those dependencies. Both
use the same patterns, so what counts as a reference at parse time is what gets substituted.

Rules (SPEC "Plan language"):
- `${N}` anywhere, and a string that is exactly `$N`, are always references.
- A bare `$N` inside a longer string is a reference only when N is an earlier task; otherwise it
  is plain text (`"under $5"`). `$12` is task 12, never task 1 followed by "2".
- Field access (`$N.name`, `$N[0]`, `${N}["key"]`) is reserved and reported as an error.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Collection, Mapping
from typing import Any

_REF = re.compile(r"\$\{([0-9]+)\}|\$([0-9]+)")
"""A reference inside text: group 1 for `${N}`, group 2 for bare `$N` (greedy digits)."""

_FIELD = re.compile(r"\.[A-Za-z_]\w*|\[\s*(?:-?[0-9]|[\"'])[^\]]*\]?")
"""Field access right after a reference; `.` before a non-identifier (`$1.50`) is text."""


def result_text(value: Any) -> str:
    """Text of a result inside a longer string: `str` as is, anything else as JSON.

    JSON (not `str()`) so lists and dicts read the same way the model wrote them; `default=str`
    keeps unserializable leftovers readable instead of failing the task.
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _exact(text: str) -> int | None:
    """The index when `text` is exactly one reference (`$N` or `${N}`), else None."""
    match = _REF.fullmatch(text)
    if match is None:
        return None
    return int(match[1] or match[2])


def find_references(value: Any, earlier: Collection[int]) -> tuple[set[int], list[str]]:
    """Indices referenced anywhere in a parsed argument value, and why any reference is invalid.

    The set holds only indices in `earlier` (so a scheduler never waits on a task that does not
    exist); dangling references and field access show up as error messages instead. Messages
    are deduplicated and ordered by first occurrence (sets are visited in sorted order).
    """
    refs: set[int] = set()
    errors: dict[str, None] = {}

    def note(idx: int, written: str) -> None:
        if idx in earlier:
            refs.add(idx)
        else:
            errors[f"reference {written} does not name an earlier task"] = None

    def scan(text: str) -> None:
        exact = _exact(text)
        if exact is not None:
            note(exact, text)
            return
        for match in _REF.finditer(text):
            braced = match[1] is not None
            idx = int(match[1] if braced else match[2])
            if not braced and idx not in earlier:
                continue  # plain text such as "under $5"
            note(idx, match[0])
            field = _FIELD.match(text, match.end())
            if field is not None:
                errors[f"field access ({match[0]}{field[0]}) is not supported yet"] = None

    def visit(item: Any) -> None:
        if isinstance(item, str):
            scan(item)
        elif isinstance(item, Mapping):
            for key, inner in item.items():
                visit(key)
                visit(inner)
        elif isinstance(item, set | frozenset):
            for inner in sorted(item, key=repr):
                visit(inner)
        elif isinstance(item, list | tuple):
            for inner in item:
                visit(inner)

    visit(value)
    return refs, list(errors)


def _interpolate(text: str, results: Mapping[int, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        idx = int(match[1] or match[2])
        return result_text(results[idx]) if idx in results else match[0]

    return _REF.sub(replace, text)


def resolve_references(value: Any, results: Mapping[int, Any]) -> Any:
    """A copy of `value` with references to `results` (the task's dependencies) substituted.

    A string that is exactly one reference becomes the stored result itself (typed: a list stays
    a list); a reference inside a longer string becomes `result_text` of the result. Indices not
    in `results` stay as written, which is why `results` must hold exactly the task's deps: a
    bare `$5` that was plain text at parse time is then never in it. Dict keys and set members
    are interpolated as text only, since they must stay hashable.
    """
    return _resolve(value, results, text_only=False)


def _resolve(value: Any, results: Mapping[int, Any], *, text_only: bool) -> Any:
    if isinstance(value, str):
        exact = _exact(value)
        if not text_only and exact is not None and exact in results:
            # A copy: a tool that mutates its input must not change the stored result.
            return copy.deepcopy(results[exact])
        return _interpolate(value, results)
    if isinstance(value, Mapping):
        return {
            _resolve(key, results, text_only=True): _resolve(inner, results, text_only=text_only)
            for key, inner in value.items()
        }
    if isinstance(value, set | frozenset):
        return type(value)(_resolve(inner, results, text_only=True) for inner in value)
    if isinstance(value, list):
        return [_resolve(inner, results, text_only=text_only) for inner in value]
    if isinstance(value, tuple):
        return tuple(_resolve(inner, results, text_only=text_only) for inner in value)
    return value
