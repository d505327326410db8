"""Hidden units: what each hidden unit looks for, what it votes for, and when it fires."""
import numpy as np
import streamlit as st

from lab.frame import mnist_panel, page
from lab.insight import clicks, hidden_map
from lab.plots import figures, images, picking
from lab.session import state
from lab.session.state import Key
from lab.store import mnist, models

model = page.frame("Hidden units", ":material/grid_view:")
TOP_IMAGES = 12

net = model.model
st.caption(f"{model.label}. Each hidden unit j computes h_j = ReLU(x · W1[:, j] + b1[j]): a template W1[:, j] "
           "over the 28×28 pixels (red excites, blue inhibits), then votes for the digits through W2[j, :].")

test = mnist.test_set()
outputs = models.test_outputs(model)
if outputs is not None:
    dead = ~outputs.fired
    over = "the 10,000 MNIST test digits"
else:
    dead = models.dead_units(model)
    over = mnist.reference_inputs()[1]
    if mnist.damaged():
        mnist_panel.offer_fetch("")   # names the refused files and offers to fetch them again
    else:
        st.info("MNIST is needed for the data-driven parts (top-activating digits, activation histograms); "
                "it is fetched when you start training on the Train page, or run `python -m mlp.fetch`. "
                "The weights below need no data.", icon=":material/download:")
count, pick = st.columns([1, 4], vertical_alignment="bottom")
count.metric("Dead units", f"{int(dead.sum())} of {net.hidden}",
             help=f"Units that never fire (a1 ≤ 0) on {over}: no gradient reaches them, so they never learn.")
state.clamp(Key.UNIT, 0, net.hidden - 1)
unit = pick.slider("Unit", 0, net.hidden - 1, **state.kept(Key.UNIT))

st.markdown(f"**Incoming weights W1[:, j] of all {net.hidden} units**, each on its own scale "
            f"(click a tile to look at its unit; unit {unit} is framed)")
st.plotly_chart(figures.weight_grid(net.W1, highlight=unit), config=page.PLOT, key=clicks.WEIGHT_GRID,
                on_select=clicks.choose_unit, selection_mode=picking.SELECTION)

st.subheader(f"Unit {unit}" + (" (dead)" if dead[unit] else ""))
picture, outgoing, histogram = st.columns([2, 3, 3], gap="large")
picture.image(models.incoming_image(model, unit, factor=6), caption=f"W1[:, {unit}]")
picture.markdown(f"bias b1[{unit}] = {float(net.b1[unit]):+.3f}  \n"
                 f"‖W1[:, {unit}]‖ = {float(np.linalg.norm(net.W1[:, unit])):.2f}")
outgoing.plotly_chart(figures.bars(net.W2[unit], title=f"Outgoing weights W2[{unit}, :]", y_title="weight"),
                      config=page.PLOT, key="outgoing")
activations = models.unit_activations(model, unit) if outputs is not None else None
if outputs is not None:
    histogram.plotly_chart(figures.histogram(activations, title=f"h{unit} on the 10,000 test digits"),
                           config=page.PLOT, key="histogram")
    histogram.caption(f"Fires on {float((activations > 0).mean()):.1%} of test digits.")

if outputs is not None:
    X, y = test
    top = np.argsort(activations)[::-1][:TOP_IMAGES]
    st.markdown(f"**The {TOP_IMAGES} test digits that excite unit {unit} most** (label · h{unit})")
    if dead[unit]:
        st.info(f"Unit {unit} is silent on every test digit.")
    else:
        st.image([images.digit(X[i], 3) for i in top], width=72,
                 caption=[f"{int(y[i])} · {float(activations[i]):.2f}" for i in top])

hidden_map.render()
