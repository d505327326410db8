"""The Draw page's canvas component (lab/drawing/canvas_widget.py): the pinned package's bundle, served
without its debounce.

If streamlit-drawable-canvas is upgraded and its bundle no longer has the debounce line exactly
once, these fail and say so: the patch must be rewritten for the new bundle, not silently dropped.
"""
from __future__ import annotations

import pytest

from support import canvas_from_mnist, draw, new_session, prediction


@pytest.fixture(scope="module")
def widget():
    """lab.drawing.canvas_widget, imported by a script run as the app imports it (it registers a component)."""
    new_session()
    from lab.drawing import canvas_widget
    return canvas_widget


def test_the_pinned_bundle_has_the_debounce_line_exactly_once_and_loses_it(widget):
    bundle = widget.package_file("index-*.js").read_text()
    old, new = widget.DEBOUNCE
    assert bundle.count(old) == 1, "streamlit-drawable-canvas's bundle changed: rewrite the patch"
    patched = widget.without_debounce(bundle)
    assert old not in patched and patched.count(new) == 1
    assert len(patched) == len(bundle) - len(old) + len(new)   # that line, nothing else


@pytest.mark.parametrize("times", [0, 2])
def test_a_bundle_without_the_line_once_is_refused_by_name(widget, times):
    old, _ = widget.DEBOUNCE
    bundle = widget.package_file("index-*.js").read_text().replace(old, old * times)
    with pytest.raises(widget.BundleChanged, match=f"{times} times"):
        widget.without_debounce(bundle)


def test_the_served_copy_is_the_patched_bundle_and_a_tampered_copy_is_rewritten(widget, tmp_path):
    bundle = widget.package_file("index-*.js")
    [served] = widget.FOLDER.glob("index-*.js")
    assert served.read_text() == widget.without_debounce(bundle.read_text())
    folder = widget.write_patched(bundle, tmp_path)
    [copy] = folder.glob("index-*.js")
    copy.write_text("alert('not the bundle')")
    assert widget.write_patched(bundle, tmp_path) == folder
    assert copy.read_text() == served.read_text()


def test_the_draw_page_mounts_the_served_copy_and_still_reads_the_drawing(widget):
    at = new_session()
    [canvas] = [el for el in at.get("bidi_component") if el.proto.id.endswith("-draw_canvas_0")]
    assert canvas.proto.component_name == widget.NAME
    assert canvas.proto.js_source_path in {path.name for path in widget.FOLDER.glob("index-*.js")}
    assert ".dc-toolbar{display:none!important}" in canvas.proto.css_content
    assert prediction(draw(at, canvas_from_mnist(0))) == "7"


def test_a_server_meeting_a_changed_bundle_serves_it_unpatched_and_says_so(widget, caplog):
    old, _ = widget.DEBOUNCE
    changed = widget.package_file("index-*.js").read_text().replace(old, "")
    with caplog.at_level("WARNING"):
        assert widget.served_text(changed) == changed
    assert "0 times" in caplog.text and "200 ms" in caplog.text
