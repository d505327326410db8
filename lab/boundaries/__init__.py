"""The Boundaries page: softmax regression beside the MLP on 2-D toy sets and on MNIST (side_by_side), the toy sets,
and their figures.

May import: lab.store, lab.plots, lab.session. Never another feature.
"""
