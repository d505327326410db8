"""MLP Lab's app logic, importable and testable without a browser.

Pages (`app.py`, `pages/`) only lay out; what they show and do lives here:

- state     the one helper over st.session_state (typed accessors, defaults)
- sidebar   the sidebar every page shares, with the training heartbeat
- runner    training in a background thread (no Streamlit), capped per server
- training  what the training buttons do, and a run described in words
- models    the shipped model (loaded once, read-only) and per-model caches
- mnist     MNIST loaded once per process, and a synthetic stand-in
- draw, backprop, evaluate   what the Draw, Backprop and Evaluate pages compute
- figures   plotly figures; images: arrays → pictures; blas: one BLAS thread
"""
