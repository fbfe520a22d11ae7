"""Stored form of tool results, and their truncated previews for prompts and events.

Dependents always receive the stored form (not the live object), so a resumed run sees exactly
what an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pydantic import BaseModel

from agent.references import result_text

STORED_MAX_CHARS = 100_000
"""Text results longer than this are cut (with a marker) before they reach state."""

TRUNCATION_MARKER = "… [truncated {n} chars]"


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


def to_stored(value: Any) -> Any:
    """JSON-serializable form of a tool result: pydantic and dataclasses as dicts, else text."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif hasattr(value, "content") and hasattr(value, "type"):  # a LangChain message
        value = value.content
    value = _text_of_blocks(value)
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return _truncate_text(str(value), STORED_MAX_CHARS)
    if len(text) <= STORED_MAX_CHARS:
        return value
    return _truncate_text(value if isinstance(value, str) else text, STORED_MAX_CHARS)


def preview(value: Any, limit: int) -> Any:
    """A value for prompts and events: small values unchanged, large ones cut to text."""
    text = result_text(value)
    if len(text) <= limit:
        return value
    return _truncate_text(text, limit)


def preview_args(args: dict[str, Any], limit: int) -> dict[str, Any]:
    return {name: preview(value, limit) for name, value in args.items()}
