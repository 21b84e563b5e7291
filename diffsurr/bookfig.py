"""Numbered, cross-referencable figures for the book's pages (myst-nb ``glue``).

A page's code cell glues the figure and its caption::

    bookfig.glue_figure("fig-loss", plots.fig4_loss(...), report.caption("4", ...))

and the Markdown after the cell places them as a numbered figure, which the text can cite with
``{numref}`fig-loss```::

    ```{glue:figure} fig-loss
    :name: fig-loss

    {glue:md}`fig-loss-caption`
    ```

The caption is :func:`diffsurr.report.caption`'s text with its "**Figure 5** (reproduces
preprint Fig. 5)." lead moved to the end as "(Reproduces preprint Fig. 5.)": the book numbers
its own figures.
"""

from __future__ import annotations

import re

from .report import figure_png

_LEAD = re.compile(r"\s*\*\*(?:Figure|Table)\s+[^*]*\*\*\s*(?:\(([^)]*)\)\.?)?\s*", re.S)


def book_caption(caption_md: str) -> str:
    """``caption_md`` without its bold "**Figure X**" label; "(reproduces preprint …)" goes to
    the end of the caption."""
    m = _LEAD.match(caption_md)
    if not m:
        return caption_md.strip()
    rest = caption_md[m.end():].strip()
    ref = (m.group(1) or "").strip()
    if ref:
        rest += f" ({ref[0].upper()}{ref[1:]}.)"
    return rest


def glue_figure(name: str, fig, caption_md: str, dpi: int = 110) -> None:
    """Glue ``fig`` (a matplotlib Figure, as PNG) under ``name`` and its caption under
    ``name + "-caption"``, without displaying them (the page places them)."""
    from IPython.display import Image, Markdown
    from myst_nb import glue

    glue(name, Image(data=figure_png(fig, dpi)), display=False)
    glue(f"{name}-caption", Markdown(book_caption(caption_md)), display=False)
