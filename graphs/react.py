"""The ReAct baseline served by `langgraph dev` (`langgraph.json`: "react").

Same tools and Context (models, base URL) as the "llmcompiler" graph, for side-by-side runs.
"""

from __future__ import annotations

from graphs.react_agent import create_react_agent
from tools import default_tools

graph = create_react_agent(default_tools(), name="react")
