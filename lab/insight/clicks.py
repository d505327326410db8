"""What a click on a chart chooses: on_select callbacks for the charts built with lab.plots.picking's targets."""
from __future__ import annotations

from ..plots import picking
from ..session import state
from ..session.state import Key

CONFUSION = "confusion"       # chart keys
WEIGHT_GRID = "weight_grid"

state.register({Key.UNIT: 0, Key.CELL_TRUE: 0, Key.CELL_PREDICTED: 0})   # the widgets these clicks choose in


@state.callback
def choose_cell() -> None:
    """A click on a confusion-matrix cell: look inside it (true digit, predicted digit)."""
    cell = picking.picked(state.widget_value(CONFUSION))
    if cell is not None:
        state.choose(Key.CELL_TRUE, int(cell[0]))
        state.choose(Key.CELL_PREDICTED, int(cell[1]))


@state.callback
def choose_unit() -> None:
    """A click on a tile of the W1 grid: that hidden unit."""
    unit = picking.picked(state.widget_value(WEIGHT_GRID))
    if unit is not None:
        state.choose(Key.UNIT, int(unit))
