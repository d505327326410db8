"""The hidden space seen from above: PCA of the activations h of test digits, coloured by label.

The 128 hidden activations are where the network has rearranged the pixels so that one linear
layer (W2) can tell the digits apart.  Projected on their two main directions (principal components
of the centred activations), digits of one kind gather in clusters, and a drawing lands among them.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ..drawing import draw
from ..frame import page
from ..plots.figures import _figure
from ..session import state
from ..store import mnist, models

SAMPLE = 2000            # test digits on the map: enough to see clusters, cheap to redraw
LIVE_EVERY = 2.0         # seconds between redraws while the model in use is being trained
# Tableau 10: ten colours told apart easily, used for digit d everywhere on the map.
DIGIT_COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")


class HiddenMap(NamedTuple):
    mean: np.ndarray         # (h,) mean activation, subtracted before projecting
    axes: np.ndarray         # (h,2) the two principal directions
    points: np.ndarray       # (n,2) the sample's coordinates
    labels: np.ndarray       # (n,) their digits
    explained: np.ndarray    # (2,) share of the variance along each axis


def pca(H: np.ndarray, labels: np.ndarray) -> HiddenMap:
    """Two-axis PCA of activations H (n,h): the top eigenvectors of the centred matrix C's smaller
    Gram matrix, Cᵀ C (h,h) or C Cᵀ (n,n), which share their nonzero eigenvalues (the squared
    singular values of C).  C is only ever made a slice at a time, in float64: for a 4096-unit
    model an SVD of C took several times C's 65 MB, this takes H, one 32 MB matrix and its eigh.

    An axis has no preferred sign, so a model that changes a little could flip the map; each
    axis is turned so that the first label's centroid lies on its positive side.
    """
    H = np.asarray(H)
    n, h = H.shape
    mean = H.mean(axis=0, dtype=np.float64)
    by_unit = h <= n                                     # which Gram matrix is the smaller
    gram = np.zeros((h, h) if by_unit else (n, n))
    for part in _slices(n if by_unit else h, h if by_unit else n):
        if by_unit:
            centred = H[part] - mean                     # rows of C
            gram += centred.T @ centred
        else:
            centred = H[:, part] - mean[part]            # columns of C
            gram += centred @ centred.T
    variance, vectors = _top_eigenpairs(gram, 2)
    if by_unit:
        axes = vectors                                   # (h,2): V
    else:                                                # V = Cᵀ U / s; a direction with no variance stays 0
        strength = np.sqrt(variance)
        axes = np.empty((h, len(variance)))
        for part in _slices(h, n):
            axes[part] = (H[:, part] - mean[part]).T @ vectors / np.where(strength > 0, strength, 1)
    if axes.shape[1] < 2:                                # one hidden unit: a flat second axis
        axes = np.pad(axes, ((0, 0), (0, 2 - axes.shape[1])))
    points = np.empty((n, 2))
    for part in _slices(n, h):
        points[part] = (H[part] - mean) @ axes           # (n,2)
    anchor = points[labels == labels[0]].mean(axis=0)
    flip = np.where(anchor < 0, -1.0, 1.0)
    explained = np.zeros(2)
    explained[:len(variance)] = variance / max(float(np.trace(gram)), 1e-300)   # the trace: all the variance
    return HiddenMap(mean, axes * flip, points * flip, np.asarray(labels), explained)


EXACT_UP_TO = 512   # a Gram matrix this size or smaller is diagonalised whole; a larger one by subspace iteration
ITERATIONS = 60     # of subspace iteration: (λ₉/λ₂)⁶⁰ is below 1e-8 unless the spectrum is nearly flat


def _top_eigenpairs(gram: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenvalues (≥ 0) of a symmetric positive semi-definite matrix and their eigenvectors.

    np.linalg.eigh finds all n of them and needed ~6 n² numbers of memory (190 MB at n = 2000);
    subspace iteration on k + 6 vectors needs a few n × 8 blocks, and the map needs only two.
    """
    m = len(gram)
    if m <= EXACT_UP_TO:
        values, vectors = np.linalg.eigh(gram)
        top = np.argsort(values)[::-1][:k]
        return np.maximum(values[top], 0), vectors[:, top].copy()
    basis = np.linalg.qr(np.random.default_rng(0).standard_normal((m, k + 6)))[0]
    for _ in range(ITERATIONS):
        basis = np.linalg.qr(gram @ basis)[0]
    values, small = np.linalg.eigh(basis.T @ gram @ basis)   # Rayleigh-Ritz in the converged subspace
    top = np.argsort(values)[::-1][:k]
    return np.maximum(values[top], 0), basis @ small[:, top]


