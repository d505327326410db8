"""What the Train page draws: the run's curves, beside the session's earlier runs (no Streamlit here)."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go

from mlp.train import EXPLODED, Config

from ..plots import figures, words
from .runner import DIVERGED, Status

EARLIER_POINTS = 300     # points kept of an earlier run's smoothed curve
MAX_EARLIER = 5          # earlier runs kept per session
DIVERGED_COLOUR = "#c0392b"
DEAD_COLOUR = "#555555"
# The loss axis tops out just past the loss at which a run is called diverged (mlp.train.EXPLODED × ln 10):
# a loss of 20,000 drawn to scale would flatten every healthy curve on the chart into its floor.
LOSS_CEILING = 1.1 * EXPLODED * math.log(10)


class EarlierRun(NamedTuple):
    """A run the session has replaced, kept small enough to overlay: its settings and smoothed loss."""
    label: str
    steps: np.ndarray        # (k,) step numbers
    smoothed: np.ndarray     # (k,) smoothed loss at those steps
    test_accuracy: float | None


def settings_label(config: Config) -> str:
    return f"η {words.number(config.lr)} · batch {config.batch_size} · h {config.hidden} · seed {config.seed}"


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

    The axes span this run, not the earlier ones: the steps it has taken, and losses up to just past
    the divergence guard.  An earlier, longer run is cut at the right
    edge and says so; a diverged run's exploded loss is marked at the top edge with its value, so a
    run that blew up after 30 steps is neither a dot at the left edge nor flattens the others.
    """
    losses, steps = np.asarray(status.losses, dtype=float), np.asarray(status.loss_steps)
    right = max(1, int(steps[-1]) if len(steps) else 0)     # the axis grows with the run, as it trains
    lines = [dict(type="scatter", x=run.steps, y=run.smoothed, mode="lines", line=dict(width=1.5, dash="dot"),
                  opacity=0.7, name=f"earlier: {run.label}" + (
                      f" (on to step {words.number(run.steps[-1])}, past the edge)" if run.steps[-1] > right else ""))
             for run in earlier]
    if len(losses):
        lines += figures.loss_traces(losses, steps, f"smoothed: {settings_label(config)}")
    drawn = np.concatenate([losses] + [run.smoothed for run in earlier])
    drawn = drawn[np.isfinite(drawn)]
    top = min(LOSS_CEILING, 1.05 * float(drawn.max())) if len(drawn) else LOSS_CEILING
    if status.phase == DIVERGED and len(losses):
        exploded = float(losses[-1])
        off_scale = not exploded <= top
        words_for = f"diverged: loss {words.number(exploded, 3)}" + (" (off the scale)" if off_scale else "")
        lines.append(dict(type="scatter", x=[steps[-1]], y=[top if off_scale else exploded], mode="markers+text",
                          name="diverged", customdata=[exploded], cliponaxis=False,
                          marker=dict(symbol="triangle-up" if off_scale else "x", size=14, color=DIVERGED_COLOUR),
                          text=[words_for], textposition="bottom left", textfont=dict(color=DIVERGED_COLOUR),
                          hovertemplate="step %{x}: loss %{customdata:,.4g}<extra>diverged</extra>"))
    layout = dict(xaxis=dict(title=dict(text="step"), range=[0, right], dtick=1 if right <= 10 else None,  # no step 0.5
                             **figures.COUNTS),
                  yaxis=dict(title=dict(text="cross-entropy loss"), range=[0, top], **figures.COUNTS))
    if status.dead_units:
        per_epoch = status.total_steps / max(status.epochs, 1)
        lines.append(dict(type="scatter", x=[round((e + 1) * per_epoch) for e in range(len(status.dead_units))],
                          y=list(status.dead_units), yaxis="y2", mode="lines+markers", name="dead units",
                          line=dict(color=DEAD_COLOUR, width=1.5, dash="dash"), marker=dict(symbol="square"),
                          text=[f"after epoch {e}: {words.count(n, 'dead unit')}"
                                for e, n in enumerate(status.dead_units, 1)],
                          hovertemplate="%{text}<extra></extra>"))
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
                           yaxis=figures.percent_axis(*figures.around(test + list(status.train_accuracy)),
                                                      title=dict(text="accuracy")))
