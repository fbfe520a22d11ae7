"""The scheduler: eager streamed dispatch, dependencies, failures, caps and timeouts.

Assertions are about order and overlap (who started before whom finished), never about
absolute durations.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass

import pytest
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from agent import Context, create_llm_compiler
from llmcompiler_scripted import ScriptedChatModel
from tests.helpers import (
    STREAMING,
    HookedChatModel,
    eventually,
    recorded_tasks,
    run_graph,
    scripted_graph,
)

DELAYS: dict[str, float] = {}


@tool
async def fetch(name: str) -> str:
    """Return the value named `name` after its scripted delay."""
    await asyncio.sleep(DELAYS.get(name.split(":")[0], 0.01))
    if name.startswith("boom"):
        raise RuntimeError(f"{name} exploded")
    return f"<{name}>"


@tool
async def numbers(n: int) -> list[int]:
    """The list 0..n-1."""
    return list(range(n))


@tool
def total(values: list[int]) -> int:
    """Sum of `values`."""
    return sum(values)


async def test_first_task_starts_while_the_plan_is_still_streaming() -> None:
    filler = "\n".join(f'{i}. fetch("item {i}")' for i in range(2, 30))
    graph, *_ = scripted_graph([fetch], [f'1. fetch("first")\n{filler}\n30. join()'])
    run = await run_graph(graph, "go")
    assert run.position("task_started", 1) < run.position("plan_finished")
    assert run.position("task_finished", 1) < run.position("plan_finished")
    assert all(t["status"] == "done" for t in run.tasks.values())


async def test_dependent_of_fast_task_starts_before_slow_sibling_finishes() -> None:
    DELAYS.update(slow=1.0, fast=0.01)
    plan = '1. fetch("fast")\n2. fetch("slow")\n3. fetch("after:$1")\n4. join()'
    graph, *_ = scripted_graph([fetch], [plan])
    run = await run_graph(graph, "go")
    assert run.position("task_finished", 3) < run.position("task_finished", 2)
    tasks = run.tasks
    assert tasks[3]["started_at"] < tasks[2]["finished_at"]
    assert tasks[3]["result"] == "<after:<fast>>"


@pytest.mark.parametrize("early", [1, 2])
async def test_a_task_with_two_dependencies_starts_only_after_the_later_one_finishes(
    early: int,
) -> None:
    """Dependency `early` finishes at once; the other is held until $4, a dependent of `early`
    alone planned after $3, has run: so $3's dependencies finish at different times, with $3
    ready to start in between (either dependency may be the later one)."""
    late = 3 - early
    released = asyncio.Event()

    @tool
    async def quick(name: str) -> str:
        """Return `name` at once; a name starting with "release" lets `held` return."""
        if name.startswith("release"):
            released.set()
        return name

    @tool
    async def held(name: str) -> str:
        """Return `name` once released."""
        await released.wait()
        return name

    first, second = ("quick", "held") if early == 1 else ("held", "quick")
    plan = (
        f'1. {first}("a")\n2. {second}("b")\n3. quick("$1 and $2")\n'
        f'4. quick("release after ${early}")\n5. join()'
    )
    graph, *_ = scripted_graph([quick, held], [plan])
    run = await run_graph(graph, "go")
    assert run.position("task_finished", early) < run.position("task_started", 4)
    assert run.position("task_started", 4) < run.position("task_finished", late)
    assert run.position("task_finished", late) < run.position("task_started", 3)
    assert run.tasks[3]["result"] == "a and b"


async def test_failed_task_skips_its_dependents_at_once_and_nothing_else() -> None:
    DELAYS.update(slow=0.5)
    plan = (
        '1. fetch("boom")\n2. fetch("x:$1")\n3. fetch(name="y:${2}")\n4. fetch("slow")\n5. join()'
    )
    graph, *_ = scripted_graph([fetch], [plan])
    run = await run_graph(graph, "go")
    tasks = run.tasks
    assert tasks[1]["status"] == "error" and "exploded" in tasks[1]["error"]
    assert tasks[2]["status"] == "skipped" and "$1" in tasks[2]["error"]
    assert tasks[3]["status"] == "skipped" and "$2" in tasks[3]["error"]
    assert tasks[4]["status"] == "done"
    assert not run.of("task_started", 2) and not run.of("task_started", 3)
    assert run.position("task_finished", 3) < run.position("task_finished", 4)


async def test_references_keep_types_when_exact_and_interpolate_inside_text() -> None:
    plan = '1. numbers(4)\n2. total(values="$1")\n3. fetch("sum is $2, price under $5")\n4. join()'
    graph, *_ = scripted_graph([fetch, numbers, total], [plan])
    run = await run_graph(graph, "go")
    tasks = run.tasks
    assert tasks[1]["result"] == [0, 1, 2, 3]
    assert tasks[2]["result"] == 6
    assert tasks[3]["result"] == "<sum is 6, price under $5>"


async def test_static_errors_are_recorded_and_never_started() -> None:
    plan = '1. nope("x")\n2. fetch(nam="x")\n3. fetch("$9")\n4. fetch("ok")\n5. join()'
    graph, *_ = scripted_graph([fetch], [plan])
    run = await run_graph(graph, "go")
    tasks = run.tasks
    assert "unknown tool" in tasks[1]["error"]
    assert tasks[2]["status"] == "error" and "nam" in tasks[2]["error"]
    assert tasks[3]["status"] == "error" and "$9" in tasks[3]["error"]
    assert tasks[4]["status"] == "done"
    for idx in (1, 2, 3):
        assert run.position("task_planned", idx) < run.position("task_finished", idx)
        assert not run.of("task_started", idx)


async def test_bad_argument_type_is_a_task_error() -> None:
    graph, *_ = scripted_graph([numbers], ['1. numbers("many")\n2. join()'])
    run = await run_graph(graph, "go")
    assert run.tasks[1]["status"] == "error"
    assert "numbers" in run.tasks[1]["error"] or "int" in run.tasks[1]["error"]


@dataclass
class Gauge:
    """Counts calls running at once."""

    now: int = 0
    peak: int = 0

    def __enter__(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def __exit__(self, *_: object) -> None:
        self.now -= 1


async def test_concurrency_cap_counts_running_calls_not_waiting_tasks() -> None:
    gauge = Gauge()
    started: dict[str, float] = {}
    finished: dict[str, float] = {}

    @tool
    async def work(name: str, seconds: float) -> str:
        """Work for `seconds`."""
        with gauge:
            started[name] = time.monotonic()
            await asyncio.sleep(seconds)
            finished[name] = time.monotonic()
        return name

    plan = (
        '1. work("a", 0.3)\n2. work("b:$1", 0.01)\n3. work("c", 0.3)\n'
        '4. work("d", 0.01)\n5. work("e", 0.01)\n6. join()'
    )
    graph, *_ = scripted_graph([work], [plan])
    run = await run_graph(graph, "go", context=Context(max_concurrency=2))
    assert gauge.peak == 2
    # Task 2 waits for task 1 without holding a slot, so task 3 runs beside task 1.
    assert started["c"] < finished["a"]
    assert all(t["status"] == "done" for t in run.tasks.values())


async def test_n_sync_calls_with_a_cap_of_n_all_run_at_once() -> None:
    """Eight sync calls meet at a barrier of eight: only possible if all eight run at once."""
    barrier = threading.Barrier(8, timeout=10)

    @tool
    def meet(i: int) -> int:
        """Wait at the barrier."""
        barrier.wait()
        return i

    plan = "\n".join(f"{i}. meet({i})" for i in range(1, 9)) + "\n9. join()"
    graph, *_ = scripted_graph([meet], [plan])
    run = await run_graph(graph, "go", context=Context(max_concurrency=8))
    assert [run.tasks[i]["status"] for i in range(1, 9)] == ["done"] * 8


async def test_sync_calls_above_the_cap_never_run_more_than_the_cap_at_once() -> None:
    """Nine sync calls, cap three, all ready at once. Each is counted as running while it
    meets two others at a barrier of three (so three do overlap), then waits at a barrier of
    all nine, which only calls beyond the cap could reach: that wait gives them time to start,
    and it ends at its timeout when the cap holds."""
    group, everyone = threading.Barrier(3, timeout=10), threading.Barrier(9, timeout=0.3)
    lock = threading.Lock()
    gauge = Gauge()

    @tool
    def meet(i: int) -> int:
        """Count this call as running while it waits at the barriers."""
        with lock:
            gauge.__enter__()
        try:
            group.wait()
            with contextlib.suppress(threading.BrokenBarrierError):
                everyone.wait()
        finally:
            with lock:
                gauge.__exit__()
        return i

    plan = "\n".join(f"{i}. meet({i})" for i in range(1, 10)) + "\n10. join()"
    graph, *_ = scripted_graph([meet], [plan])
    context = Context(max_concurrency=3, streaming_dispatch=False)
    run = await run_graph(graph, "go", context=context)
    assert [run.tasks[i]["status"] for i in range(1, 10)] == ["done"] * 9
    assert gauge.peak == 3
    assert everyone.broken  # nobody got past the cap to complete the barrier of nine


async def test_timeout_cancels_async_tool_and_records_an_error() -> None:
    cancelled = asyncio.Event()

    @tool
    async def hang(x: str) -> str:
        """Never returns."""
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return x

    graph, *_ = scripted_graph([hang, fetch], ['1. hang("x")\n2. fetch("y")\n3. join()'])
    run = await run_graph(graph, "go", context=Context(tool_timeout_s=0.2))
    assert run.tasks[1]["status"] == "error"
    assert "timed out after 0.2s" in run.tasks[1]["error"]
    assert cancelled.is_set()
    assert run.tasks[2]["status"] == "done"


async def test_unserializable_result_is_stored_as_text() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque-thing"

    @tool
    async def make(x: str) -> object:
        """Make an opaque object."""
        return Opaque()

    graph, *_ = scripted_graph([make, fetch], ['1. make("x")\n2. fetch("got $1")\n3. join()'])
    run = await run_graph(graph, "go")
    assert run.tasks[1]["result"] == "opaque-thing"
    assert run.tasks[2]["result"] == "<got opaque-thing>"


async def test_streaming_dispatch_off_starts_tools_only_after_the_plan() -> None:
    filler = "\n".join(f'{i}. fetch("item {i}")' for i in range(2, 20))
    graph, *_ = scripted_graph([fetch], [f'1. fetch("first")\n{filler}\n20. join()'])
    run = await run_graph(graph, "go", context=Context(streaming_dispatch=False))
    assert run.position("plan_finished") < run.position("task_started", 1)


async def test_cancelled_run_resumes_without_rerunning_finished_calls() -> None:
    DELAYS.update(slow=5.0)
    calls: list[str] = []

    @tool
    async def step(name: str) -> str:
        """Record and wait."""
        calls.append(name)
        await asyncio.sleep(DELAYS.get(name, 0.01))
        return name.upper()

    plan = '1. step("a")\n2. step("slow")\n3. step("b-$1")\n4. join()'
    saver = InMemorySaver()
    graph, planner, _ = scripted_graph([step], [plan], checkpointer=saver)
    config = {"configurable": {"thread_id": "cancel-1"}}

    async def consume() -> None:
        await run_graph(graph, "go", config=config)

    runner = asyncio.create_task(consume())
    # Cancel once the results of tasks 1 and 3 are in the checkpoint (task 2 still runs).
    await eventually(
        lambda: {1, 3} <= set(recorded_tasks(saver, "cancel-1")), what="tasks 1 and 3 recorded"
    )
    assert "slow" in calls
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    DELAYS.update(slow=0.01)
    run = await run_graph(graph, None, config=config)
    assert sorted(calls) == ["a", "b-A", "slow", "slow"]
    assert [run.tasks[i]["result"] for i in (1, 2, 3)] == ["A", "SLOW", "B-A"]
    assert len(planner.calls) == 1  # the plan was replayed, not asked for again


async def test_duplicate_index_error_does_not_shadow_the_original_task() -> None:
    DELAYS.update(slow=0.2)
    plan = '1. fetch("slow")\n1. fetch("dup")\n2. fetch("after:$1")\n3. join()'
    graph, *_ = scripted_graph([fetch], [plan])
    run = await run_graph(graph, "go")
    first, duplicate, dependent = run.output["tasks"]
    assert first["status"] == "done" and duplicate["status"] == "error"
    assert "duplicate" in duplicate["error"] or "increase" in duplicate["error"]
    assert dependent["status"] == "done" and dependent["result"] == "<after:<slow>>"


async def test_a_tool_mutating_its_input_does_not_change_the_stored_result() -> None:
    @tool
    async def pop(values: list[int]) -> int:
        """Pop the last value."""
        return values.pop()

    graph, *_ = scripted_graph([numbers, pop], ['1. numbers(3)\n2. pop("$1")\n3. join()'])
    run = await run_graph(graph, "go")
    assert run.tasks[1]["result"] == [0, 1, 2] and run.tasks[2]["result"] == 2


async def test_interrupt_inside_a_tool_pauses_the_run_and_resumes_with_the_answer() -> None:
    from langgraph.types import Command, interrupt

    calls: list[str] = []

    @tool
    async def ask_human(question: str) -> str:
        """Ask a person."""
        calls.append(f"ask {question}")
        return f"human said {interrupt(question)}"

    @tool
    async def work(x: str) -> str:
        """Do work."""
        calls.append(f"work {x}")
        return x.upper()

    plan = '1. work("a")\n2. ask_human("ok?")\n3. work("b $2")\n4. join()'
    graph, planner, _ = scripted_graph(
        [ask_human, work], [plan], ["Action: Finish(done)"], checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "interrupt-1"}}
    await run_graph(graph, "go", config=config)
    state = await graph.aget_state(config)
    assert [i.value for t in state.tasks for i in t.interrupts] == ["ok?"]

    run = await run_graph(graph, Command(resume="yes"), config=config)
    assert run.answer == "done"
    assert [run.tasks[i]["result"] for i in (1, 2, 3)] == [
        "A",
        "human said yes",
        "B HUMAN SAID YES",
    ]
    assert calls.count("work a") == 1 and len(planner.calls) == 1


async def test_field_references_project_into_structured_results() -> None:
    @tool
    async def profile(user: str) -> dict[str, object]:
        """A user's profile."""
        return {"name": user.title(), "langs": ["py", "rs"]}

    plan = (
        '1. profile("ada")\n2. fetch("$1.name")\n3. fetch(name="${1}.langs[1] by $1.name")\n'
        '4. fetch("$1.email")\n5. fetch("after:$4")\n6. join()'
    )
    graph, *_ = scripted_graph([profile, fetch], [plan])
    run = await run_graph(graph, "go")
    tasks = run.tasks
    assert tasks[2]["result"] == "<Ada>"
    assert tasks[3]["result"] == "<rs by Ada>"
    assert tasks[4]["status"] == "error" and "$1.email" in tasks[4]["error"]
    assert not run.of("task_started", 4)
    assert tasks[5]["status"] == "skipped"


