"""My digits: the user's labelled drawings as a set (digit_set: reading, writing, fine-tuning; no Streamlit) and the
parts of pages that show it (view).

May import: lab.store, lab.plots, lab.session, lab.frame. Never another feature.
"""
