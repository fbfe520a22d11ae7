"""`llmcompiler bench`: LLMCompiler against ReAct baselines and the critical-path bound T*.

Scripted models with realistic timing replay gold plans through the real graphs (see
`docs/benchmark.md`); with `--model` the same runner measures a live model instead.
"""
