"""What one server process holds and shares: the shipped and saved models, per-model caches, MNIST, the weights folder,
what a run may cost (budget) and the BLAS thread count.

May import: mlp/, NumPy, the standard library, lab.plots. Never Streamlit, never a feature, lab.session or
lab.frame: tests, benchmarks and background threads reach it without a script run context.
"""