async def test_calls_of_a_tool_that_is_not_parallel_safe_run_one_at_a_time_in_plan_order() -> None:
    gauge = Gauge()
    order: list[str] = []

    @tool
    async def shell(command: str) -> str:
        """Run a command in one stateful shell session."""
        with gauge:
            order.append(command)
            await asyncio.sleep(0.05)
        return command

    shell.metadata = {"parallel": False}
    plan = (
        '1. shell("cd /tmp")\n2. fetch("x")\n3. shell("ls")\n4. shell("pwd")\n'
        '5. fetch("y")\n6. join()'
    )
    graph, *_ = scripted_graph([shell, fetch], [plan])
    run = await run_graph(graph, "go")
    assert gauge.peak == 1
    assert order == ["cd /tmp", "ls", "pwd"]
    assert run.tasks[2]["started_at"] < run.tasks[3]["finished_at"]  # others stay parallel


async def test_identical_pure_calls_execute_once() -> None:
    calls: list[str] = []

    @tool
    async def lookup(query: str) -> str:
        """Pure lookup."""
        calls.append(query)
        await asyncio.sleep(0.05)
        return query.upper()

    lookup.metadata = {"pure": True}
    plan = (
        '1. lookup("a")\n2. lookup(query="a")\n3. fetch("$1")\n4. lookup("$3")\n'
        '5. lookup("<A>")\n6. join()'
    )
    graph, *_ = scripted_graph([lookup, fetch], [plan])
    run = await run_graph(graph, "go")
    assert sorted(calls) == ["<A>", "a"]
    assert run.tasks[2]["result"] == "A" and run.tasks[2]["deduplicated_from"] == 1
    # Task 5 has no dependencies, so it claims the call before task 4 resolves "$3" to "<A>".
    assert run.tasks[4]["deduplicated_from"] == 5 and "deduplicated_from" not in run.tasks[5]
    dedup_events = [e for e in run.of("task_finished") if "deduplicated_from" in e]
    assert len(dedup_events) == 2


