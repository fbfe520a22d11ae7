"""Adapter: the original research code, SqueezeAILab/LLMCompiler (tested at commit a00c9d3),
imported unmodified from a checkout on the PYTHONPATH (the runner puts it there).

Built as its `run_llm_compiler.py` builds it in the paper's streaming mode (`--stream`, model
type `openai`): `LLMCompiler(tools=..., planner_llm=..., planner_example_prompt=...,
planner_stop=[END_OF_PLAN], planner_stream=True, agent_llm=..., joinner_prompt=...,
max_replans=..., benchmark=False)` with the workload's own prompts and `max_replans` from its
`configs/<workload>/configs.py` (`prompts["gpt"]`), then `agent.arun(question)`. Its models are
`langchain.chat_models.ChatOpenAI`, as its `src/utils/model_utils.get_model` builds them (the
planner streaming, the joiner not), pointed at the scripted server by `openai_api_base`.
Logging is off, as its script leaves it without `--logging`.

Tools are its own `src.agents.tools.Tool` over an async function: its scheduler awaits
`tool.func(*args)` with the plan's positional arguments, mapped here to the tool schema's
order. Each description is written in the form of its configs' (`search(query: str) -> str:`
then ` - description`), and `stringify_rule` shows the first argument, as its configs' do.
"""

# mypy: ignore-errors
from __future__ import annotations

import asyncio

from peer_protocol import main

_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


def _type(schema):
    if "anyOf" in schema:  # `X | None`: the parameter's optionality is written apart
        return " | ".join(_type(s) for s in schema["anyOf"] if s.get("type") != "null")
    if schema.get("type") == "array":
        return f"list[{_type(schema.get('items') or {})}]"
    return _TYPES.get(schema.get("type"), "Any")


def describe(spec):
    """`name(arg: type, opt: Optional[type]) -> str:` and the description, its configs' form."""
    parameters = spec["parameters"]
    required = set(parameters.get("required", ()))
    args = [
        f"{name}: {_type(schema) if name in required else f'Optional[{_type(schema)}]'}"
        for name, schema in parameters.get("properties", {}).items()
    ]
    return f"{spec['name']}({', '.join(args)}) -> str:\n - {spec['description']}\n"


def prepare(job, calls):
    from langchain.chat_models import ChatOpenAI
    from src.agents.tools import Tool
    from src.llm_compiler.constants import END_OF_PLAN
    from src.llm_compiler.llm_compiler import LLMCompiler
    from src.utils.logger_utils import enable_logging

    configs = __import__(f"configs.{job['workload']}.configs", fromlist=["CONFIGS"]).CONFIGS
    enable_logging(False)

    def make(spec):
        names = list(spec["parameters"].get("properties", {}))

        async def run(*args):
            return await calls.acall(spec["name"], dict(zip(names, args, strict=False)))

        return Tool(
            name=spec["name"],
            func=run,
            description=describe(spec),
            stringify_rule=lambda args: f"{spec['name']}({args[0]})",
        )

    def model(stream):
        return ChatOpenAI(
            model_name=configs["default_model"],
            openai_api_key="scripted",
            openai_api_base=job["base_url"],
            streaming=stream,
            temperature=0,
            max_retries=0,
        )

    prompts = configs["prompts"]["gpt"]
    agent = LLMCompiler(
        tools=[make(spec) for spec in job["tools"]],
        planner_llm=model(True),
        planner_example_prompt=prompts["planner_prompt"],
        planner_example_prompt_replan=prompts.get("planner_prompt_replan"),
        planner_stop=[END_OF_PLAN],
        planner_stream=True,
        agent_llm=model(False),
        joinner_prompt=prompts["output_prompt"],
        joinner_prompt_final=prompts.get("output_prompt_final"),
        max_replans=configs["max_replans"],
        benchmark=False,
    )
    return lambda: asyncio.run(agent.arun(job["question"]))


if __name__ == "__main__":
    main(prepare)
