"""What the Train page draws: the run's curves, beside the session's earlier runs (no Streamlit here)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go

from mlp.train import Config

from . import figures
from .runner import DIVERGED, Status

EARLIER_POINTS = 300     # points kept of an earlier run's smoothed curve
MAX_EARLIER = 5          # earlier runs kept per session
DIVERGED_COLOUR = "#c0392b"
DEAD_COLOUR = "#555555"


class EarlierRun(NamedTuple):
    """A run the session has replaced, kept small enough to overlay: its settings and smoothed loss."""
    label: str
    steps: np.ndarray        # (k,) step numbers
    smoothed: np.ndarray     # (k,) smoothed loss at those steps
    test_accuracy: float | None


def settings_label(config: Config) -> str:
    return f"η {config.lr:g} · batch {config.batch_size} · h {config.hidden} · seed {config.seed}"


def summarise(config: Config, status: Status) -> EarlierRun | None:
    """An earlier-run entry for a run about to be replaced; None if it never took a step."""
    losses = np.asarray(status.losses, dtype=float)
    finite = np.isfinite(losses)
    if not finite.any():
        return None
    steps = np.asarray(status.loss_steps)[finite]
    smoothed = figures.smooth(losses[finite])
    stride = max(1, -(-len(steps) // EARLIER_POINTS))
    accuracy = next((a for a in reversed(status.test_accuracy) if a is not None), None)
    return EarlierRun(settings_label(config), steps[::stride], smoothed[::stride], accuracy)


def remember(earlier: list[EarlierRun], run: EarlierRun | None) -> list[EarlierRun]:
    """The list with `run` added last, the oldest dropped beyond MAX_EARLIER."""
    return (earlier + [run])[-MAX_EARLIER:] if run is not None else earlier


def loss_curve(status: Status, config: Config, earlier: list[EarlierRun] = ()) -> go.Figure:
    """Loss per step (raw and smoothed), dead units per epoch on a second axis, earlier runs faint.

    A diverged run ends on its exploded loss, marked, so the explosion the page speaks of is on the chart.
    """
    losses, steps = np.asarray(status.losses, dtype=float), np.asarray(status.loss_steps)
    lines = [dict(type="scatter", x=run.steps, y=run.smoothed, mode="lines", name=f"earlier: {run.label}",
                  line=dict(width=1.5, dash="dot"), opacity=0.7) for run in earlier]
    if len(losses):
        lines += figures.loss_traces(losses, steps, f"smoothed: {settings_label(config)}")
    if status.phase == DIVERGED and len(losses):
        lines.append(dict(type="scatter", x=[steps[-1]], y=[losses[-1]], mode="markers+text", name="diverged",
                          marker=dict(symbol="x", size=14, color=DIVERGED_COLOUR), text=["diverged"],
                          textposition="top left", textfont=dict(color=DIVERGED_COLOUR)))
    layout = dict(xaxis=dict(title=dict(text="step"), rangemode="tozero"),
                  yaxis=dict(title=dict(text="cross-entropy loss"), rangemode="tozero"))
    if status.dead_units:
        per_epoch = status.total_steps / max(status.epochs, 1)
        lines.append(dict(type="scatter", x=[round((e + 1) * per_epoch) for e in range(len(status.dead_units))],
                          y=list(status.dead_units), yaxis="y2", mode="lines+markers", name="dead units",
                          line=dict(color=DEAD_COLOUR, width=1.5, dash="dash"), marker=dict(symbol="square"),
                          hovertemplate="after epoch %{pointNumber}: %{y} dead units<extra></extra>"))
        layout["yaxis2"] = dict(title=dict(text="dead units (a1 ≤ 0 on 10k images)"), overlaying="y",
                                side="right", range=[0, max(5, 1.2 * max(status.dead_units))], tickformat="d",
                                showgrid=False)
    legend = dict(orientation="h", y=-0.25, x=0, xanchor="left", yanchor="top")
    return figures._figure(lines, 380, "Training loss", show_legend=True, legend=legend, **layout)


def accuracy_curve(status: Status) -> go.Figure:
    """Test and training accuracy after each epoch: the gap between them is overfitting."""
    test = [a for a in status.test_accuracy if a is not None]
    lines = [dict(type="scatter", x=list(range(1, len(test) + 1)), y=test, mode="lines+markers", name="test",
                  line=dict(color=figures.ACCENT, width=2.5), hovertemplate="epoch %{x}: %{y:.2%}<extra>test</extra>")]
    if status.train_accuracy:
        train = list(status.train_accuracy)
        lines.append(dict(type="scatter", x=list(range(1, len(train) + 1)), y=train, mode="lines+markers",
                          name="training", line=dict(color=figures.MUTED, width=2),
                          hovertemplate="epoch %{x}: %{y:.2%}<extra>training</extra>"))
    epochs = max(len(test), len(status.train_accuracy))
    return figures._figure(lines, 380, "Accuracy per epoch", show_legend=True, legend=figures.TOP_LEGEND,
                           xaxis=dict(title=dict(text="epoch"), dtick=1 if epochs <= 20 else None),
                           yaxis=dict(title=dict(text="accuracy"), tickformat=".1%"))
