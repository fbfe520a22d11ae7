"""PostgreSQL checkpoints (`langgraph-checkpoint-postgres`), the scale-out path.

Needs a real server: LLMCOMPILER_TEST_POSTGRES_URL, default the local one that `.ci/run`
starts. Locally an unreachable server skips these tests with the reason; under CI=true it
fails them, so a CI machine without PostgreSQL cannot pass silently.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from langchain_core.tools import tool
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from tests.helpers import kill_mid_run_and_resume, run_graph, scripted_graph

DEFAULT_URL = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"


def _redacted(url: str) -> str:
    return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)


@pytest.fixture(scope="module")
def postgres_url() -> str:
    url = os.environ.get("LLMCOMPILER_TEST_POSTGRES_URL", DEFAULT_URL)
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = (
            f"PostgreSQL not reachable at {_redacted(url)} ({type(exc).__name__}: {exc}); start "
            "one (see .ci/run) or set LLMCOMPILER_TEST_POSTGRES_URL"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def thread_id(postgres_url: str) -> Iterator[str]:
    """A fresh thread per test, deleted afterwards (the database outlives the test)."""
    thread = f"llmcompiler-test-{uuid.uuid4()}"
    yield thread
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for table in ("checkpoint_writes", "checkpoint_blobs", "checkpoints"):
            conn.execute(f"DELETE FROM {table} WHERE thread_id = %s", (thread,))


@pytest.fixture
async def pool(postgres_url: str) -> AsyncIterator[AsyncConnectionPool]:
    """The production set-up: a connection pool, with the settings the saver requires."""
    async with AsyncConnectionPool(
        postgres_url,
        min_size=1,
        max_size=4,
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    ) as opened:
        await AsyncPostgresSaver(opened).setup()  # type: ignore[arg-type]
        yield opened


@tool
def double(x: int) -> int:
    """2 * x."""
    return 2 * x


async def test_runs_to_completion_and_another_worker_continues_the_thread(
    pool: AsyncConnectionPool, thread_id: str
) -> None:
    config = {"configurable": {"thread_id": thread_id}}
    plans = [
        '1. double(4)\n2. double(x=5)\n3. double(x="$1")\n4. join()\n<END_OF_PLAN>',
        "1. double(21)\n2. join()\n<END_OF_PLAN>",
    ]
    answers = ["Thought: 8, 10, 16\nAction: Finish(16)", "Thought: 42\nAction: Finish(42)"]
    saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
    graph, _, _ = scripted_graph([double], plans, answers, checkpointer=saver)
    run = await run_graph(graph, "double 4, 5, then double the first", config=config)
    assert run.answer == "16"
    assert [run.tasks[i]["result"] for i in (1, 2, 3)] == [8, 10, 16]

    # Another worker (a new saver and graph on the same database) sees and continues it.
    other = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
    second, planner, _ = scripted_graph([double], plans[1:], answers[1:], checkpointer=other)
    state = await second.aget_state(config)
    assert state.values["messages"][-1].content == "16" and state.next == ()
    follow_up = await run_graph(second, "and double 21?", config=config)
    assert follow_up.answer == "42"
    assert [t["result"] for t in follow_up.output["tasks"]] == [42]  # a fresh task list
    assert "16" in str(planner.calls[0])  # the planner saw the earlier turn


def test_sigkill_mid_run_then_resume_reruns_only_unfinished_calls(
    postgres_url: str, thread_id: str, tmp_path: Path
) -> None:
    kill_mid_run_and_resume(postgres_url, tmp_path / "journal.txt", thread_id)
