"""Plotly figures for every page: pure functions of arrays (no Streamlit here)."""
from __future__ import annotations

import contextlib
import math

import numpy as np
import plotly.graph_objects as go

# Plotly's validators use pandas if it is in sys.modules, and Streamlit imports pandas lazily.
# While one session's thread is importing it, another session's thread building a figure finds
# it half-initialised and fails ("partially initialized module 'pandas' has no attribute
# 'Series'"; seen in the load test).  Importing it whole, before any figure can be built, closes that.
with contextlib.suppress(ImportError):
    import pandas  # noqa: F401

from . import images, picking

DIGITS = [str(d) for d in range(10)]
ACCENT = "#e4572e"      # the class or unit the figure is about
MUTED = "#8da0cb"
LOSS_POINTS = 1500      # raw loss points drawn at most; more only slows the browser
WEIGHTS = "RdBu_r"      # blue negative, white zero, red positive (as in lab.plots.images)


def _figure(data: list[dict], height: int, title: str | None = None, show_legend: bool = False,
            **layout) -> go.Figure:
    """One Figure built in a single call: plotly validates per call, and update_* calls cost ~2 ms each.

    Tick labels of small numbers read 5×10⁻⁵, not plotly's default SI "50µ"; titles are set small
    enough to fit a third of a 1280 px page.
    """
    for axis in ("xaxis", "yaxis"):
        layout[axis] = {"exponentformat": "power", **layout.get(axis, {})}
    return go.Figure(data=data, layout=dict(
        height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), showlegend=show_legend,
        title=dict(text=title, font=dict(size=14)) if title else None, **layout))


def colorbar(title: str | None = None, **settings) -> dict:
    """A slim colour bar saying what the colour means, numbers written like the axes' (no SI prefixes)."""
    return dict(thickness=10, exponentformat="power", title=dict(text=title, side="right") if title else None,
                **settings)


def _unit_axes(hidden: int, columns: int, pitch: float = 1.0, offset: float = 0.0) -> tuple[dict, dict]:
    """(x, y) axes for units laid out row by row: each row labelled by its unit range, columns by offset."""
    rows = -(-hidden // columns)
    y = dict(tickmode="array", tickvals=[offset + r * pitch for r in range(rows)],
             ticktext=[f"{r * columns}–{min(hidden, (r + 1) * columns) - 1}" for r in range(rows)],
             title=dict(text="units"), showgrid=False, zeroline=False, ticks="")
    x = dict(tickmode="array", tickvals=[offset + c * pitch for c in range(0, columns, 4)],
             ticktext=[f"+{c}" for c in range(0, columns, 4)], showgrid=False, zeroline=False, ticks="",
             title=dict(text="+ column"))
    return x, y


# Axes of counts (steps, images, a loss): plotly's "power" format writes all of an axis's ticks over the
# exponent of its largest (5000 as "0.5×10⁴" beside 10⁴); these are written in full, 5,000.
COUNTS = dict(exponentformat="none", separatethousands=True)
LABEL_SIZE = 13          # px: numbers written on a chart, as readable as the page's small text
PERCENT_TICKS = 5        # about this many labelled ticks on a percentage axis


def percent_axis(low: float, high: float, **axis) -> dict:
    """An axis of fractions shown as percentages over [low, high], whose tick labels never repeat.

    The one rule for every percentage axis: ticks every 1, 2 or 5 × 10ᵏ points, about PERCENT_TICKS of
    them, each written with just the decimals its step needs (11.92%, 11.94%…; 20%, 40%…).  Plotly's own
    ticks with a fixed ".1%" wrote 12.0%, 12.0%, 12.0%, 11.9% over a 0.1-point span.
    """
    span = max(high - low, 1e-6)
    raw = span * 100 / PERCENT_TICKS                             # points between ticks, before rounding
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10)), key=lambda step: abs(math.log(step / raw)))
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    first = math.ceil(low * 100 / step - 1e-9)
    last = math.floor(min(high, 1.0) * 100 / step + 1e-9)       # no tick past 100%: a share goes no higher
    points = [round(k * step, decimals + 2) for k in range(first, last + 1)]
    return dict(range=[low, high], tickmode="array", tickvals=[p / 100 for p in points],
                ticktext=[f"{p:.{decimals}f}%" for p in points], **axis)


