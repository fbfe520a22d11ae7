"""`$N` / `${N}` references to earlier tasks' results: one mechanism for parser and scheduler.

The parser calls `find_references` to learn a task's dependencies and reject bad references;
the scheduler calls `resolve_references` with the results of exactly those dependencies. Both
use the same patterns, so what counts as a reference at parse time is what gets substituted.

Rules (docs/protocol.md, "Plan language"):
- `${N}` anywhere, and a string that is exactly `$N`, are always references.
- A bare `$N` inside a longer string is a reference only when N is an earlier task; otherwise it
  is plain text (`"under $5"`). `$12` is task 12, never task 1 followed by "2".
- Field access projects into a structured result: `$N.name`, `$N[0]`, `${N}.items[0].name`,
  `${N}["key"]`. A string result holding JSON is parsed first. A missing field is the task's
  error (`FieldAccessError`) naming the path. `.` before a non-identifier (`$1.50`) is text.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from agent._errors import FieldAccessError

_STEP = (
    r"\.[A-Za-z_]\w*"
    r"|\[\s*-?[0-9]+\s*\]"
    r"|\[\s*\"(?:[^\"\\]|\\.)*\"\s*\]"
    r"|\[\s*'(?:[^'\\]|\\.)*'\s*\]"
)
_REF = re.compile(rf"\$\{{([0-9]+)\}}((?:{_STEP})*)|\$([0-9]+)((?:{_STEP})*)")
"""A reference with its field path: `${N}` (groups 1, 2) or bare `$N` (groups 3, 4)."""
_STEPS = re.compile(_STEP)


@dataclass(frozen=True)
class _Ref:
    idx: int
    path: str  # as written after the reference, e.g. `.items[0].name`; "" for none
    braced: bool
    written: str


def _ref(match: re.Match[str]) -> _Ref:
    braced = match[1] is not None
    idx = int(match[1] if braced else match[3])
    return _Ref(idx, (match[2] if braced else match[4]) or "", braced, match[0])


def project(value: Any, ref: _Ref) -> Any:
    """The field `ref.path` of a stored result (a JSON string result is parsed first)."""
    for step in _STEPS.findall(ref.path):
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        key = step[1:] if step.startswith(".") else ast.literal_eval(step[1:-1].strip())
        indexable = isinstance(value, Mapping) or (
            isinstance(value, list | tuple) and isinstance(key, int)
        )
        try:
            if not indexable:
                raise KeyError(key)
            value = value[key]
        except (KeyError, IndexError):
            kind = type(value).__name__
            raise FieldAccessError(
                f"{ref.written}: no field {step} in the result of ${ref.idx} (a {kind}: "
                f"{_truncate(result_text(value), 120)})"
            ) from None
    return value


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def result_text(value: Any) -> str:
    """Text of a result inside a longer string: `str` as is, anything else as JSON.

    JSON (not `str()`) so lists and dicts read the same way the model wrote them; `default=str`
    keeps unserializable leftovers readable instead of failing the task.
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _exact(text: str) -> _Ref | None:
    """The reference when `text` is exactly one (`$N`, `${N}`, with any field path)."""
    match = _REF.fullmatch(text)
    return _ref(match) if match is not None else None


def is_exact_reference(text: str) -> bool:
    """True when `text` is exactly one reference (with or without a field path)."""
    return _exact(text) is not None


def find_references(value: Any, earlier: Collection[int]) -> tuple[set[int], list[str]]:
    """Indices referenced anywhere in a parsed argument value, and why any reference is invalid.

    The set holds only indices in `earlier` (so a scheduler never waits on a task that does not
    exist); dangling references show up as error messages instead. Messages are deduplicated
    and ordered by first occurrence (sets are visited in sorted order). Field paths are checked
    when the task runs, against the actual result.
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
            note(exact.idx, text)
            return
        for match in _REF.finditer(text):
            ref = _ref(match)
            if not ref.braced and ref.idx not in earlier:
                continue  # plain text such as "under $5"
            note(ref.idx, ref.written)

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
        ref = _ref(match)
        if ref.idx not in results:
            return ref.written
        return result_text(project(results[ref.idx], ref))

    return _REF.sub(replace, text)


def resolve_references(value: Any, results: Mapping[int, Any]) -> Any:
    """A copy of `value` with references to `results` (the task's dependencies) substituted.

    A string that is exactly one reference becomes the stored result itself (typed: a list stays
    a list); a reference inside a longer string becomes `result_text` of the result. Indices not
    in `results` stay as written, which is why `results` must hold exactly the task's deps: a
    bare `$5` that was plain text at parse time is then never in it. Dict keys and set members
    are interpolated as text only, since they must stay hashable. Raises `FieldAccessError`
    for a field path the result does not have.
    """
    return _resolve(value, results, text_only=False)


def _resolve(value: Any, results: Mapping[int, Any], *, text_only: bool) -> Any:
    if isinstance(value, str):
        exact = _exact(value)
        if not text_only and exact is not None and exact.idx in results:
            # A copy: a tool that mutates its input must not change the stored result.
            return copy.deepcopy(project(results[exact.idx], exact))
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
