"""MLP Lab's app logic, importable and testable without a browser, grouped by folder.

Pages (`app.py`, `pages/`) only lay out; what they show and do lives here. Each folder's `__init__.py`
says what lives there and what it may import; tests/test_layout.py checks those rules.

Shared (bottom first: store and plots never import Streamlit; session imports no feature):
- store      models (shipped and saved), per-model caches, MNIST, the weights folder, run budgets; never Streamlit
             (blas, budget, mnist, model_cache, models, user_weights)
- plots      plotly figures, arrays → pictures, click targets on heatmaps, words for people; never Streamlit
             (figures, images, picking, words)
- session    `state.py`, the one helper over `st.session_state` (each feature's entries sit in the feature and
             register their defaults there); this browser's token; the shareable link
             (browser, share, state)
- frame      the frame every page starts with, the sidebar, the MNIST fetch panel, the buttons' callbacks
             (actions, mnist_panel, page, sidebar)

Features (they do not import each other):
- drawing    the Draw page: the canvas, reading a drawing and the answer, why it answered so, the phone layout
             (canvas, canvas_widget, draw, narrow, why)
- training   the Train page: the training thread, checkpoints, loss history, a run in words, its charts
             (checkpoints, describe, loss_history, runner, train_session, train_state, train_view)
- boundaries the Boundaries page: softmax regression beside the MLP, the toy sets, their figures
             (boundaries_state, figures, side_by_side, toy)
- my_digits  the user's labelled drawings: the set, fine-tuning, the parts of pages that show it
             (digit_set, digits_state, view)
- insight    Hidden units, Backprop, Evaluate, and what a click on their charts chooses
             (backprop, clicks, evaluate, hidden_map)
"""
