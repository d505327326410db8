"""Click a cell of a heatmap to choose it.

Plotly cannot select heatmap cells (a heatmap trace has no selectable points), so a chart that
should answer clicks gets an invisible scatter trace with one point per cell: Streamlit's
`on_select` reports the point clicked, and its customdata says which cell it was.  With
`hoverdistance=-1` the nearest point answers wherever in its cell the click lands.
"""
from __future__ import annotations

from typing import Any

import numpy as np

SELECTION = ("points",)   # st.plotly_chart(..., on_select=callback, selection_mode=SELECTION)


def targets(x, y, customdata, hovertemplate: str) -> dict:
    """An invisible scatter trace over cells centred at (x, y), carrying each cell's customdata."""
    hidden = dict(marker=dict(opacity=0))
    return dict(type="scatter", x=list(x), y=list(y), customdata=np.asarray(customdata).tolist(), mode="markers",
                marker=dict(size=12, opacity=0, symbol="square"), selected=hidden, unselected=hidden,
                hovertemplate=hovertemplate, showlegend=False, name="")


CLICKABLE = dict(hovermode="closest", hoverdistance=-1, clickmode="event+select")   # layout for such figures


def picked(selection: Any) -> Any | None:
    """The customdata of the point a click chose, from a chart's selection state, or None.

    `selection` is what Streamlit keeps under the chart's key: {"selection": {"points": [...]}}.
    """
    try:
        points = selection["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points:
        if "customdata" in point:
            return point["customdata"]
    return None
