"""The Boundaries page: softmax regression beside the MLP on 2-D toy sets and on MNIST (side_by_side), the toy sets,
their figures, and the page's session entries (boundaries_state).

May import: lab.store, lab.plots, lab.session. Never another feature.
"""
