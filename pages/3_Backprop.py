"""Backprop: the design document's equations, each beside its value for your drawing."""
import numpy as np
import streamlit as st

from lab.drawing import why
from lab.frame import page
from lab.insight import backprop
from lab.plots import figures, images, words
from lab.session import state
from lab.session.state import Key
from lab.store import mnist

model = page.frame("Backprop", ":material/functions:", heading="Backprop, one example at a time")
net = model.model

drawing = state.drawing()
if drawing is not None:
    x, subject = drawing.x, drawing.digest
    st.caption(f"Your drawing from the Draw page, through {model.label}.")
else:
    x, _, where = mnist.sample_digit()
    subject = f"sample-{where}"
    st.caption(f"Nothing drawn yet, so {where} stands in (draw on the Draw page to use yours). Model: {model.label}.")

default_label, opening = why.backprop_start(net.predict_proba(x[None, :])[0])
state.follow(Key.BACKPROP_LABEL, default_label, subject)
picture, choose = st.columns([1, 4], vertical_alignment="center")
picture.image(images.digit(x, 4), caption="x, the 784 inputs")
label = choose.selectbox("True label y (the digit the loss rewards)", range(10), key=Key.BACKPROP_LABEL,
                         help="It starts at the runner-up, so that there is a loss to send back. "
                              "Pick the network's own answer to see how small the gradients get.")
choose.caption(opening + f" Orange marks the label y = {label} in every chart over the 10 digits.")
t = backprop.trace(net, x, label)
N, hidden = 1, net.hidden


def summary(a: np.ndarray) -> str:
    return (f"shape {tuple(a.shape)} · min {float(a.min()):.3g} · max {float(a.max()):.3g} · "
            f"‖·‖ {float(np.linalg.norm(a)):.3g}")


def row(equation: str, note: str, value: np.ndarray | None = None):
    """An equation with its explanation on the left; returns the right-hand column for its value."""
    left, right = st.columns([2, 3], gap="large", vertical_alignment="center")
    left.latex(equation)
    left.caption(note + ("" if value is None else f"  \n{summary(value)}"))
    return right


st.header("Forward")
row(r"a_1 = X W_1 + b_1", "Each hidden unit's weighted sum of the pixels.", t.a1).plotly_chart(
    figures.hidden_heatmap(t.a1[0], colorscale="RdBu_r", zmid=0), config=page.PLOT, key="a1")
row(r"h = \mathrm{ReLU}(a_1) = \max(0, a_1)", f"{int((t.h > 0).sum())} of {hidden} units fire.", t.h).plotly_chart(
    figures.hidden_heatmap(t.h[0]), config=page.PLOT, key="h")
row(r"z = h W_2 + b_2", "One score (logit) per digit.", t.z).plotly_chart(
    figures.bars(t.z[0], highlight=label, height=200, y_title="logit z"), config=page.PLOT, key="z")
row(r"p_i = \frac{e^{z_i}}{\sum_j e^{z_j}}", "Softmax turns the scores into probabilities.", t.p).plotly_chart(
    figures.probabilities(t.p[0], highlight=label), config=page.PLOT, key="p")
row(r"L = -\frac{1}{N}\sum_{i=1}^{N}\sum_{c=1}^{C} Y_{ic}\log P_{ic}",
    f"With N = 1 only the true class counts: L = −log p_{label}.").metric(
    "Loss L", f"{t.L:.4f}", help=f"−log p_{label} = −log {float(t.p[0, label]):.4f}")

st.header("Backward")
row(r"\delta z = \frac{P - Y}{N}", "Softmax and cross-entropy together: push the true class up, the rest down.",
    t.dz).plotly_chart(figures.bars(t.dz[0], highlight=label, height=200, y_title="δz"), config=page.PLOT, key="dz")
row(r"\nabla_{W_2} = h^T \delta z", "Only units that fired (h > 0) get a gradient.", t.gW2).plotly_chart(
    figures.matrix(t.gW2.T, x_title="hidden unit", y_title="digit", height=220), config=page.PLOT, key="gW2")
row(r"\nabla_{b_2} = \sum_i \delta z_{i:}", "With one example it equals δz.", t.gb2).plotly_chart(
    figures.bars(t.gb2, highlight=label, height=200, y_title="∇b2"), config=page.PLOT, key="gb2")
row(r"\delta h = \delta z\, W_2^T", "The blame sent back to each hidden unit.", t.dh).plotly_chart(
    figures.hidden_heatmap(t.dh[0], colorscale="RdBu_r", zmid=0), config=page.PLOT, key="dh")
row(r"\delta a_1 = \delta h \odot 1[a_1 > 0]", "ReLU lets the blame through only where the unit fired.",
    t.da1).plotly_chart(figures.hidden_heatmap(t.da1[0], colorscale="RdBu_r", zmid=0), config=page.PLOT, key="da1")
strongest = np.argsort(np.abs(t.da1[0]))[::-1][:4]
right = row(r"\nabla_{W_1} = X^T \delta a_1",
            "Each column is the input x scaled by that unit's δa1: nonzero only on inked pixels of firing units. "
            "Shown: the 4 units with the largest |δa1| (red: this step lowers the weight).", t.gW1)
for column, unit in zip(right.columns(4), strongest):
    column.image(images.signed(t.gW1[:, unit], 3), caption=f"∇W1[:, {unit}]")
row(r"\nabla_{b_1} = \sum_i \delta a_{1,i:}", "With one example it equals δa1.", t.gb1).plotly_chart(
    figures.hidden_heatmap(t.gb1, colorscale="RdBu_r", zmid=0), config=page.PLOT, key="gb1")
row(r"\theta \leftarrow \theta - \eta\, \nabla_\theta",
    "SGD: every parameter moves against its gradient (the Draw page's Teach it does exactly this).")

st.header("Gradient check")
st.caption("Is backprop right? Nudge one parameter by ±ε and watch the loss: "
           "(L(θ+ε) − L(θ−ε)) / 2ε ≈ ∂L/∂θ. "
           "In float64 on a copy of the model, for the entries with the largest gradients and a few random ones.")
checks = backprop.gradient_check(model, np.asarray(x, np.float32).tobytes(), int(label))
for column, name in zip(st.columns(4), ("W1", "b1", "W2", "b2")):
    rows = [r for r in checks if r.parameter == name]
    column.metric(f"{name}: entries that agree", f"{sum(r.agrees for r in rows)} of {len(rows)}")
st.dataframe([{"parameter": r.parameter, "entry": str(r.index), "analytic": r.analytic, "numerical": r.numerical,
               "absolute error": r.absolute_error, "relative error": r.relative_error, "agrees": r.agrees}
              for r in checks],
             hide_index=True, column_config={
                 "analytic": st.column_config.NumberColumn(format="%.6e"),
                 "numerical": st.column_config.NumberColumn(format="%.6e"),
                 "absolute error": st.column_config.NumberColumn(format="%.1e"),
                 "relative error": st.column_config.NumberColumn(format="%.1e")})
st.caption(f"An entry agrees when |analytic − numerical| ≤ {words.number(backprop.ABS_TOLERANCE)} + "
           f"{words.number(backprop.REL_TOLERANCE)}·|gradient|: the differences carry round-off near 10⁻¹¹, so a "
           "gradient of 10⁻⁸ may show a large relative error and still agree to every digit it has.")
if all(r.agrees for r in checks):
    st.success("Every checked entry agrees: backprop matches the numerical derivative.")
else:
    st.warning(f"{sum(not r.agrees for r in checks)} entries disagree: the gradient is wrong somewhere.")
