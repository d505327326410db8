"""What people see and read: plotly figures (the one rule for percentage axes), arrays turned into pictures, click
targets on heatmaps, and words (plurals, a/an, numbers for people).

May import: mlp/, NumPy, plotly, PIL, the standard library. Never Streamlit, never another lab folder.
"""
