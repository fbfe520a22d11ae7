"""Data files bundled with the tools (a package so `importlib.resources` finds them)."""