def _slices(length: int, width: int, numbers: int = 2**20):
    """Slices of range(length) whose rows of `width` numbers make about `numbers` in all (8 MB in float64)."""
    step = max(1, numbers // max(width, 1))
    return [slice(i, i + step) for i in range(0, length, step)]


def project(m: HiddenMap, h: np.ndarray) -> np.ndarray:
    """Activations h (h,) or (n,h) → map coordinates (2,) or (n,2)."""
    return (np.asarray(h, np.float64) - m.mean) @ m.axes


@mnist.cached_on_mnist(maxsize=8, max_bytes=4 * 2**20)   # a 4096-unit model's map is ~130 KB
def hidden_map(ref: models.ModelRef) -> HiddenMap | None:
    """The map for this model version (cached), or None without MNIST."""
    test = mnist.test_set()
    if test is None:
        return None
    X, y = test[0][:SAMPLE], test[1][:SAMPLE]
    H = np.empty((len(y), ref.model.hidden), np.float32)   # a picture's precision; half a float64 model's bytes

    def keep(rows: slice, cache) -> None:
        H[rows] = cache.h
    models.in_slices(ref.model, X, keep)
    return pca(H, y)


def figure(m: HiddenMap, drawn: np.ndarray | None = None, drawn_digit: int | None = None) -> go.Figure:
    """One trace per digit (legend toggles them), the drawing as a large star."""
    traces = [dict(type="scatter", x=m.points[m.labels == d, 0], y=m.points[m.labels == d, 1], mode="markers",
                   name=str(d), marker=dict(color=DIGIT_COLORS[d], size=5, opacity=0.7),
                   hovertemplate=f"a test {d}<extra></extra>") for d in range(10)]
    if drawn is not None:
        color = DIGIT_COLORS[drawn_digit] if drawn_digit is not None else "black"
        traces.append(dict(type="scatter", x=[float(drawn[0])], y=[float(drawn[1])], mode="markers+text",
                           name="your drawing", text=["your drawing"], textposition="top center",
                           marker=dict(symbol="star", size=22, color=color, line=dict(color="black", width=2)),
                           hovertemplate="your drawing" + (f", read as {drawn_digit}" if drawn_digit is not None
                                                           else "") + "<extra></extra>"))
    first, second = m.explained
    return _figure(traces, 480, show_legend=True, legend=dict(title=dict(text="digit"), itemsizing="constant"),
                   xaxis=dict(title=dict(text=f"principal direction 1 ({first:.0%} of the variance)"),
                              zeroline=False),
                   yaxis=dict(title=dict(text=f"principal direction 2 ({second:.0%} of the variance)"),
                              zeroline=False))


def render() -> None:
    """The Hidden units page's map; redraws itself every LIVE_EVERY seconds while the model trains."""
    run = state.runner()
    training = state.model_source() == state.TRAINED and run is not None and run.status().active
    st.fragment(_map, run_every=LIVE_EVERY if training else None)()


def _map() -> None:
    ref = state.model_in_use()
    m = hidden_map(ref)
    st.subheader("The hidden space, seen from above")
    if m is None:
        st.info("The map needs the MNIST test set (fetched when you start training).", icon=":material/download:")
        return
    drawing = state.drawing()
    drawn = digit = None
    if drawing is not None:
        answer = draw.answer(ref.model, drawing.x)
        drawn, digit = project(m, answer.h), answer.digit
    st.plotly_chart(figure(m, drawn, digit), config=page.PLOT, key="hidden_map")
    st.caption(f"Each dot is one of {len(m.labels):,} MNIST test digits, placed by its {len(m.mean)} hidden "
               "activations h projected on their two main directions (PCA). Digits the network finds alike "
               "land close together: separate clusters mean the hidden layer has already pulled the classes apart "
               "for W2, overlapping ones are the digits it confuses. "
               + ("The star is your drawing from the Draw page." if drawn is not None
                  else "Draw on the Draw page to see where your digit lands.")
               + (" The map is redrawn as the model trains." if state.model_source() == state.TRAINED else ""))
