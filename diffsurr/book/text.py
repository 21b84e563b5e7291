"""Shared presentation of the book's pages: compact tables."""

from __future__ import annotations

import pandas as pd

TABLE_FONT = "0.74em"
"""Font size of wide tables, so that they fit the content column (checked by the browser test)."""


def compact_table(df: pd.DataFrame, align: str = "right"):
    """``df`` styled for a page: small font, tight padding, no wrapping inside cells."""
    return df.style.set_table_styles([
        {"selector": "", "props": [("font-size", TABLE_FONT)]},
        {"selector": "th", "props": [("text-align", "center"), ("padding", "2px 4px")]},
        {"selector": "td", "props": [("text-align", align), ("padding", "2px 4px"),
                                     ("white-space", "nowrap")]}])