async def test_dedupe_never_reuses_failures_or_impure_tools() -> None:
    calls: list[str] = []

    @tool
    async def flaky(query: str) -> str:
        """Fails the first time."""
        calls.append(query)
        if len(calls) == 1:
            raise RuntimeError("transient")
        return "ok"

    flaky.metadata = {"pure": True}
    plan = '1. flaky("a")\n2. flaky("a")\n3. fetch("a")\n4. fetch("a")\n5. join()'
    graph, *_ = scripted_graph([flaky, fetch], [plan])
    run = await run_graph(graph, "go")
    assert run.tasks[1]["status"] == "error" and run.tasks[2]["result"] == "ok"
    assert "deduplicated_from" not in run.tasks[4]  # fetch is not marked pure


async def test_pure_calls_differing_only_in_case_both_run_and_keep_their_own_results() -> None:
    calls: list[str] = []

    @tool
    async def lookup(city: str) -> str:
        """Pure, case-sensitive lookup."""
        calls.append(city)
        return f"<{city}>"

    lookup.metadata = {"pure": True}
    plan = '1. lookup("Paris")\n2. lookup("paris")\n3. join()'
    graph, *_ = scripted_graph([lookup], [plan])
    run = await run_graph(graph, "go")
    assert sorted(calls) == ["Paris", "paris"]
    assert (run.tasks[1]["result"], run.tasks[2]["result"]) == ("<Paris>", "<paris>")
    assert not any("deduplicated_from" in t for t in run.tasks.values())


