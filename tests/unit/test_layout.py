"""The engine stands alone: `agent` imports none of the applications, the benchmark, the
scripted models or the shipped tools; the scripted models import none of the applications
(the benchmark's load test has them serve its own `respond` by dotted path); and no module of
the repository imports a test module or a served graph."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPLICATIONS = ("llmcompiler_cli", "llmcompiler_bench", "llmcompiler_scripted", "tools", "graphs")
SERVED_GRAPHS = ("graphs.llmcompiler", "graphs.react", "graphs.assistant")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth of its code (function-level imports too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(*folders: str) -> list[Path]:
    return [path for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))]


def test_engine_imports_no_application_tool_or_scripted_model() -> None:
    offending = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files("agent")
        for name in imported_modules(path)
        if name.split(".")[0] in APPLICATIONS
    }
    assert not offending


def test_scripted_models_import_no_application() -> None:
    offending = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files("llmcompiler_scripted")
        for name in imported_modules(path)
        if name.split(".")[0] in set(APPLICATIONS) - {"llmcompiler_scripted"}
    }
    assert not offending


def test_no_application_imports_a_served_graph() -> None:
    offending = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files(*APPLICATIONS, "agent")
        for name in imported_modules(path)
        if name in SERVED_GRAPHS
    }
    assert not offending


def test_no_test_module_imports_another() -> None:
    offending = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files("tests")
        for name in imported_modules(path)
        if name.startswith("tests.") and name.rpartition(".")[2].startswith("test_")
    }
    assert not offending


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from llmcompiler_cli.main import main\n")
    assert "llmcompiler_cli.main" in imported_modules(sample)


def test_no_file_points_outside_the_repository() -> None:
    tracked = []
    for folder, subfolders, files in os.walk(ROOT):
        # hidden folders are tools' (venvs, caches, the local model, the peers' venvs)
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and "egg-info" not in d]
        tracked += [
            Path(folder, name)
            for name in files
            if Path(name).suffix in {".py", ".md", ".toml", ".json", ".txt", ".cfg"}
        ]
    outside = ".." + "/shared"  # spelled apart so that this file does not match itself
    pointing = [str(p.relative_to(ROOT)) for p in tracked if outside in p.read_text("utf-8")]
    assert not pointing


PLACEMENT = "agent.placement"
PLACEMENT_BACKENDS = ("_threads", "_processes", "_ray_tasks")
"""One module per placement; the package's other modules are the pieces the backends share."""


def test_placement_backends_import_nothing_of_each_other() -> None:
    """Of the placement package, a backend imports only the shared modules, not another
    backend nor the package itself (which imports every backend); a shared module no backend."""
    folder = ROOT / "agent" / "placement"
    modules = {path.stem: path for path in folder.glob("*.py") if path.stem != "__init__"}
    assert set(PLACEMENT_BACKENDS) <= set(modules)
    shared = set(modules) - set(PLACEMENT_BACKENDS)
    offending = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules.values()
        for name in imported_modules(path)
        if (name == PLACEMENT or name.startswith(f"{PLACEMENT}."))
        and name.removeprefix(f"{PLACEMENT}.") not in shared
    }
    assert not offending


def test_the_engine_uses_no_relative_imports() -> None:
    """The checks above read absolute imports: a relative one would slip past them."""
    relative = {
        str(path.relative_to(ROOT))
        for path in python_files("agent")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level
    }
    assert not relative


PUBLIC_MODULES = {"agent", "agent.models", "agent.plan", "agent.placement"}
"""docs/protocol.md, "Python API": the package's exports and these modules; the rest is
private (`_` names)."""


def documented_exports() -> set[str]:
    """The names of docs/protocol.md's "Exported names" table (both columns of its row of
    exception kinds)."""
    text = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    table = text.split("Exported names", 1)[1].split("\n\n", 2)[1]
    names: set[str] = set()
    for row in table.splitlines()[2:]:
        first, second = row.split(" | ", 2)[:2]
        cells = first + (second if "kinds" in first else "")
        names |= set(re.findall(r"`(\w+)`", cells))
    return names


EXPORTED = documented_exports()


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_public_surface_is_exactly_the_exported_names_and_modules() -> None:
    import agent

    assert set(agent.__all__) == EXPORTED
    assert all(hasattr(agent, name) for name in EXPORTED)
    names = {module_name(path) for path in python_files("agent")}
    public = {name for name in names if not any(p.startswith("_") for p in name.split("."))}
    assert public == PUBLIC_MODULES


def engine_names(path: Path) -> set[str]:
    """What a file takes from the engine: modules (`agent.models`) and, for `from agent
    import X`, `agent.X`."""
    used = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            used |= {alias.name for alias in node.names if alias.name.split(".")[0] == "agent"}
        elif isinstance(node, ast.ImportFrom) and node.module == "agent":
            used |= {f"agent.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("agent."):
            used.add(node.module or "")
    return used


def test_the_cli_graphs_and_tools_use_only_the_public_surface() -> None:
    allowed = PUBLIC_MODULES | {f"agent.{name}" for name in EXPORTED}
    offending = {
        f"{path.relative_to(ROOT)} uses {name}"
        for path in python_files("llmcompiler_cli", "graphs", "tools")
        for name in engine_names(path)
        if name not in allowed
    }
    assert not offending
