"""The data shipped in `llmcompiler_bench/data` (see its README), read as package resources."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def load(source: str, name: str) -> list[dict[str, Any]]:
    """Items of `data/<source>/<name>.json`, in dataset order."""
    text = resources.files(f"llmcompiler_bench.data.{source}").joinpath(f"{name}.json").read_text()
    items: list[dict[str, Any]] = json.loads(text)
    return items
