"""What outlives a rerun: the one helper over st.session_state (keys, kept widget values, callbacks whose errors become
a message), this browser's token, and the shareable link.

May import: lab.store, lab.plots, Streamlit. Never a feature (today's exceptions, until each feature registers its
own defaults, are listed in tests/test_layout.py).
"""
