"""The Draw page: the canvas between reruns and its widget, reading a drawing into the network's input and its answer
(draw), why it answered so, and the phone layout.

May import: lab.store, lab.plots, lab.session, lab.frame.page. Never another feature.
"""
