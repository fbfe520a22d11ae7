"""Graphs that `langgraph.json` points at."""
