"""`Task`: one planned tool call, as the parser hands it out and the scheduler runs it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent._toolset import JOIN


@dataclass(frozen=True)
class Task:
    """One planned tool call; `error` is set (and the task never runs) when it fails a check."""

    idx: int
    tool: str
    args: dict[str, Any]  # by parameter name, references kept as written
    deps: list[int]  # sorted indices of the earlier tasks it references
    thought: str | None = None
    error: str | None = None

    @property
    def is_join(self) -> bool:
        """The plan's final `join`, which the scheduler does not run as a tool."""
        return self.tool == JOIN
