"""The page frame every page starts with (page config, sidebar, title, no-model guard, PLOT), the MNIST fetch panel,
and the buttons' callbacks that reach across features (actions).

May import: everything in lab/ (it sits above the features).
"""
