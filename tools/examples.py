"""Worked examples of the plan language for the shipped tool sets.

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

# For the offline tools: the bundled-corpus `search`, the LLM-backed `math` and `calculate`.
OFFLINE_TOOLS_EXAMPLES = """\
Question: Which is taller, Denali or Aconcagua, and by how much?
1. search("Denali height")
2. search("Aconcagua height")
3. math("How many meters taller is the taller mountain?", context=["$1", "$2"])
4. join()

Question: What is 15% of the population of Canada?
1. search("Canada population")
2. math("15% of the population", context=["$1"])
3. join()"""
