"""The import rules the code's layout promises, read from the source with ast (nothing is imported).

- mlp/ is the engine: NumPy and the standard library only, so it reads and runs without the app.
- Figures, pictures, the model store, MNIST, runs and checkpoints never import Streamlit, directly or through
  another lab module: tests and benchmarks reach them without a script run context, and a background thread
  that touches them cannot call st.*.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STREAMLIT_FREE = ("figures", "boundary_figures", "images", "model_cache", "models", "mnist", "runner",
                  "checkpoints", "user_weights", "loss_history", "budget", "evaluate", "backprop", "draw")


def imported_modules(path: Path, module_level_only: bool = False) -> set[str]:
    """Names of what `path` imports; relative imports come back as '.name'."""
    names = set()
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in (tree.body if module_level_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
            if node.module == "lab" or (node.module is None and path.parent.name == "lab"):
                names.update(f"lab.{alias.name}" for alias in node.names)  # `from lab import x`, `from . import x`
    return names


def lab_imports(module: str) -> set[str]:
    """lab modules that lab/<module>.py imports (absolute or relative)."""
    found = set()
    for name in imported_modules(ROOT / "lab" / f"{module}.py"):
        if name.startswith("lab."):
            found.add(name.split(".")[1])
        elif name.startswith(".") and name.strip("."):
            found.add(name.strip(".").split(".")[0])
    return {m for m in found if (ROOT / "lab" / f"{m}.py").exists()}


@pytest.mark.parametrize("path", sorted((ROOT / "mlp").glob("*.py")), ids=lambda p: p.name)
def test_the_engine_imports_only_numpy_and_the_standard_library(path):
    def foreign(names):
        return {name for name in names if not name.startswith(".") and name != "__future__"
                and name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] != "numpy"}

    assert not foreign(imported_modules(path, module_level_only=True)), f"mlp/{path.name}"
    # The one exception: the command lines (`python -m mlp.train`, `python -m mlp.fetch`) draw their progress
    # bar with tqdm, imported inside the function that runs the command, so importing mlp never needs it.
    assert foreign(imported_modules(path)) <= {"tqdm"}, f"mlp/{path.name}"


@pytest.mark.parametrize("module", STREAMLIT_FREE)
def test_figures_store_and_runs_never_reach_streamlit(module):
    seen, todo, chain = set(), [module], {module: module}
    while todo:
        current = todo.pop()
        seen.add(current)
        streamlit = {n for n in imported_modules(ROOT / "lab" / f"{current}.py") if n.split(".")[0] == "streamlit"}
        assert not streamlit, f"lab/{module}.py reaches Streamlit through {chain[current]}"
        for nxt in lab_imports(current) - seen:
            chain[nxt] = f"{chain[current]} → {nxt}"
            todo.append(nxt)


def test_the_rules_can_fail(tmp_path):
    """The reader sees every form of import the rules depend on."""
    source = tmp_path / "sample.py"
    source.write_text("import streamlit as st\nfrom lab import images\nfrom .state import Key\n"
                      "def f():\n    import scipy.ndimage\n")
    assert imported_modules(source) == {"streamlit", "lab", "lab.plots.images", ".state", "scipy.ndimage"}
    assert imported_modules(source, module_level_only=True) == {"streamlit", "lab", "lab.plots.images", ".state"}