def test_text_content_blocks_are_stored_as_plain_text() -> None:
    from agent._results import to_stored

    blocks = [{"type": "text", "text": "2100000", "id": "lc_1"}, {"type": "text", "text": "x"}]
    assert to_stored(blocks) == "2100000\nx"
    mixed = [{"type": "text", "text": "a"}, {"type": "image", "url": "u"}]
    assert to_stored(mixed) == mixed


async def test_idempotency_keys_are_distinct_across_tasks_and_turns() -> None:
    keys: list[str] = []

    @tool
    async def send(to: str, config: RunnableConfig) -> str:
        """Send a message (a side effect)."""
        keys.append(config["metadata"]["idempotency_key"])
        return f"sent to {to}"

    plan = '1. send("a")\n2. send("b")\n3. join()'
    graph, *_ = scripted_graph(
        [send],
        [plan, plan],
        ["Action: Finish(1)", "Action: Finish(2)"],
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": "keys"}}
    await run_graph(graph, "first", config=config)
    await run_graph(graph, "second", config=config)
    assert len(keys) == len(set(keys)) == 4
    assert all(key.startswith("keys|") for key in keys)


async def test_hung_sync_tool_times_out_and_its_late_result_is_discarded() -> None:
    """The timed-out call's thread is let go only once the joiner runs, and the joiner's
    stream waits until that thread has ended (so its result was delivered to the loop and
    dropped) before the run finishes; then the state must still hold no late result."""
    release = threading.Event()
    threads: list[threading.Thread] = []

    @tool
    def slow_sync(x: str) -> str:
        """A blocking call that outlives its timeout."""
        threads.append(threading.current_thread())
        release.wait(10)
        return "late"

    async def let_the_late_thread_finish(_: str) -> None:
        if not release.is_set():
            release.set()
            await asyncio.to_thread(threads[0].join, 10)

    planner = ScriptedChatModel(responses=['1. slow_sync("x")\n2. join()'], timing=STREAMING)
    joiner = HookedChatModel(
        responses=["Action: Finish(ok)"], timing=STREAMING, on_text=let_the_late_thread_finish
    )
    graph = create_llm_compiler(
        [slow_sync], planner=planner, joiner=joiner, checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "late"}}
    run = await run_graph(graph, "go", context=Context(tool_timeout_s=0.1), config=config)
    assert run.answer == "ok"
    assert release.is_set() and not threads[0].is_alive()  # it returned during the run
    state = (await graph.aget_state(config)).values
    record = state["tasks"][0]
    assert record["status"] == "error" and "timed out" in record["error"]
    assert record["result"] is None and "late" not in json.dumps(state["tasks"])
    [finished] = run.of("task_finished", 1)
    assert finished["status"] == "error" and "late" not in json.dumps(finished)


