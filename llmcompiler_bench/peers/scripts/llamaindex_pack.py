"""Adapter: llama-index `LLMCompilerAgentPack` 0.3.1 (llama-index-packs-agents-llm-compiler).

Built as its README shows: `LLMCompilerAgentPack(tools, llm=llm)` and `pack.run(question)`,
with `llama_index.llms.openai.OpenAI` pointed at the scripted server; its own prompts, plan
parser, `TaskFetchingUnit.schedule` (the whole plan first, then tasks in waves) and joiner.

Tools are `FunctionTool`s over an async function; the pack calls them with positional
arguments (its planner prompt forbids keyword arguments), in the order of the tool's schema.
"""

# mypy: ignore-errors
from __future__ import annotations

from peer_protocol import main, schema_model


def prepare(job, calls):
    from llama_index.core.tools import FunctionTool
    from llama_index.llms.openai import OpenAI
    from llama_index.packs.agents_llm_compiler import LLMCompilerAgentPack

    def make(spec):
        names = list(spec["parameters"].get("properties", {}))

        async def run(*args, **kwargs):
            return await calls.acall(
                spec["name"], {**dict(zip(names, args, strict=False)), **kwargs}
            )

        return FunctionTool.from_defaults(
            async_fn=run,
            name=spec["name"],
            description=spec["description"],
            fn_schema=schema_model(spec),
        )

    llm = OpenAI(
        model="gpt-4o-mini",
        api_base=job["base_url"],
        api_key="scripted",
        temperature=0,
        max_retries=0,
    )
    pack = LLMCompilerAgentPack([make(spec) for spec in job["tools"]], llm=llm)
    return lambda: pack.run(job["question"]).response


if __name__ == "__main__":
    main(prepare)
