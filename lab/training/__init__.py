"""The Train page: training in a background thread (runner, no Streamlit), a run in words, its loss history,
checkpoints on disk, the run kept per browser, its charts, and its session entries (train_state).

May import: lab.store, lab.plots, lab.session. Never another feature.
"""