def around(values, least: float = 0.004, margin: float = 0.15, top: float = 1.0) -> tuple[float, float]:
    """A range [low, high] zoomed on `values` (fractions): `margin` of their spread either side, at least
    `least` wide, within [0, top + margin·spread] so a value of 100% is not drawn on the edge."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return 0.0, top
    low, high = float(values.min()), float(values.max())
    if high - low < least:
        middle = (low + high) / 2
        low, high = middle - least / 2, middle + least / 2
    pad = margin * (high - low)
    return max(0.0, low - pad), min(top + pad, high + pad)


TOP_LEGEND = dict(orientation="h", y=1.0, x=1, xanchor="right", yanchor="bottom")


def probabilities(p: np.ndarray, title: str | None = None, highlight: int | None = None) -> go.Figure:
    """Bars of p (10,), the winning class (or `highlight`) in the accent colour."""
    highlight = int(np.argmax(p)) if highlight is None else highlight
    colors = [ACCENT if c == highlight else MUTED for c in range(len(p))]
    bar = dict(type="bar", x=DIGITS, y=p, marker=dict(color=colors), text=[f"{v:.0%}" for v in p],
               textposition="outside", cliponaxis=False, hovertemplate="digit %{x}: %{y:.2%}<extra></extra>")
    return _figure([bar], 260, title, yaxis=dict(range=[0, 1.12], showticklabels=False, showgrid=False,
                                                 title=dict(text="probability")),
                   xaxis=dict(type="category", title=dict(text="digit")))


def before_after(before: np.ndarray, after: np.ndarray, label: int) -> go.Figure:
    """Grouped bars: probabilities before and after one SGD step toward `label`."""
    bars = [dict(type="bar", x=DIGITS, y=before, name="before", marker=dict(color=MUTED)),
            dict(type="bar", x=DIGITS, y=after, name="after", marker=dict(color=ACCENT))]
    return _figure(bars, 260, f"p before and after learning “{label}”", show_legend=True, legend=TOP_LEGEND,
                   barmode="group", yaxis=percent_axis(0, 1.05),
                   xaxis=dict(type="category", title=dict(text="digit")))


def hidden_heatmap(h: np.ndarray, dead: np.ndarray | None = None, columns: int = 16,
                   title: str | None = None, colorscale: str = "Viridis", zmid: float | None = None) -> go.Figure:
    """A vector over the hidden units (h,) as a grid, unit j at row j // columns; dead units marked ✕."""
    n = len(h)
    rows = -(-n // columns)
    grid = np.full(rows * columns, np.nan, np.float32)
    grid[:n] = h
    text = np.full(rows * columns, "", object)
    if dead is not None:
        text[:n][np.asarray(dead, bool)] = "✕"
    shape = (rows, columns)
    heat = dict(type="heatmap", z=grid.reshape(shape), customdata=np.arange(rows * columns).reshape(shape),
                text=text.reshape(shape).tolist(), texttemplate="%{text}", colorscale=colorscale, zmid=zmid,
                xgap=1, ygap=1, colorbar=colorbar(),
                hovertemplate="unit %{customdata}: %{z:.3g}<extra></extra>")
    x, y = _unit_axes(n, columns)
    return _figure([heat], max(160, 28 * rows + (90 if title else 50)), title,
                   yaxis=dict(autorange="reversed", scaleanchor="x", **y), xaxis=x)


def weight_grid(W1: np.ndarray, columns: int = 16, highlight: int | None = None) -> go.Figure:
    """Every column of W1 (784,h) as a 28×28 tile, each tile on its own ± scale; hover names the unit.

    A click on a tile selects that unit: the figure carries invisible click targets (lab.plots.picking)
    whose customdata is the unit.
    """
    hidden = W1.shape[1]
    tiles = W1.T.reshape(hidden, 28, 28)
    tiles = tiles / np.maximum(np.abs(tiles).max(axis=(1, 2), keepdims=True), 1e-12)
    mosaic = images.tile(tiles, columns)
    heat = dict(type="heatmap", z=mosaic, colorscale=WEIGHTS, zmin=-1, zmax=1, hoverinfo="skip",
                colorbar=colorbar("weight ÷ the tile's largest |weight|", tickvals=[-1, 0, 1],
                                  ticktext=["−max", "0", "+max"]))
    unit = np.arange(hidden)
    targets = picking.targets(unit % columns * 29 + 13.5, unit // columns * 29 + 13.5, unit,
                              "unit %{customdata}<extra>click to select</extra>")
    shapes = []
    if highlight is not None:
        r, c = divmod(highlight, columns)
        shapes.append(dict(type="rect", x0=c * 29 - 1, x1=c * 29 + 28, y0=r * 29 - 1, y1=r * 29 + 28,
                           line=dict(color="black", width=2)))
    rows = -(-hidden // columns)
    x, y = _unit_axes(hidden, columns, pitch=29, offset=13.5)
    # Square tiles: the grid shrinks to fit (constrain="domain") instead of padding the axes' ranges.
    return _figure([heat, targets], int(80 + 700 * rows / columns), shapes=shapes,
                   yaxis=dict(autorange="reversed", scaleanchor="x", constrain="domain", **y),
                   xaxis=dict(constrain="domain", **x), **picking.CLICKABLE)


def bars(values: np.ndarray, labels=None, title: str | None = None, signed: bool = True,
         highlight: int | None = None, height: int = 240, y_title: str | None = None,
         x_title: str = "digit") -> go.Figure:
    """Generic bars (e.g. a unit's outgoing weights, a gradient over classes), red > 0 > blue."""
    values = np.asarray(values, dtype=float)
    labels = DIGITS[:len(values)] if labels is None else [str(v) for v in labels]
    colors = ["#b2182b" if v >= 0 else "#2166ac" for v in values] if signed else [MUTED] * len(values)
    if highlight is not None:
        colors[highlight] = ACCENT
    bar = dict(type="bar", x=labels, y=values, marker=dict(color=colors), hovertemplate="%{x}: %{y:.4g}<extra></extra>")
    return _figure([bar], height, title, xaxis=dict(type="category", title=dict(text=x_title)),
                   yaxis=dict(title=dict(text=y_title)))


def histogram(values: np.ndarray, title: str | None = None, x_title: str = "activation") -> go.Figure:
    hist = dict(type="histogram", x=np.asarray(values, dtype=float), nbinsx=50, marker=dict(color=MUTED))
    return _figure([hist], 260, title, xaxis=dict(title=dict(text=x_title)),
                   yaxis=dict(title=dict(text="test digits"), **COUNTS))


def matrix(m: np.ndarray, title: str | None = None, x_title: str = "", y_title: str = "",
           height: int = 300) -> go.Figure:
    """A signed matrix (e.g. ∇W2 (h,10)) as a heatmap centred on zero."""
    heat = dict(type="heatmap", z=np.asarray(m, dtype=float), colorscale=WEIGHTS, zmid=0, colorbar=colorbar(),
                hovertemplate="row %{y}, column %{x}: %{z:.3g}<extra></extra>")
    every_row = 1 if len(m) <= 10 else None   # e.g. one labelled row per digit
    return _figure([heat], height, title, yaxis=dict(autorange="reversed", title=dict(text=y_title), dtick=every_row),
                   xaxis=dict(title=dict(text=x_title)))


def loss_traces(losses: np.ndarray, steps: np.ndarray, smoothed_name: str = "smoothed") -> list[dict]:
    """Training loss at `steps` (the step of each loss): raw, thinned to LOSS_POINTS, and its moving average."""
    losses, steps = np.asarray(losses, dtype=float), np.asarray(steps)
    shown = slice(None, None, max(1, -(-len(losses) // LOSS_POINTS)))
    return [dict(type="scatter", x=steps[shown], y=losses[shown], mode="lines", name="per step",
                 line=dict(color=MUTED, width=1), opacity=0.6),
            dict(type="scatter", x=steps[shown], y=smooth(losses)[shown], mode="lines", name=smoothed_name,
                 line=dict(color=ACCENT, width=2.5))]


def smooth(values: np.ndarray, span: int = 50) -> np.ndarray:
    """Exponential moving average s_i = s_{i-1} + α (v_i − s_{i-1}), α = 2/(span+1), started on the first value.

    Vectorised in blocks of L values: within a block s_j = α d^j Σ_{k≤j} d^{-k} v_k + d^{j+1} s_start with
    d = 1 − α (a cumulative sum), and L is chosen so that d^L < e^{-40}: a block's start state then
    reaches only the next block, whose start is the previous block's last value.
    """
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return np.empty(0)
    alpha = 2 / (span + 1)
    d = 1 - alpha
    if d <= 0:                                      # span 1: each value is its own average
        return v.copy()
    L = max(16, int(np.ceil(40 / -np.log(d))))     # d^L ≈ e^{-40}; d^{-L} ≈ 2·10¹⁷ is still exact enough
    blocks = np.concatenate([v, np.zeros(-len(v) % L)]).reshape(-1, L)   # padding comes after: it changes nothing
    powers = d ** np.arange(L)
    s = alpha * powers * np.cumsum(blocks / powers, axis=1)   # each block from a zero start
    s[0] += d * powers * v[0]                                 # the first block starts on the first value
    s[1:] += d * powers * s[:-1, -1:]                          # the others on the end of the block before
    return s.reshape(-1)[:len(v)]


def confusion(cm: np.ndarray, highlight: tuple[int, int] | None = None) -> go.Figure:
    """Counts (true × predicted) with the numbers written in; the diagonal dominates, so log colour.

    A click on a cell selects it: the figure carries invisible click targets (lab.plots.picking) whose
    customdata is [true, predicted, count]; `highlight` (true, predicted) frames the cell looked at.
    """
    counts = [0, 1, 10, 100, 1000]
    heat = dict(type="heatmap", z=np.log1p(cm), x=DIGITS, y=DIGITS, text=cm, texttemplate="%{text}",
                colorscale="Blues", hoverinfo="skip",
                colorbar=colorbar("test digits (log scale)", tickvals=np.log1p(counts).tolist(),
                                  ticktext=[str(c) for c in counts]))
    true, predicted = np.divmod(np.arange(cm.size), cm.shape[1])
    targets = picking.targets([DIGITS[c] for c in predicted], [DIGITS[r] for r in true],
                              np.stack([true, predicted, cm.reshape(-1)], axis=1),
                              "true %{customdata[0]}, predicted %{customdata[1]}: %{customdata[2]}"
                              "<extra>click to look inside</extra>")
    shapes = []
    if highlight is not None:
        r, c = highlight
        shapes.append(dict(type="rect", xref="x", yref="y", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
                           line=dict(color=ACCENT, width=3)))
    return _figure([heat, targets], 460, shapes=shapes,
                   xaxis=dict(title=dict(text="predicted"), type="category", side="top"),
                   yaxis=dict(title=dict(text="true"), type="category", autorange="reversed"), **picking.CLICKABLE)


def per_class_accuracy(accuracy: np.ndarray) -> go.Figure:
    """Accuracy on each true digit as a dot plot, hardest digit at the top, each dot labelled with its value.

    The axis is zoomed on the values (97.6% and 99.7% must look apart; bars from 0 made them equal)
    and the labels are plain scatter text, which plotly does not shrink to a bar's width as it did (~6 px).
    """
    accuracy = np.asarray(accuracy, dtype=float)
    order = np.argsort(accuracy, kind="stable")
    low, high = around(accuracy)
    labels = [f"{a:.1%}" for a in accuracy[order]]
    dots = dict(type="scatter", x=accuracy[order], y=[DIGITS[d] for d in order], mode="markers+text",
                text=labels, textposition="middle right", textfont=dict(size=LABEL_SIZE), cliponaxis=False,
                marker=dict(color=[ACCENT if d == order[0] else MUTED for d in order], size=12),
                hovertemplate="digit %{y}: %{x:.2%} read right<extra></extra>")
    room_for_labels = high + 0.3 * (high - low)
    return _figure([dots], 340, "Accuracy per digit, hardest first", font=dict(size=LABEL_SIZE),
                   xaxis=percent_axis(low, room_for_labels, title=dict(text="test digits read right")),
                   yaxis=dict(type="category", autorange="reversed", title=dict(text="true digit")))
