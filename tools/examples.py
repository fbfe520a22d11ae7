"""Worked examples of the plan language for the shipped tools (`default_tools()`).

The planner copies their shape, so they name only tools that exist in the tool set: give your
own examples (`create_llm_compiler(..., examples=...)`) when you change the tools.
"""

DEFAULT_TOOLS_EXAMPLES = """\
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
