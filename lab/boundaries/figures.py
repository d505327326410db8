"""Figures of the Boundaries page: pure functions of arrays (no Streamlit here)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..plots import figures   # (also imports pandas whole before any figure; see lab/plots/figures.py)

CLASS_COLORS = ("#2f6db5", "#e4572e")            # class 0 blue, class 1 orange, as the points
# Light tints of the class colours for the regions, white where the model is undecided.
REGION_SCALE = [[0.0, "#a9c8ee"], [0.5, "#ffffff"], [1.0, "#f6b9a5"]]
LINEAR_COLOR, MLP_COLOR = "#7f8c9d", "#e4572e"


def regions(axis: np.ndarray, prob: np.ndarray, X: np.ndarray, y: np.ndarray, title: str,
            lines=None, height: int = 380) -> go.Figure:
    """Decision regions: p(class 1) over the grid as a heatmap, the border p = 0.5, the points on top.

    axis (G,) grid coordinates; prob (G,G) with row i at y = axis[i]; X (N,2), y (N,) in {0,1};
    lines: optional segments ((x0,y0),(x1,y1)) or None per hidden unit, drawn dashed.
    """
    # float32 halves what is sent on every redraw while playing
    axis, prob = np.asarray(axis, np.float32), np.asarray(prob, np.float32)
    data = [dict(type="heatmap", x=axis, y=axis, z=prob, zmin=0, zmax=1, zsmooth="best", colorscale=REGION_SCALE,
                 showscale=False, hovertemplate="x %{x:.2f}, y %{y:.2f}<br>p(orange) %{z:.2f}<extra></extra>"),
            dict(type="contour", x=axis, y=axis, z=prob, showscale=False, hoverinfo="skip", name="border",
                 contours=dict(start=0.5, end=0.5, size=1, coloring="none"), line=dict(color="#222", width=2))]
    if lines:
        xs, ys = [], []
        for segment in lines:
            if segment is not None:
                (x0, y0), (x1, y1) = segment
                xs += [x0, x1, None]
                ys += [y0, y1, None]
        data.append(dict(type="scatter", x=xs, y=ys, mode="lines", hoverinfo="skip", name="hidden units",
                         line=dict(color="rgba(40,40,40,0.45)", width=1, dash="dot")))
    for label, color in enumerate(CLASS_COLORS):
        mine = np.asarray(y) == label
        data.append(dict(type="scatter", x=X[mine, 0], y=X[mine, 1], mode="markers", name=f"class {label}",
                         cliponaxis=False,
                         marker=dict(color=color, size=6, line=dict(color="white", width=1)),
                         hovertemplate=f"class {label}<br>x %{{x:.2f}}, y %{{y:.2f}}<extra></extra>"))
    extent = float(axis[-1])
    square = dict(range=[-extent, extent], showgrid=False, zeroline=False, showticklabels=False, fixedrange=True)
    return go.Figure(data=data, layout=dict(
        title=dict(text=title, x=0.5, xanchor="center"), height=height, showlegend=False,
        margin=dict(l=10, r=10, t=40, b=10), xaxis=dict(square, constrain="domain"),
        yaxis=dict(square, scaleanchor="x", scaleratio=1), plot_bgcolor="white"))


def accuracy_race(steps: np.ndarray, linear: np.ndarray, mlp: np.ndarray, height: int = 240) -> go.Figure:
    """Training accuracy of both models against SGD steps."""
    data = [dict(type="scatter", x=steps, y=linear, mode="lines", name="softmax regression",
                 line=dict(color=LINEAR_COLOR, width=2)),
            dict(type="scatter", x=steps, y=mlp, mode="lines", name="MLP", line=dict(color=MLP_COLOR, width=2))]
    return go.Figure(data=data, layout=dict(
        height=height, margin=dict(l=10, r=10, t=30, b=10), showlegend=True,
        legend=dict(orientation="h", y=1.0, x=1, xanchor="right", yanchor="bottom"),
        xaxis=dict(title=dict(text="SGD steps"), rangemode="tozero", **figures.COUNTS),
        yaxis=figures.percent_axis(0.4, 1.02, title=dict(text="training accuracy"))))
