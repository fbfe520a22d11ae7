"""What a run accepts: the rule each Context field declares, and the question's.

A bad input is refused before any model call, with an `InvalidInputError` that names the
field, the value and what is allowed: otherwise a run with `tool_timeout_s=-5` or a blank
question spends its model calls and replans only to fail (docs/reliability.md, "Bad input").
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from agent._errors import InvalidInputError

RULE = "allowed"
"""The key under which a Context field's metadata holds its `Allowed` rule."""


@dataclass(frozen=True)
class Allowed:
    """What one field accepts: `test` decides, `text` says it in the error."""

    text: str
    test: Callable[[Any], bool]

    def or_none(self) -> Allowed:
        """The same rule, where None (unset) is allowed too."""
        return Allowed(f"{self.text}, or null", lambda v: v is None or self.test(v))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def integer(low: int) -> Allowed:
    return Allowed(f"an integer >= {low}", lambda v: _is_int(v) and v >= low)


def number(low: float, high: float | None = None, *, above: bool = False) -> Allowed:
    """A finite number from `low` (excluded when `above`) up to `high`."""
    bound = f"> {low:g}" if above else f">= {low:g}"
    text = f"a number {bound}" + (f" and <= {high:g}" if high is not None else "")

    def test(value: Any) -> bool:
        if not _is_number(value):
            return False
        in_low = value > low if above else value >= low
        return in_low and (high is None or value <= high)

    return Allowed(text, test)


def flag() -> Allowed:
    return Allowed("true or false", lambda v: isinstance(v, bool))


def choice(*options: str) -> Allowed:
    return Allowed("one of " + ", ".join(map(repr, options)), lambda v: v in options)


def model_string(*, optional: bool = False) -> Allowed:
    """A 'provider:model' string; when `optional`, empty or null (unset) too."""
    if optional:
        return Allowed(
            "a 'provider:model' string, or empty", lambda v: v is None or isinstance(v, str)
        )
    return Allowed(
        "a non-empty 'provider:model' string", lambda v: isinstance(v, str) and bool(v.strip())
    )


def url() -> Allowed:
    """An http(s) URL; empty or null mean unset."""
    return Allowed(
        "an http:// or https:// URL, or empty",
        lambda v: (
            v is None or (isinstance(v, str) and (not v or v.startswith(("http://", "https://"))))
        ),
    )


def check_fields(config: Any) -> None:
    """Raise `InvalidInputError` naming every field of the dataclass `config` whose value
    its `Allowed` rule refuses."""
    problems = [
        f"{type(config).__name__}.{f.name}={getattr(config, f.name)!r} is not allowed: "
        f"it must be {f.metadata[RULE].text}"
        for f in dataclasses.fields(config)
        if RULE in f.metadata and not f.metadata[RULE].test(getattr(config, f.name))
    ]
    if problems:
        raise InvalidInputError("; ".join(problems))


def check_names(kind: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Raise `InvalidInputError` for a field `kind` does not have (a typo would otherwise
    be ignored, and the run would use the default)."""
    names = sorted(known)
    for name in given:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InvalidInputError(
                f"{kind} has no field {name!r}{hint}; its fields are: {', '.join(names)}"
            )


def check_question(text: str, limit: int) -> None:
    """Raise `InvalidInputError` for a question that is empty, blank or over `limit` chars."""
    if not text.strip():
        raise InvalidInputError("the question is empty: the last user message must hold some text")
    if len(text) > limit:
        raise InvalidInputError(
            f"the question is {len(text):,} characters long, over the limit of {limit:,} "
            "(Context.max_question_chars): shorten it, or raise the limit for a model with "
            "a larger context window"
        )
