"""The Train page: training in a background thread (runner, no Streamlit), a run in words, its loss history,
checkpoints on disk, the run kept per browser, and its charts.

May import: lab.store, lab.plots, lab.session. Never another feature.
"""
