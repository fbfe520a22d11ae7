"""Stored form of tool results, and their truncated previews for prompts and events.

Dependents always receive the stored form (not the live object), so a resumed run sees exactly
what an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pydantic import BaseModel

from agent._references import result_text

STORED_MAX_CHARS = 100_000
"""Text results longer than this are cut (with a marker) before they reach state."""

TRUNCATION_MARKER = "… [truncated {n} chars]"

STORED_MAX_DEPTH = 64
"""Lists and dicts nested deeper than this are cut (with a marker): encoders, checkpointers
and worker pipes recurse, and a result 500 levels deep would overflow their stacks."""

DEPTH_MARKER = "… [nested deeper than {n} levels]"


def _truncate_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATION_MARKER.format(n=len(text) - limit)


def _text_of_blocks(value: Any) -> Any:
    """Content blocks that are all text (MCP tools, multimodal messages) as one plain text, so
    `$1` passes "2100000" rather than `[{"type": "text", "text": "2100000", "id": ...}]`."""
    if (
        isinstance(value, list)
        and value
        and all(isinstance(b, dict) and b.get("type") == "text" and "text" in b for b in value)
    ):
        return "\n".join(str(block["text"]) for block in value)
    return value


_INT64 = range(-(2**63), 2**63)
"""Integers a checkpointer can store as numbers (msgpack); larger ones are kept as digits."""


def _checkpoint_safe(value: Any) -> Any:
    """`value` (already JSON-shaped) with integers beyond 64 bits as their exact digits."""
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
        return str(value)
    if isinstance(value, list):
        return [_checkpoint_safe(item) for item in value]
    if isinstance(value, dict):
        return {key: _checkpoint_safe(item) for key, item in value.items()}
    return value


def within_depth(value: Any, limit: int = STORED_MAX_DEPTH) -> Any:
    """`value` with lists, tuples and dicts below `limit` levels replaced by a marker (the
    walk itself stops there, so it never recurses deeper than `limit`)."""
    if not isinstance(value, list | tuple | dict):
        return value
    if limit <= 0:
        return DEPTH_MARKER.format(n=STORED_MAX_DEPTH)
    if isinstance(value, dict):
        return {key: within_depth(item, limit - 1) for key, item in value.items()}
    return (
        type(value)(within_depth(item, limit - 1) for item in value)
        if isinstance(value, tuple)
        else [within_depth(item, limit - 1) for item in value]
    )


def to_stored(value: Any) -> Any:
    """The form a result (or argument) takes in state, the same with or without a checkpointer.

    Pydantic models and dataclasses become dicts; what JSON cannot hold becomes text; the rest
    takes its JSON shape (tuples become lists, dict keys strings), and integers beyond 64 bits
    their exact digits (checkpoints are msgpack). Dependents always receive this form.
    """
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif hasattr(value, "content") and hasattr(value, "type"):  # a LangChain message
        value = value.content
    value = within_depth(_text_of_blocks(value))
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return _truncate_text(str(value), STORED_MAX_CHARS)
    if len(text) <= STORED_MAX_CHARS:
        return _checkpoint_safe(json.loads(text))
    return _truncate_text(value if isinstance(value, str) else text, STORED_MAX_CHARS)


def preview(value: Any, limit: int) -> Any:
    """A value for prompts and events: small values unchanged, large ones cut to text."""
    text = result_text(value)
    if len(text) <= limit:
        return value
    return _truncate_text(text, limit)


def stored_args(args: dict[str, Any]) -> dict[str, Any]:
    """A task's arguments as state stores them (see `to_stored`)."""
    return {name: to_stored(value) for name, value in args.items()}


def preview_args(args: dict[str, Any], limit: int) -> dict[str, Any]:
    return {name: preview(value, limit) for name, value in args.items()}
