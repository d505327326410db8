"""The drawing canvas without its toolbar and without its 200 ms wait.

streamlit-drawable-canvas 0.13 floats a toolbar (undo, redo, reset, and a pencil that switches
to "edit/move") over the canvas's top-right corner: invisible until hovered, it swallows strokes
that start in the top ~28 px there, and on a phone it is never hovered at all.  The package has
no switch for it (only `disabled` hides it), and its styles live in a shadow root that the page's
CSS cannot reach.  So the component is registered once more under its own name, with its own
stylesheet plus one rule that hides the toolbar; the page keeps its one Clear button.

Its JavaScript also holds every send back for 200 ms after the last change (a debounce meant
for dragging shapes about), so each answer came 200 ms after the pen lifted.  A freehand stroke
changes the canvas once, at pen-up, so there is nothing to gather: the component serves a copy
of the installed bundle with that one constant set to 0.  The copy is made at start-up from the
pinned package itself (nothing of it is committed), written to the cache folder under the
bundle's SHA-256.  The patch must apply exactly once: tests/test_canvas_widget.py fails loudly
when the installed package's bundle changes; a server meeting such a bundle logs it and serves it
unpatched (the canvas works, 200 ms slower).

Importing this module imports streamlit_drawable_canvas, which needs a Streamlit script run.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import streamlit as st
import streamlit_drawable_canvas as package
from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager
from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest

MANIFEST, COMPONENT = "mlp-lab", "canvas"
NAME = f"{MANIFEST}.{COMPONENT}"
HIDE_TOOLBAR = ".dc-toolbar{display:none!important}"   # the script sets display inline; !important wins
# The bundle's debounce of every send (`sender.schedule`), and the same line without it.
DEBOUNCE = ("}, Bc = 200, Ar = (e) => {", "}, Bc = 0, Ar = (e) => {")


class BundleChanged(RuntimeError):
    """The installed package's bundle is not the one the patch was written for."""


def package_file(pattern: str) -> Path:
    [found] = (Path(package.__file__).parent / "frontend" / "build").glob(pattern)
    return found


def _stylesheet() -> str:
    return package_file("index-*.css").read_text() + "\n" + HIDE_TOOLBAR


def without_debounce(bundle: str) -> str:
    """The bundle's text with sends no longer held back; BundleChanged unless the line is there exactly once."""
    old, new = DEBOUNCE
    found = bundle.count(old)
    if found != 1:
        raise BundleChanged(
            f"streamlit-drawable-canvas {package.__version__}: its bundle has the debounce line {old!r} "
            f"{found} times, not once; lab/drawing/canvas_widget.py's patch was written for 0.13.0 (requirements.txt)")
    return bundle.replace(old, new)


def cache_root() -> Path:
    """Where the patched copies live: $XDG_CACHE_HOME/mlp-lab/canvas, else ~/.cache/mlp-lab/canvas."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlp-lab" / "canvas"


def served_text(source: str) -> str:
    """The bundle as served: without its debounce, or as it is (200 ms slower, logged) if the patch does not fit."""
    try:
        return without_debounce(source)
    except BundleChanged as e:
        logging.getLogger(__name__).warning("%s; the canvas keeps its 200 ms wait", e)
        return source


def write_patched(bundle: Path, root: Path) -> Path:
    """The folder holding `bundle` as served, named by the original's SHA-256; written unless already right."""
    source = bundle.read_bytes()
    patched = served_text(source.decode()).encode()
    name = hashlib.sha256(source).hexdigest()[:16]
    folder = root / name
    target = folder / f"index-{name}.js"   # a new bundle gets a new address, never a browser's cached old one
    if target.is_file() and target.read_bytes() == patched:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed, so another app process (a classroom) never serves half a file.
    with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as part:
        part.write(patched)
    os.replace(part.name, target)
    return folder


def _folder() -> Path:
    try:
        return write_patched(package_file("index-*.js"), cache_root())
    except OSError:   # no writable cache folder (a read-only home): a private folder of this process
        return write_patched(package_file("index-*.js"), Path(tempfile.mkdtemp(prefix="mlp-lab-canvas-")))


FOLDER = _folder()


def _serve_folder() -> None:
    """Declare FOLDER as the component's assets in this runtime (AppTest makes one per test)."""
    manager = get_bidi_component_manager()
    if manager.get_component_asset_root(NAME) is None:
        manager.register_from_manifest(
            ComponentManifest(name=MANIFEST, version=package.__version__,
                              components=[ComponentConfig(name=COMPONENT, asset_dir=FOLDER.name)]),
            FOLDER.parent)


_serve_folder()
# st_canvas looks `out` up when called: it mounts this component, same arguments and result.
package.out = st.components.v2.component(NAME, js="index-*.js", css=_stylesheet(),
                                         html='<div class="canvas-root"></div>', isolate_styles=True)


def st_canvas(**kwargs):
    """The package's st_canvas, same arguments and result, without the toolbar or the wait."""
    _serve_folder()
    return package.st_canvas(**kwargs)
