"""The scripted server in a child process: it serves a `respond` function named by dotted path,
with keyword arguments given as Python literals (the load benchmark's models), and the
command refuses a path or arguments it cannot use before serving anything."""

from __future__ import annotations

import httpx
import pytest

from llmcompiler_scripted.child import served_in_child
from llmcompiler_scripted.server import main


def _reply(base_url: str, content: str) -> str:
    body = {"model": "m", "messages": [{"role": "user", "content": content}]}
    answer = httpx.post(f"{base_url}/chat/completions", json=body, timeout=30).json()
    return str(answer["choices"][0]["message"]["content"])


def test_a_child_serves_a_function_by_dotted_path_with_literal_int_keyed_kwargs() -> None:
    crossed = {1_000_001: 1_000_002}
    with served_in_child("llmcompiler_bench.load.respond", kwargs={"crossed": crossed}) as url:
        assert _reply(url, "Problem: 1000001 times 7") == "Expression: 1000002 * 7"
        assert _reply(url, "Problem: 1000003 plus 8") == "Expression: 1000003 + 8"


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--respond", "no_such_module.respond"], "No module named 'no_such_module'"),
        (["--respond", "llmcompiler_bench.load.no_such_function"], "no_such_function"),
        (["--respond", "x.f", "--respond-kwargs", "{1: 2}"], "not a dict of keyword arguments"),
        (["--respond", "x.f", "--respond-kwargs", "crossed=1"], "not a Python literal"),
        (["--script", "replies.json", "--respond-kwargs", "{'a': 1}"], "goes with --respond"),
    ],
)
def test_the_server_command_refuses_what_it_cannot_serve(
    argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert reason in capsys.readouterr().err
