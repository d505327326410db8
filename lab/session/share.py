"""Settings in the address bar, so a link reproduces them (like TensorFlow Playground).

`parse` turns query parameters into settings, each checked against its limits;
a value that is missing keeps the current one, a bad one is dropped with a
note saying why, never an error; the note quotes the value as plain text (pages show
notes as Markdown, and a link is anyone's to write).  `encode` is the way back.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple

from ..plots import words


class Field(NamedTuple):
    name: str           # the query parameter
    kind: type          # int, float or str
    low: Any = None     # inclusive bounds for numbers
    high: Any = None
    choices: tuple = ()  # the allowed values (str), or the numbers offered (a number snaps to one of them)


def parse(params: Mapping[str, str], fields: list[Field]) -> tuple[dict[str, Any], list[str]]:
    """({name: value} for the good parameters, [notes on the ones ignored])."""
    values, notes = {}, []
    for field in fields:
        raw = params.get(field.name)
        if isinstance(raw, (list, tuple)):   # a parameter given twice: the last one counts
            raw = raw[-1] if raw else None
        if raw is None:
            continue
        raw = str(raw).strip()[:40]
        try:
            value = _convert(raw, field)
        except ValueError as e:
            notes.append(f"{field.name}='{words.plain(raw)}' ignored: {e}")   # the raw value is a stranger's text
            continue
        values[field.name] = value
    return values, notes


def encode(values: Mapping[str, Any], fields: list[Field]) -> dict[str, str]:
    """The query parameters for `values` (only the named fields)."""
    return {f.name: format(values[f.name], "g") if f.kind is float else str(values[f.name])
            for f in fields if f.name in values}


def _convert(raw: str, field: Field):
    if field.kind is str:
        if raw.strip().lower() not in field.choices:
            raise ValueError(f"expected one of {', '.join(field.choices)}")
        return raw.strip().lower()
    try:
        number = float(raw)
    except ValueError:
        raise ValueError("not a number") from None
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    if field.choices:
        for offered in field.choices:
            if math.isclose(number, offered, rel_tol=1e-6):
                return offered
        raise ValueError(f"expected one of {', '.join(words.number(c) for c in field.choices)}")
    if field.kind is int:
        if number != int(number):
            raise ValueError("not a whole number")
        number = int(number)
    if not field.low <= number <= field.high:
        raise ValueError(f"outside {words.number(field.low)}…{words.number(field.high)}")
    return number
