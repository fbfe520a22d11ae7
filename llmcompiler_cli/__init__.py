"""The `llmcompiler` command: ask a question, watch the offline demo, run the benchmark.

An application of the engine (`agent`), which never imports it.
"""
