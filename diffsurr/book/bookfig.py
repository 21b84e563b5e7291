"""Numbered, cross-referencable figures for the book's pages (myst-nb ``glue``).

A page's code cell glues the figure and its caption::

    bookfig.glue_figure("fig-loss", plots.fig4_loss(...), report.caption("4", ...))

and the Markdown after the cell places them as a numbered figure, which the text can cite with
``{numref}`fig-loss```::

    ```{glue:figure} fig-loss
    :name: fig-loss

    {glue:md}`fig-loss-caption`
    ```

The caption is :func:`diffsurr.book.report.caption`'s text with its "**Figure 5** (reproduces
preprint Fig. 5)." lead moved to the end as "(Reproduces preprint Fig. 5.)": the book numbers
its own figures.
"""

from __future__ import annotations

import re

from .report import figure_png

CONTENT_PX = 672
"""Width in CSS pixels at which the book's theme shows a figure (its content column at a
1280-pixel window, measured in Chromium)."""
MIN_PT = 9.0
"""Smallest text size, in points as shown on the page, that a book figure may use."""
DPI = 110
"""The resolution :func:`glue_figure` renders figures at."""


def shown_pt(fig, size: float, dpi: int = DPI) -> float:
    """Text of ``size`` points in ``fig`` as large as it is shown on the page: a figure wider
    than the content column (:data:`CONTENT_PX`) is scaled down to it (96 CSS px per inch,
    72 pt per inch)."""
    native_px = fig.get_figwidth() * dpi
    return size * dpi / 72 * min(1.0, CONTENT_PX / native_px) * 72 / 96


def small_text(fig, minimum: float = MIN_PT, dpi: int = DPI) -> list[tuple[str, float]]:
    """(text, shown size in pt) of every visible, non-empty text of ``fig`` (labels, ticks,
    legends, annotations) shown smaller than ``minimum`` points on the page."""
    from matplotlib.text import Text

    fig.canvas.draw()
    out = []
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip() and t.get_figure() is fig:
            size = shown_pt(fig, t.get_fontsize(), dpi)
            if size < minimum - 1e-6:
                out.append((t.get_text(), round(size, 2)))
    return out


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


def glue_figure(name: str, fig, caption_md: str, dpi: int = DPI) -> None:
    """Glue ``fig`` (a matplotlib Figure, as PNG) under ``name`` and its caption under
    ``name + "-caption"``, without displaying them (the page places them)."""
    from IPython.display import Image, Markdown
    from myst_nb import glue

    glue(name, Image(data=figure_png(fig, dpi)), display=False)
    glue(f"{name}-caption", Markdown(book_caption(caption_md)), display=False)
