"""Why a turn failed, named: the run's `error` starts with one of `Cause`'s phrases.

A model failure is classified where it is caught (its exception is gone once the text is in
state); a round's failure is read off its records. Across replans the first round's cause is
kept beside the last one, since the first is usually the real one (calls that timed out, then
a replan the model could not write). The CLI picks its hint by the cause (`cause_of`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum

from agent._errors import ModelNotConfiguredError
from agent._state import RoundRecord, TaskRecord


class Cause(StrEnum):
    """The first words of a failed run's `error` (docs/reliability.md, "Bad input")."""

    MODEL_NOT_CONFIGURED = "model not configured"
    MODEL_UNREACHABLE = "model unreachable"
    MODEL_TIMED_OUT = "model timed out"
    CONTEXT_WINDOW = "context window exceeded"
    MODEL_ERROR = "model error"
    PLAN_UNREADABLE = "plan unreadable"
    CALLS_FAILED = "every call failed"
    REPLANS_EXHAUSTED = "replans exhausted"


_CONTEXT_WINDOW = re.compile(
    r"context_length_exceeded|maximum context length|context window|context size"
    r"|prompt is too long|too many tokens",
    re.IGNORECASE,
)
"""OpenAI and vLLM ("maximum context length", code context_length_exceeded), llama-cpp-python
("exceed context window of N"), llama.cpp's server ("exceeds the available context size"),
Anthropic ("prompt is too long")."""
_TIMEOUT_TYPES = {"TimeoutError", "APITimeoutError", "TimeoutException"}
_CONNECTION_TYPES = {"ConnectionError", "APIConnectionError", "TransportError"}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_a(exc: BaseException, names: set[str]) -> bool:
    return any(c.__name__ in names for c in type(exc).__mro__)


def model_cause(exc: BaseException) -> Cause:
    """What a model call's exception means (a timeout before a dropped connection: the
    OpenAI SDK's timeout error is a connection error too)."""
    chain = _chain(exc)
    if any(isinstance(e, ModelNotConfiguredError) for e in chain):
        return Cause.MODEL_NOT_CONFIGURED
    if any(_CONTEXT_WINDOW.search(str(e)) for e in chain):
        return Cause.CONTEXT_WINDOW
    if any(_is_a(e, _TIMEOUT_TYPES) for e in chain):
        return Cause.MODEL_TIMED_OUT
    if any(_is_a(e, _CONNECTION_TYPES) for e in chain):
        return Cause.MODEL_UNREACHABLE
    return Cause.MODEL_ERROR


_SAYS = {
    Cause.MODEL_NOT_CONFIGURED: "the {role} model is not usable",
    Cause.MODEL_UNREACHABLE: "the {role} model could not be reached or dropped the connection",
    Cause.MODEL_TIMED_OUT: "the {role} model gave no reply within Context.model_timeout_s",
    Cause.CONTEXT_WINDOW: "the {role}'s prompt does not fit the model's context window",
    Cause.MODEL_ERROR: "the {role} model failed",
}


def model_failure(role: str, exc: BaseException) -> str:
    """`error` text for a failed call of the `role` ("planner", "joiner") model."""
    cause = model_cause(exc)
    return f"{cause}: {_SAYS[cause].format(role=role)}: {type(exc).__name__}: {exc}"


def round_failure(record: RoundRecord, round_tasks: Sequence[TaskRecord]) -> str | None:
    """Why a round found nothing, or None when a task of it succeeded (or its plan was empty
    on purpose): its model's failure, else calls that ran and failed (the first, in plan
    order), else a plan none of whose lines could run."""
    if any(t["status"] == "done" for t in round_tasks):
        return None
    if record["plan_error"]:
        return record["plan_error"]
    ran = [t for t in round_tasks if t["status"] == "error" and t["started_at"] is not None]
    if ran:
        first = ran[0]
        return f"{Cause.CALLS_FAILED}: first ${first['idx']} {first['tool']}: {first['error']}"
    refused = [t for t in round_tasks if t["status"] == "error"]
    notes = record.get("plan_notes", [])
    if refused:
        first = refused[0]
        return f"{Cause.PLAN_UNREADABLE}: ${first['idx']} {first['tool']}: {first['error']}"
    if notes:
        return f"{Cause.PLAN_UNREADABLE}: no task in it, only text ({notes[0]!r})"
    return None


def replans_exhausted(max_replans: int, missing: str, last_round: str | None) -> str:
    """`error` text when the joiner still wanted a replan with none left."""
    text = f"{Cause.REPLANS_EXHAUSTED} (max_replans={max_replans}): still missing: {missing}"
    return f"{text}; last round: {last_round}" if last_round else text


def turn_error(
    failure: str | None, rounds: Sequence[RoundRecord], tasks: Sequence[TaskRecord]
) -> str | None:
    """The turn's `error`: `failure`, with the first round's cause kept when it replanned
    (its failure, or else the reason it gave for the replan)."""
    if failure is None or len(rounds) < 2:
        return failure
    first = rounds[0]
    first_tasks = [t for t in tasks if t["round"] == first["round"]]
    cause = round_failure(first, first_tasks) or first["replan_reason"]
    return f"{failure}; round 1: {cause}" if cause and cause not in failure else failure


def cause_of(error: str | None) -> Cause | None:
    """The cause a run's `error` names (None for no error or one from elsewhere)."""
    if not error:
        return None
    return next((c for c in Cause if error.startswith(c.value)), None)
