"""The figures' common style: colours, model markers and legends, and the helpers every
figure uses."""

from __future__ import annotations

from typing import Sequence

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

TEST_COLOR, TRAIN_COLOR = "tab:blue", "tab:red"          # preprint Fig. 9: test blue, train red
PRED_COLOR, TRUE_COLOR = "tab:blue", "tab:red"           # preprint Fig. 11: NN blue, truth red
JUMP_COLOR = "tab:green"                                 # preprint Fig. 4: jumps circled green
FIELD_CMAP, RES_CMAP = "viridis", "magma"


# ---------------------------------------------------------------- helpers
def panels(fig: Figure) -> list:
    """The axes of ``fig`` that are panels (colour bars and legend-only axes excluded)."""
    return [ax for ax in fig.axes if ax.get_label() not in ("<colorbar>", LEGEND_AXES)]


def mosaic(fields, ncols: int = 5, pad: int = 2) -> np.ndarray:
    """Tile (n, y, x) fields into one image, ``ncols`` per row, NaN gaps of ``pad`` pixels."""
    fields = np.asarray(fields, dtype=float)
    if fields.ndim == 2:
        fields = fields[None]
    n, ny, nx = fields.shape
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    out = np.full((nrows * (ny + pad) - pad, ncols * (nx + pad) - pad), np.nan)
    for k in range(n):
        r, c = divmod(k, ncols)
        out[r * (ny + pad):r * (ny + pad) + ny, c * (nx + pad):c * (nx + pad) + nx] = fields[k]
    return out


def _image(fig, ax, img, title, cmap=FIELD_CMAP, norm=None, vmin=None, vmax=None, label=None):
    """imshow without ticks, NaN shown white, with a colour bar."""
    cm = matplotlib.colormaps[cmap].with_extremes(bad="white")
    im = ax.imshow(img, cmap=cm, norm=norm, vmin=None if norm else vmin,
                   vmax=None if norm else vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    if label:
        cb.set_label(label, fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return im


def _mosaic_height(fields, ncols: int, width: float = 7.0) -> float:
    """Height in inches of one mosaic panel (with its title) drawn ``width`` inches wide."""
    n = 1 if np.ndim(fields) == 2 else np.shape(fields)[0]
    cols = max(1, min(ncols, n))
    return width / cols * -(-n // cols) + 0.4


def _models(ds: xr.Dataset) -> list[int]:
    return [int(m) for m in ds["model"].values]


FAMILIES = (("NN1 + NN2", "Blues"), ("NN2 only", "Oranges"), ("NN1 only", "Greens"))
"""The network families of Table 2 (p1, p2) and the colour map whose shades draw their models."""
LOSS_STYLE = {"MSE": "-", "MAE": "--"}
"""Line style of a model by its loss (Table 2)."""
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LEGEND_AXES = "<legend>"
"""The label of an empty grid cell that holds a figure's legend (not a panel)."""


def family(model: int) -> str:
    """A Table 2 model's network family: "NN1 + NN2", "NN2 only" or "NN1 only"."""
    from ...registry import spec

    s = spec(model)
    return "NN1 + NN2" if s.p1 and s.p2 else ("NN2 only" if s.p2 else "NN1 only")


def model_style(model: int) -> dict:
    """How every multi-model line figure draws a Table 2 model: colour from its family's colour
    map (:data:`FAMILIES`, a darker shade per model of the family), line style from its loss
    (:data:`LOSS_STYLE`), a marker of its own within the family."""
    from ...registry import MODELS, spec

    name = family(model)
    members = [m for m in MODELS if family(m) == name]
    k = members.index(model)
    cmap = matplotlib.colormaps[dict(FAMILIES)[name]]
    shade = 0.95 - 0.55 * k / max(1, len(members) - 1)
    return {"color": cmap(shade), "ls": LOSS_STYLE.get(spec(model).loss, "-"),
            "marker": MARKERS[k % len(MARKERS)]}


def model_legend(target, models: Sequence[int], fontsize: float = 9, **kwargs) -> None:
    """One legend (on ``target``, a figure or an axes) for ``models`` drawn with
    :func:`model_style`: a column per family, each headed by the family's name in bold, each
    entry "model (loss)"."""
    from matplotlib.lines import Line2D

    from ...registry import spec

    columns = []
    for name, _ in FAMILIES:
        ms = [m for m in models if family(m) == name]
        if ms:
            columns.append([(Line2D([], [], ls="none"), name)]
                           + [(Line2D([], [], ms=5, lw=1.4, **model_style(m)),
                               f"{m} ({spec(m).loss})") for m in ms])
    rows = max(map(len, columns))
    entries = [e for col in columns for e in (col + [(Line2D([], [], ls="none"), "")]
                                              * (rows - len(col)))]
    legend = target.legend(*zip(*entries), ncols=len(columns), fontsize=fontsize,
                           frameon=False, handlelength=2.4, columnspacing=1.0, **kwargs)
    for text in legend.get_texts():
        if text.get_text() in dict(FAMILIES):
            text.set_fontweight("bold")


def _grid(n: int, ncols: int) -> tuple[int, int]:
    ncols = max(1, min(ncols, n))
    return -(-n // ncols), ncols


def _maybe_log(ax, values, axis: str = "y", min_ratio: float = 5.0) -> None:
    """Log scale on ``axis`` when the finite values are positive and span more than
    ``min_ratio`` (a narrower range reads better on a linear scale)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size and v.min() > 0 and v.max() / v.min() > min_ratio:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")


def _sparse_log_labels(ax) -> None:
    """On the log axes of ``ax``: labels at 1, 2 and 5 per decade, written plainly (0.05, 0.1,
    0.2), none on the minor ticks (matplotlib labels the minor ticks of a short log axis, and
    they overlap)."""
    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale == "log":
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=12))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())


