"""Draw (home page): draw a digit and watch the network read it, from pixels to probabilities.

One screen: the canvas, the answer with its probabilities, and a glance at why and at the hidden
layer; each detail opens below on a click and is computed only while open.  Everything under the
title is one fragment, so a stroke reruns it alone: not the sidebar, not the title.
"""
import streamlit as st

from lab.drawing import canvas, draw, narrow, why
from lab.drawing.canvas_widget import st_canvas
from lab.frame import page
from lab.my_digits import view as my_digits_view
from lab.plots import figures, images, words
from lab.session import state
from lab.session.state import Key
from lab.store import mnist, models

model = page.frame("Draw", ":material/draw:", heading="Draw a digit")
STAGE_WIDTH = 140   # px: every stage of the pipeline shown at one size, pixels kept sharp
GLANCE_WIDTH = 168  # px: the compact why-map and hidden layer beside the answer
SOURCE_NAMES = {state.SHIPPED: "Shipped weights", state.TRAINED: "Model from the Train page", state.OWN: "Your model"}
CHOICES_HELP = ("The model being trained appears once a run has started on the Train page; "
                "your model once you teach it or load weights.")

@st.fragment
def draw_and_read() -> None:
    """The canvas and all that depends on the drawing; a stroke, Clear or a choice here reruns only this."""
    ref = state.model_in_use()
    if ref != model:          # another model answers now: the sidebar names it, so the whole page reruns
        st.rerun()
    canvas.reopen_if_dropped()
    left, right, glance = st.columns([5, 5, 3], gap="medium")
    with left:
        st.slider("Stroke width", 6, 40, **state.kept(Key.STROKE_WIDTH))
        picture = st_canvas(stroke_width=state.widget_value(Key.STROKE_WIDTH), stroke_color="#FFFFFF",
                            background_color="#000000", width=280, height=280, drawing_mode="freedraw",
                            update_streamlit=True, return_image_data=True,
                            initial_drawing=canvas.canvas_initial_strokes(), key=canvas.canvas_key())
        st.button("Clear", icon=":material/delete:", on_click=canvas.clear_canvas)
    drawing, unreadable = canvas.read(picture)
    state.set_drawing(drawing)

    with right:
        sources = state.available_sources()
        if state.model_source() not in sources:
            state.set_model_source(state.SHIPPED)
        if len(sources) > 1:
            st.radio("Which model answers", sources, format_func=SOURCE_NAMES.get, **state.kept(Key.MODEL_SOURCE),
                     horizontal=True, help=CHOICES_HELP)
        else:   # a choice of one is no choice: say which model answers, and how others come
            st.markdown(f"**Which model answers**: {SOURCE_NAMES[sources[0]]}", help=CHOICES_HELP)
        if unreadable is not None:
            st.warning(f"Could not read the drawing: {unreadable}. Press Clear and draw again.",
                       icon=":material/broken_image:")
            st.stop()
        if drawing is None:
            st.info("Draw a digit from 0 to 9 in the black square, large and centred, like a number on a form. "
                    "The prediction appears when you lift the mouse.", icon=":material/draw:")
            st.stop()
        result = draw.answer(ref.model, drawing.x)
        settled = canvas.pen_resting(drawing)
        with st.container(key="prediction"):
            st.markdown(f"## Prediction: {result.digit}")
            if not settled:
                st.caption(draw.so_far_words(result))
                canvas.settle_when_resting()
            elif result.confidence < draw.LOW_CONFIDENCE:
                st.warning(draw.confidence_words(result))
            else:
                st.markdown(draw.confidence_words(result))
            odd = draw.oddity(drawing.stages)
            if odd is not None:
                st.warning(odd, icon=":material/help:")
            why.confidence_note()
        st.plotly_chart(figures.probabilities(result.p), config=page.STATIC_PLOT, key="probabilities")
    narrow.prediction_line(left, result.digit, result.confidence, settled)

    with glance, st.container(key="draw_glance"):
        why.glance(ref.model, drawing.x, result.p, GLANCE_WIDTH)
        st.markdown("**The hidden layer**")
        st.image(draw.hidden_picture(result.h), width=GLANCE_WIDTH)
        st.caption(f"{int((result.h > 0).sum())} of {len(result.h)} units fire for this drawing (brighter: stronger).")

    my_digits_view.is_it_right(result, drawing)

    seen = st.expander("What the network sees: from your ink to 784 numbers", key=draw.PIPELINE, on_change="rerun")
    if seen.open:
        seen.caption("The MNIST recipe: crop the ink, make the stroke as wide as MNIST's, shrink the longer side to "
                     "20 pixels, then centre the ink's mass in a 28×28 field. "
                     "The last picture is the 784 numbers the network gets.")
        pictures = draw.stage_pictures(drawing.stages)
        for column, (picture, caption) in zip(seen.columns(len(pictures)), pictures):
            column.image(images.digit(picture, max(1, -(-STAGE_WIDTH // max(picture.shape)))), caption=caption,
                         width=STAGE_WIDTH)

    reasons = st.expander(f"Why {result.digit} and not another digit: the gradient over the 784 inputs",
                          key=draw.WHY, on_change="rerun")
    if reasons.open:
        with reasons:
            why.render(ref.model, drawing.x, result.p, drawing.digest)

    inside = st.expander("Inside the hidden layer: every unit, and those that pushed the answer most",
                         key=draw.HIDDEN, on_change="rerun")
    if inside.open:
        dead = models.dead_units(ref)
        heat, units = inside.columns([5, 6], gap="large")
        with heat:
            st.plotly_chart(figures.hidden_heatmap(result.h, dead, title=f"h: the {len(result.h)} hidden activations"),
                            config=page.PLOT, key="hidden")
            _, reference = mnist.reference_inputs()
            st.caption(f"{int((result.h > 0).sum())} of {len(result.h)} units fire for this drawing. "
                       f"{words.count(int(dead.sum()), 'unit')} {words.plural(int(dead.sum()), 'is', 'are')} dead, "
                       f"silent on all {reference} (marked ✕).")
        with units:
            top = draw.top_units(ref.model, result.h, result.digit)
            st.markdown(f"**The units that pushed “{result.digit}” most** (h_j · W2[j, {result.digit}]), "
                        "each with its incoming weights W1[:, j]: red pixels excite it, blue ones inhibit it.")
            for column, (unit, activation, push) in zip(st.columns(3) + st.columns(3), top):
                column.image(models.incoming_image(ref, unit),
                             caption=f"unit {unit} · h {activation:.2f} · +{push:.2f}")

    my_digits_view.teach_it(drawing)


draw_and_read()
