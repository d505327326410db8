"""MLP Lab's app logic, importable and testable without a browser.

Pages (`app.py`, `pages/`) only lay out; what they show and do lives here:

- page      the frame every page starts with: page config, sidebar, title, no-model guard, PLOT
- state     the one helper over st.session_state (keys in state.Key, typed accessors, defaults,
            widget values kept across pages, callbacks wrapped so errors become a message)
- sidebar   the sidebar every page shares, with the training heartbeat
- runner    training in a background thread (no Streamlit), capped per server
- actions   what the buttons do (on-click/on-change callbacks); describe: a run in words
- canvas    the Draw page's canvas between reruns (reopened after a page switch, read into the drawing)
- models    the shipped model (loaded once, read-only) and per-model caches
- mnist     MNIST loaded once per process, and a synthetic stand-in
- draw, backprop, evaluate   what the Draw, Backprop and Evaluate pages compute
- figures   plotly figures (the one rule for percentage axes); images: arrays → pictures; blas: one BLAS thread
- words     what people read: counts with plurals, a/an, numbers for people, strangers' text as plain text
"""
