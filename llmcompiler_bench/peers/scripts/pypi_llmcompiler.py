"""Adapter: PyPI `llmcompiler` 2.0.1 (github.com/crazyyanchao/llmcompiler), run in its venv.

Built as its README shows: `RunLLMCompiler(ChatRequest(message=question), tools, llm)` called
once, with `langchain_openai.ChatOpenAI` pointed at the scripted server; its own prompts, plan
parser, scheduler (a thread pool; tasks whose dependencies are pending poll every 0.1 s) and
joiner. `print_graph` / `print_dag` are off (its constructor options; they only print Mermaid).

Tools are written in its own tool idiom: a `CompilerBaseTool` whose `_run` returns an
`ActionOutput` carrying the result in `dag_kwargs` (its README: "Parameter dependencies are
required, you can inherit `CompilerBaseTool`"); its scheduler substitutes `$N` only from an
`ActionOutput`'s `dag_kwargs` (`${N}.field` reads that field, a bare `$N` its only one), so a
plain tool's result could never feed a later call. A non-dict result is `{"result": value}`.
The tools declare no output fields (`dag_flow_paras` is empty), so the planner's prompt lists
them as it lists any LangChain tool.
"""

# mypy: ignore-errors
from __future__ import annotations

from peer_protocol import main, schema_model


def prepare(job, calls):
    from langchain_openai import ChatOpenAI
    from llmcompiler.chat.run import RunLLMCompiler
    from llmcompiler.result.chat import ChatRequest
    from llmcompiler.tools.basic import CompilerBaseTool
    from llmcompiler.tools.generic.action_output import ActionOutput, DAGFlow

    def make(spec):
        class SimulatedTool(CompilerBaseTool):
            name: str = spec["name"]
            description: str = spec["description"]
            args_schema: type = schema_model(spec)

            def _run(self, **kwargs):
                result = calls.call(self.name, kwargs)
                fields = result if isinstance(result, dict) else {"result": result}
                return ActionOutput(
                    any=result, dag_kwargs=DAGFlow(tool_name=self.name, kwargs=fields)
                )

            def dag_flow_paras(self, **kwargs):
                return []

        return SimulatedTool()

    tools = [make(spec) for spec in job["tools"]]
    llm = ChatOpenAI(
        model="gpt-4o-mini",
        base_url=job["base_url"],
        api_key="scripted",
        temperature=0,
        max_retries=0,
    )
    compiler = RunLLMCompiler(
        ChatRequest(message=job["question"]), tools, llm, print_graph=False, print_dag=False
    )
    return lambda: compiler().response


if __name__ == "__main__":
    main(prepare)
