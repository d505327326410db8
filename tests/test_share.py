"""lab.session.share: settings read from a link's query, a bad value noted and never raised, and written back."""
from __future__ import annotations

from lab.session import share

FIELDS = [share.Field("lr", float, 1e-6, 100.0), share.Field("epochs", int, 1, 1000),
          share.Field("data", str, choices=("xor", "moons"))]


def test_good_query_values_are_taken_and_bad_ones_noted_not_raised():
    values, notes = share.parse({"lr": "0.05", "epochs": "200", "data": "moons"}, FIELDS)
    assert values == {"lr": 0.05, "epochs": 200, "data": "moons"} and notes == []
    values, notes = share.parse({"lr": "nan", "epochs": "2.5", "data": "<script>", "other": "1"}, FIELDS)
    assert values == {}
    assert len(notes) == 3 and "finite" in notes[0] and "whole" in notes[1] and "one of" in notes[2]
    values, notes = share.parse({"lr": "500", "epochs": "0"}, FIELDS)
    assert values == {} and all("outside" in n for n in notes)


def test_encoded_settings_parse_back_to_themselves():
    values = {"lr": 0.0123, "epochs": 7, "data": "xor"}
    assert share.parse(share.encode(values, FIELDS), FIELDS) == (values, [])