async def test_plan_longer_than_the_cap_and_self_references_become_task_errors() -> None:
    plan = "\n".join(f'{i}. fetch("t{i}")' for i in range(1, 6)) + '\n6. fetch("$6")\n7. join()'
    graph, *_ = scripted_graph([fetch], [plan])
    run = await run_graph(graph, "go", context=Context(max_tasks_per_plan=3))
    statuses = [run.tasks[i]["status"] for i in range(1, 7)]
    assert statuses == ["done", "done", "done", "error", "error", "error"]
    assert "max_tasks_per_plan (3)" in run.tasks[4]["error"]
    assert run.of("plan_finished")[0]["n_tasks"] == 6


async def test_self_reference_is_a_task_error() -> None:
    graph, *_ = scripted_graph([fetch], ['1. fetch("a")\n2. fetch("$2")\n3. join()'])
    run = await run_graph(graph, "go")
    assert run.tasks[2]["status"] == "error" and "$2" in run.tasks[2]["error"]
    assert run.tasks[1]["status"] == "done"


async def test_cancelling_a_run_cancels_in_flight_async_tools_promptly() -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()

    @tool
    async def long_call(x: str) -> str:
        """Takes a minute unless cancelled."""
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return x

    graph, *_ = scripted_graph([long_call], ['1. long_call("x")\n2. join()'])
    runner = asyncio.create_task(run_graph(graph, "go"))
    await asyncio.wait_for(started.wait(), 10)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    await asyncio.wait_for(cancelled.wait(), 2)
