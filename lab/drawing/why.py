"""Why this digit and not that one: the input gradient of z_a − z_b drawn over the 28×28 input.

Backprop does not stop at W1: one more step of the chain rule, δx = δa1 W1ᵀ, says how each
pixel of the input moves the score difference z_a − z_b.  Red pixels are those where more ink
would raise it (more "a", less "b"), blue ones where more ink would lower it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from mlp.model import MLP

from ..frame import page
from ..plots import images
from ..plots.figures import WEIGHTS, _figure, colorbar
from ..session import state
from ..plots.words import article   # (`words` here names the legend's column)

RIVAL = "why_rival"    # widget key: the digit b the prediction is compared with

# One step a line, so the chain fits a phone's width too.
CHAIN = (r"\begin{gathered} \delta z = e_a - e_b \\ \delta h = \delta z\, W_2^T \\ "
         r"\delta a_1 = \delta h \odot 1[a_1 > 0] \\ \delta x = \delta a_1 W_1^T \end{gathered}")
NO_OTHER_ANSWER = ("There is no “not a digit” answer: any drawing gets one of 0–9, and softmax confidence "
                   "is not correctness — a letter A may read “4, 99%”.")


class Contrast(NamedTuple):
    a: int
    b: int
    margin: float            # z_a − z_b for this input
    gradient: np.ndarray     # (784,) ∂(z_a − z_b)/∂x


def runner_up(p: np.ndarray) -> int:
    """The second most probable class of p (C,)."""
    return int(np.argsort(p)[-2])


def contrast(model: MLP, x: np.ndarray, a: int, b: int) -> Contrast:
    """z_a − z_b for x (784,) and its gradient with respect to every input pixel."""
    z = model.forward(np.asarray(x)[None, :]).z[0]
    return Contrast(a, b, float(z[a] - z[b]), np.asarray(model.input_gradient(x, a, b), np.float64))


def figure(c: Contrast, x: np.ndarray) -> go.Figure:
    """The gradient as a 28×28 red/blue map on a scale symmetric about 0, the ink's outline on top."""
    g = c.gradient.reshape(28, 28)
    limit = float(np.abs(g).max()) or 1.0   # symmetric, so white is exactly 0
    ink = np.asarray(x, np.float64).reshape(28, 28)
    heat = dict(type="heatmap", z=g, zmin=-limit, zmax=limit, colorscale=WEIGHTS, customdata=ink,
                colorbar=colorbar(f"∂(z{c.a}−z{c.b})/∂x", tickformat=".2~g"),
                hovertemplate="row %{y}, column %{x}<br>gradient %{z:.3g}<br>ink %{customdata:.2f}<extra></extra>")
    outline = dict(type="contour", z=ink, showscale=False, hoverinfo="skip", name="your ink",
                   contours=dict(start=0.5, end=0.5, size=1, coloring="lines"),
                   colorscale=[[0, "black"], [1, "black"]], line=dict(width=1.5))   # lines take the scale's colour
    hidden = dict(showticklabels=False, showgrid=False, zeroline=False, ticks="", constrain="domain")
    return _figure([heat, outline], 360, title=f"Why {c.a} and not {c.b}", xaxis=hidden,
                   yaxis=dict(autorange="reversed", scaleanchor="x", **hidden))


def pixel_shares(c: Contrast, x: np.ndarray) -> tuple[float, float]:
    """(for a, for b): how much of Σ|g·x| comes from inked pixels that push toward a, toward b."""
    push = c.gradient * np.asarray(x, np.float64)
    total = float(np.abs(push).sum())
    if total == 0:
        return 0.0, 0.0
    return float(push[push > 0].sum()) / total, float(-push[push < 0].sum()) / total


INK_SHADE = 0.45   # the glance darkens inked pixels by this much, so the drawing shows through the colours


def glance_picture(c: Contrast, x: np.ndarray, factor: int) -> np.ndarray:
    """The gradient as a red/blue picture (as the map in render()), the ink shaded on it; (28·f, 28·f, 3) uint8."""
    shade = 1 - INK_SHADE * np.clip(np.asarray(x, np.float32).reshape(28, 28), 0, 1)
    return images.enlarge((images.signed(c.gradient, 1) * shade[..., None]).round().astype(np.uint8), factor)


def glance(model: MLP, x: np.ndarray, p: np.ndarray, width: int) -> None:
    """A compact "why": the answer against the runner-up, as a picture `width` px wide; the detail is render()."""
    a, b = int(np.argmax(p)), runner_up(p)
    st.markdown(f"**Why {a} and not {b}?**")
    st.image(glance_picture(contrast(model, x, a, b), x, max(1, width // 28)), width=width)
    st.caption(f"Red: more ink there would make it more a {a}; blue: more a {b}. Your ink is shaded.")


def render(model: MLP, x: np.ndarray, p: np.ndarray, subject: str) -> None:
    """The Draw page's "why this digit" section for input x (784,) with probabilities p (10,)."""
    a = int(np.argmax(p))
    st.subheader(f"Why {a} and not another digit?")
    state.follow(RIVAL, runner_up(p), f"{subject}:{a}")   # a new answer (another model) starts over
    pick, words = st.columns([1, 3], vertical_alignment="center")
    b = pick.selectbox(f"Compare {a} with", [d for d in range(10) if d != a], key=RIVAL,
                       help="It starts at the runner-up, the digit the network nearly answered.")
    c = contrast(model, x, a, b)
    words.markdown(f"The score difference z{a} − z{b} is **{c.margin:+.2f}**. Backprop's chain rule, taken one "
                   f"step further to the input, gives its gradient with respect to each of the 784 pixels:")
    words.latex(CHAIN)
    chart, legend = st.columns([3, 2], gap="large", vertical_alignment="center")
    chart.plotly_chart(figure(c, x), config=page.PLOT, key="why_gradient")
    toward_a, toward_b = pixel_shares(c, x)
    legend.markdown(f"**Red**: pixels where more ink would raise z{a} − z{b}, making it more {article(a)} "
                    f"and less {article(b)}.  \n**Blue**: pixels where more ink would lower it, toward {b}.  \n"
                    "The black line outlines your ink. White means the pixel does not matter here.")
    legend.caption(f"Of your ink's pull (|gradient × ink|), {toward_a:.0%} is on red pixels (for {a}) and "
                   f"{toward_b:.0%} on blue ones (for {b}). The gradient says what a small change would do, "
                   "nothing more: it is linear, and the network is not.")


def backprop_start(p: np.ndarray) -> tuple[int, str]:
    """The label the Backprop page opens on for probabilities p (10,), and why.

    With the network's own confident answer as the label, L = −log p_y is near 0 and every
    gradient nearly vanishes: nothing to see.  The runner-up gives a loss worth sending back.
    """
    answer, label = int(np.argmax(p)), runner_up(p)
    return label, (f"The label starts at {label}, the runner-up (p = {float(p[label]):.2g}), so the loss is large "
                   f"enough to see where it flows. With the network's own answer {answer} (p = "
                   f"{float(p[answer]):.2g}) as the label, L = −log p_y ≈ {-np.log(max(float(p[answer]), 1e-300)):.2g} "
                   "and the gradients are tiny: pick it to see how little a right answer teaches.")


def confidence_note() -> None:
    """One line under the prediction: what the answer can and cannot mean."""
    st.caption(NO_OTHER_ANSWER)
