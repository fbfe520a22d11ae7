"""The LLMCompiler graph served by `langgraph dev` (`langgraph.json`: "llmcompiler").

Shipped tools: live `wikipedia_search` and the paper's LLM-backed `math`. Compiled without a
checkpointer: the server brings its own. Models come from the run's Context (Studio shows it).
"""

from __future__ import annotations

from agent import create_llm_compiler
from tools import default_tools

EXAMPLES = """\
Question: Which is taller, Mount Everest or K2, and by how many meters?
1. wikipedia_search("Mount Everest")
2. wikipedia_search("K2")
Thought: the difference needs both heights
3. math("How many meters taller is the taller mountain?", context=["$1", "$2"])
4. join()

Question: Were Christopher Nolan and Denis Villeneuve born in the same decade?
1. wikipedia_search("Christopher Nolan")
2. wikipedia_search("Denis Villeneuve")
3. join()"""

graph = create_llm_compiler(default_tools(), examples=EXAMPLES, name="llmcompiler")
