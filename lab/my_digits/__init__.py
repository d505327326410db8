"""My digits: the user's labelled drawings as a set (digit_set: reading, writing, fine-tuning; no Streamlit), the
parts of pages that show it (view) and its session entries (digits_state).

May import: lab.store, lab.plots, lab.session, lab.frame. Never another feature.
"""
