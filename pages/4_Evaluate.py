"""Evaluate: the model in use on the 10,000 MNIST test digits, and the ones it gets wrong."""
import streamlit as st

from lab.frame import mnist_panel, page
from lab.insight import clicks, evaluate
from lab.plots import figures, images, picking, words
from lab.session import state
from lab.session.state import Key
from lab.store import mnist

model = page.frame("Evaluate", ":material/fact_check:")
GALLERY = 30
IMAGE_WIDTH = 84

result = evaluate.evaluate(model)
if result is None:
    mnist_panel.offer_fetch("Evaluating needs the MNIST test set, which is not downloaded yet. Fetch it here, "
                            "start a run on the Train page (it fetches first), or run `python -m mlp.fetch`.")
    st.stop()

st.caption(model.label)
mistakes = evaluate.mistakes(result)
overall, wrong, worst = st.columns(3)
overall.metric("Test accuracy", f"{result.accuracy:.2%}")
wrong.metric("Misclassified", f"{len(mistakes):,} of {len(result.y):,}")
worst_digit = int(result.per_class.argmin())
worst.metric("Hardest digit", str(worst_digit), f"{result.per_class[worst_digit]:.1%} right", delta_color="off",
             delta_arrow="off")

# Open on the most frequent confusion; the choice is kept until the model changes.
common_true, common_predicted = evaluate.most_confused(result)
state.follow(Key.CELL_TRUE, common_true, model.version)
state.follow(Key.CELL_PREDICTED, common_predicted, model.version)

matrix, per_class = st.columns([3, 2], gap="large")
matrix.markdown("**Confusion matrix** (rows: true digit, columns: prediction; click a cell to look inside it)")
matrix.plotly_chart(figures.confusion(result.confusion, highlight=(state.widget_value(Key.CELL_TRUE),
                                                                   state.widget_value(Key.CELL_PREDICTED))),
                    config=page.PLOT, key=clicks.CONFUSION, on_select=clicks.choose_cell,
                    selection_mode=picking.SELECTION)
per_class.plotly_chart(figures.per_class_accuracy(result.per_class), config=page.PLOT, key="per_class")

st.subheader("Look inside a cell")
pick_true, pick_predicted = st.columns(2)
true = pick_true.selectbox("True digit", range(10), **state.kept(Key.CELL_TRUE))
predicted = pick_predicted.selectbox("Predicted digit", range(10), **state.kept(Key.CELL_PREDICTED))
chosen = evaluate.cell(result, true, predicted)
X, _ = mnist.test_set()
if len(chosen) == 0:
    st.info(f"No test digit that is {words.article(true)} was predicted {predicted}.")
else:
    st.caption(f"{words.count(len(chosen), 'test digit')}; showing up to {GALLERY}, most confident first "
               f"(test image number · p({predicted})).")
    st.image([images.digit(X[i], 3) for i in chosen[:GALLERY]], width=IMAGE_WIDTH,
             caption=[f"#{i} · {result.p[i, predicted]:.0%}" for i in chosen[:GALLERY]])

st.subheader("Most confident mistakes")
st.caption("Misclassified test digits, the surest-wrong first (some are mislabelled or barely legible). "
           "Under each: true → predicted, then p(predicted) and p(true).")
shown = mistakes[:GALLERY]
st.image([images.digit(X[i], 3) for i in shown], width=IMAGE_WIDTH,
         caption=[f"{int(result.y[i])} → {int(result.predicted[i])} · {result.p[i, result.predicted[i]]:.0%} / "
                  f"{result.p[i, result.y[i]]:.0%}" for i in shown])
