"""Looking inside the network: Hidden units (hidden_map), Backprop (gradient check), Evaluate (accuracy, confusion),
and what a click on their charts chooses.

May import: lab.store, lab.plots, lab.session, lab.frame.page. Never another feature.
"""
