"""What outlives a rerun: the one helper over st.session_state (keys, kept widget values, callbacks whose errors become
a message), this browser's token, and the shareable link.

Features keep their own session entries beside them and register their kept widgets' defaults here.

May import: lab.store, lab.plots, Streamlit. Never a feature (today's exceptions, the browser's kept run and set, are
listed in tests/test_layout.py).
"""
