"""A program whose Ray-placed calls meet a Ray address where no cluster answers.

    RAY_ADDRESS=HOST:PORT python -m tests.integration.apps.placement_ray_connect [LIVE_ADDRESS]

Runs a plan of two Ray-placed calls twice against `RAY_ADDRESS`; then, given LIVE_ADDRESS (a
running cluster), points `RAY_ADDRESS` there, lets the remembered failure lapse
(`LLMCOMPILER_RAY_RETRY_S=0`) and runs the plan once more. Prints one JSON line: per run, the
tasks' statuses and errors and how many connection attempts the engine had made by its end.
Run as a program of its own: a `ray.init` that hangs stays in it, not in the test process.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from agent import Context, placement
from agent.placement import _ray_tasks as ray_tasks
from llmcompiler_scripted import PROFILES
from tests.helpers import run_graph, scripted_graph
from tests.integration.apps.placement_run import crunch, placed

PLAN = "1. crunch(n=10)\n2. crunch(n=10)\n3. join()"
attempts = 0


def counted_probe(address: str, timeout: float) -> None:
    """The engine's probe of the address, counted: one per connection attempt."""
    global attempts
    attempts += 1
    probe(address, timeout)


probe = ray_tasks._probe_ray
ray_tasks._probe_ray = counted_probe


async def run_once() -> dict[str, Any]:
    graph, _, _ = scripted_graph([placed(crunch, "ray")], [PLAN], profile=PROFILES["instant"])
    run = await run_graph(graph, "go", context=Context(tool_timeout_s=60))
    tasks = [run.tasks[idx] for idx in (1, 2)]
    return {
        "status": [task["status"] for task in tasks],
        "errors": [task.get("error") for task in tasks],
        "attempts": attempts,
    }


async def main(live: str | None) -> None:
    runs = [await run_once(), await run_once()]
    if live:
        os.environ.update({"RAY_ADDRESS": live, "LLMCOMPILER_RAY_RETRY_S": "0"})
        runs.append(await run_once())
    placement.shutdown()
    print(json.dumps(runs))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
