"""Shared presentation of the book's pages: compact tables."""

from __future__ import annotations

import numbers

import pandas as pd

from ..report import fmt

TABLE_FONT = "0.74em"
"""Font size of wide tables, so that they fit the content column (checked by the browser test)."""


def cell(value) -> str:
    """A table cell as text: floats with 3 significant digits, integers as integers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return str(value)
    if isinstance(value, numbers.Integral) or float(value).is_integer():
        return f"{int(value):,}" if abs(value) < 1e15 else fmt(value)
    return fmt(value)


def compact_table(df: pd.DataFrame, align: str = "right"):
    """``df`` styled for a page: numbers as :func:`cell`, small font, tight padding, no
    wrapping inside cells."""
    return df.style.format(cell).set_table_styles([
        {"selector": "", "props": [("font-size", TABLE_FONT)]},
        {"selector": "th", "props": [("text-align", "center"), ("padding", "2px 4px")]},
        {"selector": "td", "props": [("text-align", align), ("padding", "2px 4px"),
                                     ("white-space", "nowrap")]}])
