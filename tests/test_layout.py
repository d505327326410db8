"""The import rules the code's layout promises, read from the source with ast (nothing is imported).

- mlp/ is the engine: NumPy and the standard library only, so it reads and runs without the app.
- lab/ is grouped in folders (each `__init__.py` says what lives there and what it may import):
  lab.plots and lab.store are the bottom (plots imports no other lab folder, store only plots) and never
  import Streamlit, directly or through another lab module: tests, benchmarks and background threads reach
  them without a script run context, and a thread that touches them cannot call st.*. The same holds for
  the runs, checkpoints, drawings, evaluations and figures named in STREAMLIT_FREE.
- Features (FEATURES) do not import each other, and lab.session imports no feature. Where today's code
  still does, the exception is listed by module (CROSS_FEATURE, SESSION_TO_FEATURE) and the test asserts
  the list is exact: a new crossing fails, and so does a listed one that is gone (remove it from the list).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "lab"
FEATURES = ("drawing", "training", "boundaries", "my_digits", "insight")
SHARED = ("store", "plots", "session", "frame")
BOTTOM = {"plots": set(), "store": {"plots"}}    # folder -> the other lab folders it may import
STREAMLIT_FREE = ("training/runner", "training/checkpoints", "training/loss_history", "insight/evaluate",
                  "insight/backprop", "drawing/draw", "boundaries/figures", "my_digits/digit_set")
# Today's exceptions, (importer, imported); issue 18 item 3 (each feature's accessors and defaults beside it) ends them.
CROSS_FEATURE = {
    ("insight/hidden_map", "drawing/draw"),      # the map's star: the drawing's Answer
    ("my_digits/view", "drawing/draw"),          # "Is it right?" takes the Draw page's Answer
    # The per-browser store (runs, My digits sets, own models: issue 17) grew inside training/checkpoints;
    # it belongs below the features, beside session/browser, once a set's file format leaves my_digits.
    ("training/checkpoints", "my_digits/digit_set"),  # a browser's kept My digits set, in its .npz format
    ("my_digits/view", "training/checkpoints"),       # what this browser keeps, and Forget
}
SESSION_TO_FEATURE = {
    ("session/browser", "training/checkpoints"),  # the browser token names a checkpoint
    ("session/browser", "my_digits/digit_set"),   # keep_my_digits: the set a browser keeps (issue 17)
}


def imported_modules(path: Path, package: tuple[str, ...] | None = None, module_level_only: bool = False) -> set[str]:
    """Absolute names of what `path` imports; `from a import b` gives a and a.b, relative ones resolved."""
    if package is None:
        package = path.parent.relative_to(ROOT).parts
    names = set()
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in (tree.body if module_level_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def lab_module(name: str) -> str | None:
    """'lab.store.mnist' (or an attribute of it) -> 'store/mnist' when that file exists."""
    parts = name.split(".")
    while parts[:1] == ["lab"] and len(parts) > 1:
        if ROOT.joinpath(*parts).with_suffix(".py").exists():
            return "/".join(parts[1:])
        parts = parts[:-1]
    return None


def modules() -> list[str]:
    return sorted(str(p.relative_to(LAB).with_suffix("")) for p in LAB.rglob("*.py") if p.name != "__init__.py")


def lab_graph() -> dict[str, set[str]]:
    """Every lab module -> the lab modules it imports (anywhere in it, not only at the top)."""
    return {m: {d for d in map(lab_module, imported_modules(LAB / f"{m}.py")) if d and d != m} for m in modules()}


def folder(module: str) -> str:
    return module.split("/")[0] if "/" in module else ""


def crossings(graph: dict[str, set[str]], importers: tuple[str, ...]) -> set[tuple[str, str]]:
    """Edges from a module in `importers` to a module of a feature folder other than its own."""
    return {(a, b) for a, deps in graph.items() for b in deps
            if folder(a) in importers and folder(b) in FEATURES and folder(b) != folder(a)}


def streamlit_route(module: str, graph: dict[str, set[str]], imports) -> str | None:
    """How `module` reaches Streamlit through lab modules ('a → b'), or None."""
    seen, todo, chain = set(), [module], {module: module}
    while todo:
        current = todo.pop()
        seen.add(current)
        if any(n.split(".")[0] == "streamlit" for n in imports(current)):
            return chain[current]
        for nxt in graph.get(current, set()) - seen:
            chain[nxt] = f"{chain[current]} → {nxt}"
            todo.append(nxt)
    return None


def source_imports(module: str) -> set[str]:
    return imported_modules(LAB / f"{module}.py")


@pytest.mark.parametrize("path", sorted((ROOT / "mlp").glob("*.py")), ids=lambda p: p.name)
def test_the_engine_imports_only_numpy_and_the_standard_library(path):
    def foreign(names):
        return {name for name in names if name.split(".")[0] not in sys.stdlib_module_names
                and name.split(".")[0] not in ("numpy", "mlp", "__future__")}

    assert not foreign(imported_modules(path, module_level_only=True)), f"mlp/{path.name}"
    # The one exception: the command lines (`python -m mlp.train`, `python -m mlp.fetch`) draw their progress
    # bar with tqdm, imported inside the function that runs the command, so importing mlp never needs it.
    assert {name.split(".")[0] for name in foreign(imported_modules(path))} <= {"tqdm"}, f"mlp/{path.name}"


def test_every_lab_module_lives_in_a_folder_that_says_what_it_may_import():
    assert [m for m in modules() if not folder(m)] == [], "a module left flat in lab/: give it a folder"
    folders = {p.name for p in LAB.iterdir() if (p / "__init__.py").exists()}
    assert folders == set(FEATURES) | set(SHARED)
    for name in folders:
        doc = ast.get_docstring(ast.parse((LAB / name / "__init__.py").read_text()))
        assert doc and "May import" in doc, f"lab/{name}/__init__.py"


@pytest.mark.parametrize("module", [m for m in modules() if folder(m) in BOTTOM] + list(STREAMLIT_FREE))
def test_plots_store_runs_and_figures_never_reach_streamlit(module):
    assert (LAB / f"{module}.py").exists()
    route = streamlit_route(module, lab_graph(), source_imports)
    assert route is None, f"lab/{module}.py reaches Streamlit through {route}"


@pytest.mark.parametrize("name", sorted(BOTTOM))
def test_plots_and_store_import_no_feature_session_or_frame(name):
    graph = lab_graph()
    reached = {folder(d) for m, deps in graph.items() if folder(m) == name for d in deps} - {name}
    assert reached <= BOTTOM[name], f"lab/{name} imports {sorted(reached - BOTTOM[name])}"


def test_features_do_not_import_each_other():
    assert crossings(lab_graph(), FEATURES) == CROSS_FEATURE


def test_the_session_imports_no_feature():
    assert crossings(lab_graph(), ("session",)) == SESSION_TO_FEATURE


def test_the_rules_can_fail(tmp_path):
    """The reader sees every form of import the rules depend on, and each rule flags a breach."""
    source = tmp_path / "sample.py"
    source.write_text("import streamlit as st\nfrom lab import images\nfrom .figures import X\n"
                      "from ..store import mnist\ndef f():\n    import scipy.ndimage\n")
    assert imported_modules(source, ("lab", "plots")) == {
        "streamlit", "lab", "lab.images", "lab.plots.figures", "lab.plots.figures.X", "lab.store", "lab.store.mnist",
        "scipy.ndimage"}
    assert "scipy.ndimage" not in imported_modules(source, ("lab", "plots"), module_level_only=True)
    assert lab_module("lab.store.mnist.load") == "store/mnist" and lab_module("lab.store") is None

    graph = {"drawing/why": {"plots/figures", "training/runner"}, "session/state": {"insight/evaluate"},
             "training/runner": {"training/budget", "store/mnist"}, "store/mnist": {"plots/words"}}
    assert crossings(graph, FEATURES) == {("drawing/why", "training/runner")}
    assert crossings(graph, ("session",)) == {("session/state", "insight/evaluate")}
    imports = {"plots/words": {"streamlit"}}
    assert streamlit_route("training/runner", graph, lambda m: imports.get(m, set())) \
        == "training/runner → store/mnist → plots/words"
