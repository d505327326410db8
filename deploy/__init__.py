"""Serving MLP Lab to a class: several app processes behind a reverse proxy (see classroom.py)."""
