"""Shared presentation of the book's pages: compact tables, and what a page shows in place of
a figure, table or sentence whose models are not evaluated yet (a study under way)."""

from __future__ import annotations

import functools
import numbers
import re

import pandas as pd

from . import plots
from .report import fmt

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


def show_table(df: pd.DataFrame, align: str = "right") -> None:
    """Display ``df`` as :func:`compact_table`, or nothing when it is empty (the page's text
    then says why)."""
    from IPython.display import display

    if not df.empty:
        display(compact_table(df, align))


def models_text(models, join: str = "and") -> str:
    """"1, 2 and 3" (or "none"; ``join`` "or": "1, 2 or 3"); also for other items."""
    names = [str(m) for m in models]
    if not names:
        return "none"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" {join} " + names[-1]


def missing_note(models, profile_name: str | None = None, join: str = "and") -> str:
    """The sentence shown in place of what needs ``models`` (all of them, or with ``join``
    "or" any one) while they are not evaluated."""
    names = [str(m) for m in models]
    which = models_text(names, join)
    where = f" in `results/{profile_name}/`" if profile_name else ""
    return (f"*Not shown yet: it needs model{'s' if len(names) > 1 and join == 'and' else ''} "
            f"{which}, not yet evaluated{where} (this study is still under way).*")


def missing_figure(models, profile_name: str | None = None):
    """A placeholder figure and, as its caption, :func:`missing_note`."""
    return plots.placeholder("Not drawn yet: see the caption."), missing_note(models, profile_name)


def needs(*models: int, kind: str = "text"):
    """Decorate a chapter function whose first argument is an evaluations Dataset (``model``
    dim) and which shows ``models``: where some are not in it, the function is not called
    and returns :func:`missing_note` as its ``kind`` of output: "text" (a string),
    "figure" (a placeholder figure and the note as caption) or "table" (a one-cell table)."""
    if kind not in ("text", "figure", "table"):
        raise ValueError(f"kind must be text, figure or table, got {kind!r}")

    def wrap(func):
        @functools.wraps(func)
        def inner(evals, *args, **kwargs):
            have = {int(m) for m in evals["model"].values}
            lacking = [m for m in models if m not in have]
            if not lacking:
                return func(evals, *args, **kwargs)
            name = evals.attrs.get("profile_name")
            note = missing_note(lacking, name)
            if kind == "figure":
                return missing_figure(lacking, name)
            if kind == "table":
                return pd.DataFrame({"": [note.strip("*")]}).style.hide(axis="index")
            return note
        return inner
    return wrap


FIGURE_NUMBER = re.compile(r"\b(?:Fig|Figure)s?\.?\s+\d+")
"""A figure number written out ("Fig. 5", "Figs. 5–7"); tables are the preprint's Tables 1
and 2 (Sphinx numbers the book's figures only)."""
PREPRINT_REF = re.compile(r"(?:preprint(?:'s)?|its|preprint=[\"'])\s*$")
"""What must come right before a written-out figure number: the preprint's (or "its", in a
sentence about the preprint), whose numbering it is."""


def loose_figure_numbers(text: str) -> list[str]:
    """The written-out figure numbers in ``text`` not said to be the preprint's: the book
    numbers its own figures (Sphinx's "Fig. N" and ``{numref}``), so a bare "Fig. 5" in a
    heading, caption or sentence would name another figure than the book's Fig. 5."""
    out = []
    for m in FIGURE_NUMBER.finditer(text):
        if not PREPRINT_REF.search(text[max(0, m.start() - 40):m.start()]):
            out.append(m.group(0))
    return out
