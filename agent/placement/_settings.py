"""Placement's settings in the environment (`LLMCOMPILER_*`, docs/placement.md), read when
they apply, so a program can set them before its first placed call.

They are not `Context` fields: a bad value does not refuse a run up front, it fails the calls
that need it, as a `PlacementError` naming the variable, its value and what is allowed.
"""

from __future__ import annotations

import math
import os

from agent._errors import PlacementError


def env_number(
    name: str, default: float, allowed: str, *, whole: bool = False, zero: bool = False
) -> float:
    """The number in environment variable `name` (unset or blank: `default`). A value that is
    not a positive (or, with `zero`, non-negative) finite number, or not a whole one with
    `whole`, is a `PlacementError` naming the variable, its value and what is allowed: the
    task's error, not a bare `ValueError` from deep inside."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(int(raw)) if whole else float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and (value > 0 or (zero and value == 0))):
        raise PlacementError(f"{name}={raw!r} is not allowed: {allowed}")
    return value


def env_seconds(name: str, default: float) -> float:
    return env_number(name, default, f"use a number of seconds above 0 (unset: {default:g})")
