"""The LLMCompiler graph served by `langgraph dev` (`langgraph.json`: "llmcompiler").

Shipped tools: live `wikipedia_search` and the paper's LLM-backed `math`. Compiled without a
checkpointer: the server brings its own. Models come from the run's Context (Studio shows it).
"""

from __future__ import annotations

from agent import create_llm_compiler
from tools import DEFAULT_TOOLS_EXAMPLES, default_tools

graph = create_llm_compiler(default_tools(), examples=DEFAULT_TOOLS_EXAMPLES, name="llmcompiler")
