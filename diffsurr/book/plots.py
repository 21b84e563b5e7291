"""Every figure of the book, as a function of result datasets that returns a matplotlib Figure.

No file I/O and no computation of results here: the functions take what
:mod:`diffsurr.results` loads (``eval.nc``/``history.nc`` with a ``model`` dim) or arrays a page
computed, and only reshape them for drawing. Figures are built with
:class:`matplotlib.figure.Figure` (not pyplot), so nothing is shown or kept open by accident;
:func:`diffsurr.book.bookfig.glue_figure` renders them.

Preprint figures: Fig. 1 (:func:`fig1_problem`), Fig. 4 (:func:`fig4_loss`), Fig. 5
(:func:`fig5_samples`), Fig. 6a–c (:func:`fig6_fields`), Fig. 6d (:func:`fig6d_residuals`),
Fig. 7 (:func:`fig7_parts`), Fig. 8 (:func:`fig8_hist2d`), Fig. 9 (:func:`fig9_slices`, its
symmetric-log axis :func:`fig9_linthresh`),
Fig. 10 (:func:`fig10_slice_summary`), Fig. 11 (:func:`fig11_field_pdfs`), Figs. S1–S12
(:func:`supplement_slice_pdfs`, their bins :func:`supplement_edges`, :func:`has_slice_bins`). Beyond the preprint: :func:`source_modes`,
:func:`solver_agreement`, :func:`timestep_convergence`, :func:`single_disk`,
:func:`rollback_counts`, :func:`alive_fractions`, :func:`seed_spread` (error bars over training
seeds), :func:`generalisation_examples`, :func:`generalisation_ratios` (other source
layouts), :func:`metrics_overview` (metrics beyond the preprint), :func:`payoff_map` and
:func:`matched_cost` (the pay-off chapter).

:func:`panels` lists a figure's axes without its colour bars (what tests count).
"""

from __future__ import annotations

import textwrap

from typing import Mapping, Sequence

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import (FormatStrFormatter, FuncFormatter, LogLocator, MaxNLocator,
                               NullFormatter)

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
    from ..registry import spec

    s = spec(model)
    return "NN1 + NN2" if s.p1 and s.p2 else ("NN2 only" if s.p2 else "NN1 only")


def model_style(model: int) -> dict:
    """How every multi-model line figure draws a Table 2 model: colour from its family's colour
    map (:data:`FAMILIES`, a darker shade per model of the family), line style from its loss
    (:data:`LOSS_STYLE`), a marker of its own within the family."""
    from ..registry import MODELS, spec

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

    from ..registry import spec

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


# ---------------------------------------------------------------- problem page
def placeholder(text: str) -> Figure:
    """A small empty figure that says, in ``text``, why the figure it stands for is missing."""
    fig = Figure(figsize=(7.0, 0.8))
    fig.text(0.5, 0.5, textwrap.fill(text, 100), ha="center", va="center", fontsize=9,
             style="italic")
    return fig


def fig1_problem(x, u) -> Figure:
    """Preprint Fig. 1: a) an input (two sources) and b) its steady state. 2 panels."""
    fig = Figure(figsize=(8.2, 3.6), layout="constrained")
    ax = fig.subplots(1, 2)
    _image(fig, ax[0], np.asarray(x), "a) input $|x\\rangle$ (sources)", vmin=0, vmax=1)
    _image(fig, ax[1], np.asarray(u), "b) steady state $|y\\rangle$ (target)", vmin=0, vmax=1)
    return fig


def source_modes(x, clamped, production, row: int | None = None) -> Figure:
    """The two readings of a source for one input: a) input, b) clamped field (preprint text),
    c) production field (authors' code, normalised to max 1), d) both along one row. 4 panels."""
    x, clamped, production = (np.asarray(a, dtype=float) for a in (x, clamped, production))
    if row is None:
        row = int(np.unravel_index(np.argmax(x), x.shape)[0])
    fig = Figure(figsize=(8, 6.6), layout="constrained")
    ax = fig.subplots(2, 2).ravel()
    _image(fig, ax[0], x, "a) input", vmin=0, vmax=1)
    _image(fig, ax[1], clamped, "b) clamped (default)", vmin=0, vmax=1)
    _image(fig, ax[2], production, "c) production (authors' code)", vmin=0, vmax=1)
    for a in ax[:3]:
        a.axhline(row, color="w", lw=0.8, ls="--")
    cols = np.arange(x.shape[1])
    ax[3].plot(cols, x[row], color="0.6", lw=1, label="input")
    ax[3].plot(cols, clamped[row], lw=1.5, label="clamped")
    ax[3].plot(cols, production[row], lw=1.5, ls="--", label="production")
    ax[3].set(xlabel="column", ylabel="field", title=f"d) row {row}", ylim=(-0.02, 1.05))
    ax[3].legend(fontsize=8, frameon=False)
    return fig


def solver_agreement(diffs: Mapping[str, Sequence[float]]) -> Figure:
    """Max |fast − sparse| per sample for each source mode (log scale). 1 panel."""
    fig = Figure(figsize=(5.2, 3.4), layout="constrained")
    ax = fig.subplots()
    markers = iter("os^vD")
    for name, d in diffs.items():
        d = np.asarray(d, dtype=float)
        ax.semilogy(np.arange(1, d.size + 1), np.maximum(d, 1e-18), next(markers, "o"),
                    ls="none", label=name)
    ax.set(xlabel="sample", ylabel="max |fast − sparse|", title="fast vs sparse solver")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return fig


def timestep_convergence(t, err, t_mark: float | None = 3000.0) -> Figure:
    """Max |u(t) − u_exact| of explicit time stepping vs simulated time (log y). 1 panel.
    ``t_mark`` draws a vertical line (the authors' code integrated to t = 3000)."""
    fig = Figure(figsize=(5.6, 3.4), layout="constrained")
    ax = fig.subplots()
    ax.semilogy(np.asarray(t, float), np.asarray(err, float), "o-", ms=4)
    if t_mark is not None:
        ax.axvline(t_mark, color="0.5", ls="--", lw=1)
        ax.text(t_mark, ax.get_ylim()[1], f" t = {t_mark:g}", va="top", fontsize=8, color="0.3")
    ax.set(xlabel="simulated time t", ylabel="max |u(t) − u_exact|",
           title="time stepping → exact steady state")
    ax.grid(alpha=0.3)
    return fig


def single_disk(r, u, r_curve, u_curve, r_err=None, rel_err=None,
                r_eff: float | None = None) -> Figure:
    """One clamped disk: a) lattice field vs distance r (dots) and the continuum
    c·K0(r/l_D)/K0(R/l_D) (line); with ``rel_err`` (at distances ``r_err``, default ``r``)
    b) the relative deviation. 1 or 2 panels."""
    n = 2 if rel_err is not None else 1
    fig = Figure(figsize=(4.2 * n, 3.2), layout="constrained")
    ax = np.atleast_1d(fig.subplots(1, n))
    ax[0].semilogy(np.asarray(r).ravel(), np.asarray(u).ravel(), ".", ms=1.5, color="0.4",
                   label="lattice solution (pixels)")
    lab = "continuum K0" + (f", R = {r_eff:.2f}" if r_eff is not None else "")
    ax[0].semilogy(r_curve, u_curve, "-", color="tab:red", lw=1.5, label=lab)
    ax[0].set(xlabel="distance r from the disk centre", ylabel="u", title="a) field vs r")
    ax[0].legend(fontsize=8, frameon=False)
    ax[0].grid(alpha=0.3)
    if rel_err is not None:
        r_err = r if r_err is None else r_err
        ax[1].plot(np.asarray(r_err).ravel(), 100 * np.asarray(rel_err).ravel(), ".", ms=1.5,
                   color="0.4")
        ax[1].set(xlabel="distance r from the disk centre", ylabel="u / continuum − 1 (%)",
                  title="b) relative deviation")
        ax[1].grid(alpha=0.3)
    return fig


# ---------------------------------------------------------------- training page
def fig4_loss(hist_none: xr.Dataset, hist_rb: xr.Dataset, jumps_none=None,
              model: int | None = None) -> Figure:
    """Preprint Fig. 4: training loss vs epoch a) without and b) with roll-back. 2 panels.

    Lines follow the final trajectory (``kept == 1``); epochs rejected as jumps
    (``accepted == 0``) are circled in green, accepted epochs later undone by a roll-back are
    grey. ``jumps_none`` (boolean per step of ``hist_none``) circles the epochs of run a) that
    the roll-back rule would have rejected. ``hist_none`` None (no such run): panel b) only.
    """
    runs = ((hist_none, "a) without roll-back", jumps_none), (hist_rb, "b) with roll-back", None))
    runs = [r for r in runs if r[0] is not None]
    if len(runs) == 1:
        runs = [(hist_rb, "with roll-back", None)]
    fig = Figure(figsize=(4.1 * len(runs), 3.6), layout="constrained")
    ax = np.atleast_1d(fig.subplots(1, len(runs), sharey=True))
    for a, (h, title, marks) in zip(ax, runs):
        epoch = h["epoch"].values
        loss = h["train_loss"].values
        accepted = h["accepted"].values.astype(bool)
        kept = h["kept"].values.astype(bool)
        order = np.argsort(epoch[kept], kind="stable")
        a.semilogy(epoch[kept][order], loss[kept][order], "-", color="tab:blue", lw=1.2,
                   label="training loss (kept)")
        undone = accepted & ~kept
        if undone.any():
            a.semilogy(epoch[undone], loss[undone], ".", color="0.6", ms=4,
                       label="undone by a roll-back")
        jumps = ~accepted if marks is None else np.asarray(marks, bool)
        if jumps.any():
            a.semilogy(epoch[jumps], loss[jumps], "o", mfc="none", mec=JUMP_COLOR, ms=9,
                       mew=1.5, label="jump" + (" (rejected)" if marks is None else
                                                " (rule would reject)"))
        if "val_loss" in h:
            a.semilogy(epoch[kept][order], h["val_loss"].values[kept][order], "--",
                       color="tab:orange", lw=1, label="validation loss")
        a.set(xlabel="epoch", title=title + (f", model {model}" if model else ""))
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.grid(alpha=0.3)
        a.legend(fontsize=8, frameon=False)
    ax[0].set_ylabel("loss (Eq. 2)")
    return fig


def rollback_counts(histories: xr.Dataset, typical: float | None = 40) -> Figure:
    """Number of roll-backs per model (bar chart); ``typical`` draws the preprint's "≈ 40".
    1 panel."""
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.subplots()
    models = _models(histories)
    counts = histories["n_rollbacks"].values
    colors = [TEST_COLOR if str(loss) == "MAE" else "tab:purple"
              for loss in histories["loss"].values] if "loss" in histories else None
    ax.bar(models, counts, color=colors)
    if typical is not None:
        ax.axhline(typical, color="0.4", ls="--", lw=1)
        ax.text(models[-1] + 0.5, typical, f"preprint: typical ≈ {typical:g}", fontsize=9,
                va="bottom", ha="right", color="0.3")
    if len(counts) and not np.nansum(counts):
        ax.text(0.5, 0.45, "no run was rolled back: every count is 0", fontsize=10,
                ha="center", va="center", transform=ax.transAxes, color="0.2")
    ax.set(xlabel="model (Table 2)", ylabel="roll-backs", xticks=models,
           title="roll-backs per training run (purple: MSE, blue: MAE)")
    ax.grid(alpha=0.3, axis="y")
    return fig


def alive_fractions(histories: xr.Dataset) -> Figure:
    """Fraction of positive pre-activation outputs of NN2's (a) and NN1's (b) last layer,
    per attempted epoch, one line per model. 2 panels."""
    fig = Figure(figsize=(7.0, 5.2), layout="constrained")
    ax = fig.subplots(1, 2, sharey=True)
    for a, var, title in ((ax[0], "alive_nn2", "a) NN2 output head"),
                          (ax[1], "alive_nn1", "b) NN1 last layer")):
        for m in _models(histories):
            y = histories[var].sel(model=m).values
            if np.all(np.isnan(y)):
                continue
            a.plot(np.arange(1, y.size + 1), y, lw=1.4, ms=4, label=str(m), **model_style(m))
        a.set_xlabel("attempted epoch (incl. rejected)", fontsize=9.5)
        a.set_title(title, fontsize=10)
        a.set_ylim(-0.03, 1.03)
        a.tick_params(labelsize=9.5)
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.grid(alpha=0.3)
    ax[0].set_ylabel("fraction of outputs > 0 before ReLU", fontsize=9.5)
    model_legend(fig, _models(histories), loc="outside lower center")
    return fig


# ---------------------------------------------------------------- results page
def fig5_samples(inputs, targets, preds, ncols: int = 10) -> Figure:
    """Preprint Fig. 5: a) inputs, b) targets, c) predictions of the same test samples, each a
    mosaic of ``ncols`` columns, one above the other. 3 panels."""
    fig = Figure(figsize=(8, 3 * _mosaic_height(inputs, ncols)), layout="constrained")
    ax = fig.subplots(3, 1)
    for a, arr, title in zip(ax, (inputs, targets, preds),
                             ("a) input", "b) ground truth", "c) prediction")):
        _image(fig, a, mosaic(arr, ncols), title, vmin=0, vmax=1)
    return fig


def fig6_fields(truth, residual, relative, ncols: int = 10, rel_floor: float = 1e-3) -> Figure:
    """Preprint Fig. 6a–c: a) truth, b) residual |y − ŷ|, c) relative residual |y − ŷ|/(y + ε)
    (log colour, floor ``rel_floor``), one above the other. 3 panels."""
    fig = Figure(figsize=(8, 3 * _mosaic_height(truth, ncols)), layout="constrained")
    ax = fig.subplots(3, 1)
    _image(fig, ax[0], mosaic(truth, ncols), "a) ground truth", vmin=0, vmax=1)
    _image(fig, ax[1], mosaic(residual, ncols), "b) residual $|y-\\hat y|$", cmap=RES_CMAP,
           vmin=0)
    rel = np.asarray(relative, float)
    finite = rel[np.isfinite(rel)]
    top = max(float(finite.max()) if finite.size else 1.0, rel_floor * 10)
    _image(fig, ax[2], mosaic(np.clip(rel, rel_floor, None), ncols),
           "c) relative residual $|y-\\hat y|/(y+10^{-5})$", cmap=RES_CMAP,
           norm=LogNorm(rel_floor, top))
    return fig


def fig6d_residuals(evals: xr.Dataset, paper: xr.Dataset | None = None,
                    set_name: str = "test") -> Figure:
    """Preprint Fig. 6d: mean, 99th-percentile and maximum residual per model (log scale);
    ``paper`` (``registry.table2_frame()``) adds the preprint's values as open markers. 1 panel."""
    fig = Figure(figsize=(7.5, 3.8), layout="constrained")
    ax = fig.subplots()
    models = _models(evals)
    ds = evals.sel(set=set_name) if "set" in evals.dims else evals
    for var, pvar, color, label in (("mean_res", "paper_mean_res", "tab:blue", "mean"),
                                    ("p99_res", "paper_p99_res", "tab:orange", "99th percentile"),
                                    ("max_res", "paper_max_res", "tab:red", "max")):
        ax.semilogy(models, ds[var].values, "o-", color=color, label=f"{label} (ours)")
        if paper is not None:
            ax.semilogy(models, paper[pvar].sel(model=models).values, "s:", mfc="none",
                        color=color, alpha=0.7, label=f"{label} (preprint)")
    ax.set(xlabel="model (Table 2)", ylabel="residual |y − ŷ|", xticks=models,
           title=f"residuals over the {set_name} set")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncols=3 if paper is None else 2, frameon=False, loc="upper center",
              bbox_to_anchor=(0.5, -0.16))
    return fig


def fig7_parts(nn1, nn2, titles: Sequence[str] = ("a) NN1 only", "b) NN2 only"),
               ncols: int = 10) -> Figure:
    """Preprint Fig. 7: a) NN1-only prediction, b) NN2-only prediction, each with its own colour
    scale (the preprint: "note the different scale"), one above the other. 2 panels."""
    fig = Figure(figsize=(8, 2 * _mosaic_height(nn1, ncols)), layout="constrained")
    ax = fig.subplots(2, 1)
    for a, arr, title in zip(ax, (nn1, nn2), titles):
        _image(fig, a, mosaic(arr, ncols), title)
    return fig


def fig8_hist2d(evals: xr.Dataset, models: Sequence[int] = (9, 11)) -> Figure:
    """Preprint Fig. 8: prediction vs truth as 2-D histograms (log colour), test and training
    set for each of ``models``: panels a) m1 test, b) m1 train, c) m2 test, d) m2 train."""
    fig = Figure(figsize=(7.6, 3.4 * len(models)), layout="constrained")
    ax = np.atleast_1d(fig.subplots(len(models), 2)).ravel()
    t, p = evals["true"].values, evals["pred"].values
    extent = (t[0] - (t[1] - t[0]) / 2, t[-1] + (t[1] - t[0]) / 2,
              p[0] - (p[1] - p[0]) / 2, p[-1] + (p[1] - p[0]) / 2)
    letters = iter("abcdefghij")
    for i, m in enumerate(models):
        for j, (var, name) in enumerate((("hist2d_test", "test"), ("hist2d_train", "train"))):
            a = ax[2 * i + j]
            h = evals[var].sel(model=m).transpose("pred", "true").values.astype(float)
            h[h == 0] = np.nan
            cm = matplotlib.colormaps["viridis"].with_extremes(bad="white")
            top = np.nanmax(h) if np.isfinite(h).any() else 1.0
            im = a.imshow(h, origin="lower", extent=extent, cmap=cm, norm=LogNorm(1, max(top, 10)),
                          aspect="equal", interpolation="nearest")
            a.plot([0, 1.1], [0, 1.1], color="0.3", lw=0.6, ls="--")
            a.set(xlabel="ground truth y", title=f"{next(letters)}) model {m}, {name} set")
            if j == 0:
                a.set_ylabel("prediction ŷ")
            cb = fig.colorbar(im, ax=a, fraction=0.046, pad=0.02)
            cb.ax.tick_params(labelsize=7)
            if j == 1:
                cb.set_label("pixels per bin", fontsize=8)
    return fig


def fig9_linthresh(evals: xr.Dataset, stat: str = "mean_xprime", quantile: float = 0.25) -> float:
    """Linear half-width of Fig. 9's symmetric-log axis: the ``quantile`` of the non-zero
    |per-slice means| over all panels, so that the smaller means are drawn linearly and the
    larger means and the envelope logarithmically (1e-3 when there are none)."""
    v = np.abs(evals[stat].values)
    v = v[np.isfinite(v) & (v > 0)]
    return float(np.quantile(v, quantile)) if v.size else 1e-3


def fig9_slices(evals: xr.Dataset, stat: str = "mean_xprime", ncols: int = 4) -> Figure:
    """Preprint Fig. 9: per slice (10 slices of 0.1 along y = ŷ) the mean residual (points) ±
    the standard deviation of x' (envelope), test (blue) and training (red) set, one panel per
    model. ``stat``: ``mean_xprime`` (signed x' = (ŷ − y)/√2, default) or ``mean_abs_res``
    (|ŷ − y|). The means are much smaller than the envelope, so the vertical axis is
    symmetric-logarithmic, linear within ± :func:`fig9_linthresh`."""
    models = _models(evals)
    nrows, ncols = _grid(len(models), ncols)
    fig = Figure(figsize=(2.1 * ncols, 1.9 * nrows + 0.5), layout="constrained")
    ax = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True)).ravel()
    s = evals["slice"].values
    lin = fig9_linthresh(evals, stat)
    for a, m in zip(ax, models):
        for set_name, color in (("test", TEST_COLOR), ("train", TRAIN_COLOR)):
            d = evals.sel(model=m, set=set_name)
            mean, std = d[stat].values, d["std_xprime"].values
            a.fill_between(s, mean - std, mean + std, color=color, alpha=0.2, lw=0)
            a.plot(s, mean, "o-", color=color, ms=3, lw=1, label=set_name)
        a.axhline(0, color="0.5", lw=0.5)
        a.axhspan(-lin, lin, color="0.85", alpha=0.4, lw=0)
        a.set_yscale("symlog", linthresh=lin, linscale=1.0)
        a.set_xticks(s[::3] if s.size > 6 else s)
        a.set_title(f"model {m}", fontsize=9)
        a.tick_params(labelsize=7)
        a.grid(alpha=0.3)
    for a in ax[len(models):]:
        a.remove()
    ax[0].legend(fontsize=7, frameon=False)
    ylabel = "mean x' ± std" if stat == "mean_xprime" else "mean |ŷ−y| ± std x'"
    fig.supxlabel("slice i (field values in [0.1(i−1), 0.1 i])", fontsize=9)
    fig.supylabel(f"{ylabel} (symmetric log; linear in the grey band ±{lin:.2g})", fontsize=9)
    return fig


def fig10_slice_summary(evals: xr.Dataset, mean_stat: str = "mean_abs_res") -> Figure:
    """Preprint Fig. 10: a) average and maximum over slices of the per-slice mean residual
    (``mean_stat``: ``mean_abs_res`` = mean |ŷ − y| by default, or ``mean_xprime``),
    b) of the per-slice standard deviation of x'; test and training set. 2 panels."""
    fig = Figure(figsize=(8, 6.4), layout="constrained")
    ax = fig.subplots(2, 1, sharex=True)
    models = _models(evals)
    for a, stat, title in ((ax[0], mean_stat, "a) per-slice mean residual"),
                           (ax[1], "std_xprime", "b) per-slice std of x'")):
        for set_name, color in (("test", TEST_COLOR), ("train", TRAIN_COLOR)):
            d = evals.sel(set=set_name)
            a.plot(models, d[f"{stat}_avg"].values, "o-", color=color, ms=4,
                   label=f"average, {set_name}")
            a.plot(models, d[f"{stat}_max"].values, "^--", color=color, ms=4, mfc="none",
                   label=f"maximum, {set_name}")
        a.set(xlabel="model (Table 2)", title=title, xticks=models)
        if stat != "mean_xprime":
            a.set_yscale("log")
        a.grid(alpha=0.3)
        a.legend(fontsize=7, ncols=2, frameon=False)
    ax[0].set_ylabel("mean |ŷ − y| over a slice" if mean_stat == "mean_abs_res"
                     else "mean x' over a slice")
    ax[1].set_ylabel("std of x' over a slice")
    return fig


def fig11_field_pdfs(evals: xr.Dataset, models: Sequence[int] = (2, 3, 11, 12),
                     log: bool = True) -> Figure:
    """Preprint Fig. 11: PDF of the field values, prediction (blue) vs truth (red), one panel per
    model (the preprint: MSE models 2, 3 and MAE models 11, 12)."""
    n = len(models)
    nrows, ncols = _grid(n, 2)
    fig = Figure(figsize=(3.9 * ncols, 3.0 * nrows), layout="constrained")
    ax = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, sharex=True)).ravel()
    for a in ax[n:]:
        a.remove()
    v = evals["value"].values
    w = float(np.diff(v).mean())
    edges = np.concatenate([v - w / 2, [v[-1] + w / 2]])
    for i, (a, m) in enumerate(zip(ax, models)):
        d = evals.sel(model=m)
        a.stairs(d["pdf_true"].values, edges, color=TRUE_COLOR, lw=1.5, label="ground truth")
        a.stairs(d["pdf_pred"].values, edges, color=PRED_COLOR, lw=1.2, label="NN")
        loss = f", {str(d['loss'].values)}" if "loss" in d else ""
        a.set(xlabel="field value", title=f"{'abcdefgh'[i]}) model {m}{loss}")
        if log:
            a.set_yscale("log")
        a.grid(alpha=0.3)
    for a in ax[::ncols][:nrows]:
        a.set_ylabel("PDF")
    ax[0].legend(fontsize=8, frameon=False)
    return fig


# ---------------------------------------------------------------- supplement
def has_slice_bins(ev: xr.Dataset) -> bool:
    """Whether one model's eval.nc gives each Supplement slice its own bins (files written
    since :func:`diffsurr.metrics.slice_pdfs` had per-slice bins)."""
    return "xprime_all_lower" in ev and bool(np.isfinite(ev["xprime_all_lower"].values).all())


def supplement_edges(ev: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges of Supplement A's PDFs for one model: (edges of the PDF over all values,
    (slice20, bins + 1) edges per slice). Files with per-slice bins have them over (slice20,
    xbin); older files share one set of edges, repeated here for every slice (loaded next to
    newer files, their shared edges arrive repeated over slice20)."""
    if "model" in ev.dims:
        ev = ev.isel(model=0)
    lower, upper = ev["xprime_lower"], ev["xprime_upper"]
    if "slice20" in lower.dims:
        lower, upper = (v.transpose("slice20", "xbin").values for v in (lower, upper))
    else:
        lower, upper = lower.values, upper.values
    if has_slice_bins(ev):
        per_slice = np.concatenate([lower, upper[:, -1:]], axis=1)
        overall = np.concatenate([ev["xprime_all_lower"].values,
                                  ev["xprime_all_upper"].values[-1:]])
        return overall, per_slice
    lower, upper = np.atleast_2d(lower)[0], np.atleast_2d(upper)[0]
    shared = np.concatenate([lower, upper[-1:]])
    return shared, np.broadcast_to(shared, (ev.sizes["slice20"], shared.size))


def supplement_slice_pdfs(ev: xr.Dataset, ncols: int = 4, title: str | None = None) -> Figure:
    """Preprint Figs. S1–S12 for one model (``ev`` without a model dim, or with one model):
    the PDF of x' = (ŷ − y)/√2 over all values and in each of the 20 slices of 0.05 (bars),
    with the Gaussian of that slice's mean and standard deviation (red). 21 panels. Bins per
    slice or shared, as the file has them (:func:`supplement_edges`)."""
    if "model" in ev.dims:
        ev = ev.isel(model=0)
    overall, per_slice = supplement_edges(ev)
    rows = [("all values", ev["pdf_all"].values, float(ev["mean_xprime_all"]),
             float(ev["std_xprime_all"]), int(ev["count20"].sum()), overall)]
    for k, s in enumerate(ev["slice20"].values):
        rows.append((f"slice {int(s)}: [{float(ev['lower20'][k]):.2f}, "
                     f"{float(ev['upper20'][k]):.2f})",
                     ev["pdf"].values[k], float(ev["mean_xprime20"][k]),
                     float(ev["std_xprime20"][k]), int(ev["count20"][k]), per_slice[k]))
    nrows, ncols = _grid(len(rows), ncols)
    # A fixed layout and few ticks: 21 panels per model, 14 models, so drawing time matters.
    # Type no smaller than 8 pt: at the page's 90 dpi that is 10 px, readable in the book.
    fig = Figure(figsize=(1.9 * ncols, 1.6 * nrows + 0.9))
    fig.subplots_adjust(left=0.03, right=0.98, bottom=0.08, top=0.9 if title else 0.94,
                        hspace=0.85, wspace=0.15)
    ax = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for a, (name, pdf, mu, sd, count, edges) in zip(ax, rows):
        a.set_title(f"{name}\nn = {count:,}", fontsize=8, linespacing=1.1)
        a.tick_params(labelsize=8, length=2, pad=1)
        a.set_yticks([])
        a.xaxis.set_major_locator(MaxNLocator(3))
        a.xaxis.set_major_formatter(FormatStrFormatter("%.2g"))
        if count == 0 or not np.isfinite(pdf).any() or not np.nansum(pdf) > 0:
            a.text(0.5, 0.5, "no values", ha="center", va="center", transform=a.transAxes,
                   fontsize=8, color="0.5")
            a.set_xticks([])
            continue
        a.stairs(np.nan_to_num(pdf), edges, fill=True, color="tab:blue", alpha=0.6, lw=0)
        nz = np.flatnonzero(np.nan_to_num(pdf) > 0)
        lo, hi = edges[nz[0]], edges[nz[-1] + 1]
        pad = 0.15 * (hi - lo) + (edges[1] - edges[0])
        if np.isfinite(sd) and sd > 0:
            lo, hi = min(lo, mu - 4 * sd), max(hi, mu + 4 * sd)
            xs = np.linspace(lo - pad, hi + pad, 300)
            a.plot(xs, np.exp(-0.5 * ((xs - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi)),
                   color="tab:red", lw=1)
        a.set_xlim(max(lo - pad, edges[0]), min(hi + pad, edges[-1]))
        a.axvline(0, color="0.4", lw=0.4)
    for a in ax[len(rows):]:
        a.remove()
    fig.supxlabel("x' = (ŷ − y)/√2 (PDF on a linear scale, bars; Gaussian of the slice's "
                  "mean and std, red)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


# ---------------------------------------------------------------- seeds page
SEED_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink")


def seed_spread(values: Mapping[str, xr.DataArray], ncols: int = 2, log: bool = True) -> Figure:
    """One panel per entry of ``values`` (title → DataArray over (model, seed), NaN where a
    model lacks a seed): each seed's value as a dot (colour per seed), and for models with two
    or more seeds the mean ± sample std (ddof = 1) as a black bar beside them. Models with one
    seed show their single dot. One panel per entry."""
    n = len(values)
    nrows, ncols = _grid(n, ncols)
    fig = Figure(figsize=(4.1 * ncols, 3.0 * nrows), layout="constrained")
    ax = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for a in ax[n:]:
        a.remove()
    for i, (a, (title, da)) in enumerate(zip(ax, values.items())):
        da = da.transpose("model", "seed")
        models = [int(m) for m in da["model"].values]
        seeds = [int(s) for s in da["seed"].values]
        vals = da.values.astype(float)
        offsets = np.linspace(-0.22, 0.05, len(seeds)) if len(seeds) > 1 else [0.0]
        for j, s in enumerate(seeds):
            a.plot(np.array(models) + offsets[j], vals[:, j], "o", ms=4,
                   color=SEED_COLORS[j % len(SEED_COLORS)], alpha=0.85, label=f"seed {s}")
        n_ok = np.isfinite(vals).sum(1)
        several = n_ok >= 2
        if several.any():
            mean = np.nanmean(vals[several], 1)
            std = np.nanstd(vals[several], 1, ddof=1)
            a.errorbar(np.array(models)[several] + 0.25, mean, yerr=std, fmt="s", ms=4,
                       color="k", capsize=3, lw=1.2, label="mean ± std")
        if log:
            _maybe_log(a, vals)
        a.set(xlabel="model (Table 2)", xticks=models, title=f"{'abcdefgh'[i]}) {title}")
        a.grid(alpha=0.3)
    ax[0].legend(fontsize=7, frameon=False)
    return fig


# ---------------------------------------------------------------- generalisation page
def generalisation_examples(gen: xr.Dataset, model: int, n_examples: int = 2) -> Figure:
    """One row per layout of ``generalisation.nc``: the first ``n_examples`` inputs, targets,
    predictions of ``model`` and residuals |ŷ − y|, side by side (4 panels per row; one colour
    bar per column: fields on [0, 1], the residual on its own scale)."""
    layouts = [str(v) for v in gen["layout"].values]
    k = min(n_examples, gen.sizes["example"])
    cols = (("input", gen["example_input"]), ("target y", gen["example_target"]),
            (f"prediction ŷ, model {model}", gen["example_pred"].sel(model=model)))
    res = np.abs(gen["example_pred"].sel(model=model) - gen["example_target"])
    top = float(res.isel(example=slice(0, k)).max()) or 1.0
    fig = Figure(figsize=(8.2, 1.3 * len(layouts) + 0.7), layout="constrained")
    ax = fig.subplots(len(layouts), 4, squeeze=False)
    cm = matplotlib.colormaps[FIELD_CMAP].with_extremes(bad="white")
    rcm = matplotlib.colormaps[RES_CMAP].with_extremes(bad="white")
    ims = [None] * 4
    for r, name in enumerate(layouts):
        for c, (title, da) in enumerate(cols + (("|ŷ − y|", res),)):
            img = mosaic(da.sel(layout=name).isel(example=slice(0, k)).values, ncols=k)
            a = ax[r, c]
            ims[c] = a.imshow(img, cmap=rcm if c == 3 else cm, vmin=0, vmax=top if c == 3 else 1,
                              interpolation="nearest")
            a.set_xticks([])
            a.set_yticks([])
            if r == 0:
                a.set_title(title, fontsize=10)
            if c == 0:
                a.set_ylabel(name, fontsize=9)
    for c in range(4):
        cb = fig.colorbar(ims[c], ax=ax[:, c], fraction=0.04, pad=0.01, shrink=0.5,
                          location="bottom")
        cb.ax.tick_params(labelsize=7)
    return fig


def generalisation_ratios(ratios: xr.Dataset, titles: Mapping[str, str],
                          highlight: Sequence[int] = (), ncols: int = 2) -> Figure:
    """Statistic on each layout / on the training layout (log scale), one line per model, one
    panel per entry of ``titles`` (variable of ``ratios`` → panel title). Models in
    ``highlight`` are drawn thick; the ratio 1 is a dashed line."""
    n = len(titles)
    nrows, ncols = _grid(n, ncols)
    fig = Figure(figsize=(7.0, 2.7 * nrows + (0 if n < nrows * ncols else 2.0)),
                 layout="constrained")
    ax = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharex=True)).ravel()
    for a in ax[n:]:
        a.axis("off")
        a.set_label(LEGEND_AXES)
    layouts = [str(v) for v in ratios["layout"].values]
    xs = np.arange(len(layouts))
    models = _models(ratios)
    for i, (a, (var, title)) in enumerate(zip(ax, titles.items())):
        for m in models:
            y = ratios[var].sel(model=m).values
            thick = m in highlight
            a.plot(xs, y, lw=2.6 if thick else 1.1, ms=5 if thick else 3.5,
                   zorder=3 if thick else 2, label=str(m), **model_style(m))
        a.axhline(1, color="0.3", ls=":", lw=0.9)
        _maybe_log(a, ratios[var].values, min_ratio=3.0)
        a.set_xticks(xs, layouts, rotation=30, ha="right", fontsize=9)
        a.tick_params(axis="x", labelbottom=True)
        a.tick_params(axis="y", labelsize=9)
        a.set_title(f"{'abcdefgh'[i]}) {title}", fontsize=9.5)
        a.set_ylabel("layout / training layout", fontsize=9)
        a.grid(alpha=0.3)
    if n < len(ax):                     # the legend in the first empty panel
        model_legend(ax[n], models, loc="center")
    else:
        model_legend(fig, models, loc="outside lower center")
    return fig


# ---------------------------------------------------------------- metrics page
def metrics_overview(df, highlight: Sequence[int] = ()) -> Figure:
    """The metrics beyond the preprint per model (``df``: :func:`diffsurr.book.report.metrics_frame`,
    one row per model): a) the error's RMSE in the low, mid and high Fourier bands, b) nRMSE,
    c) PDE residual (RMS) and d) boundary-ring RMSE against the mean residual, each model
    labelled by its number (``highlight``: models drawn in grey, e.g. NN1-only). 4 panels."""
    fig = Figure(figsize=(8.4, 6.8), layout="constrained")
    ax = fig.subplots(2, 2).ravel()
    models = [int(m) for m in df.index]
    xs = np.arange(len(models))
    for k, (col, name, color) in enumerate((("frmse_low", "low", "tab:blue"),
                                            ("frmse_mid", "mid", "tab:orange"),
                                            ("frmse_high", "high", "tab:red"))):
        ax[0].bar(xs + (k - 1) * 0.27, df[col].values, width=0.27, color=color,
                  label=f"{name} band")
    ax[0].set_yscale("log")
    ax[0].set_xticks(xs, models)
    ax[0].set(xlabel="model (Table 2)", ylabel="fRMSE of ŷ − y",
              title="a) error per Fourier band")
    ax[0].legend(fontsize=7, frameon=False)
    scatters = ((ax[1], "mean_nrmse", "mean nRMSE ‖ŷ − y‖₂/‖y‖₂", "b"),
                (ax[2], "rms_pde_all", "PDE residual (RMS, off sources)", "c"),
                (ax[3], "rmse_boundary_all", "boundary-ring RMSE", "d"))
    for a, col, label, letter in scatters:
        for m in models:
            grey = m in highlight
            a.plot(df.loc[m, "mean_res"], df.loc[m, col], "o", ms=5,
                   color="0.6" if grey else "tab:blue")
            a.annotate(str(m), (df.loc[m, "mean_res"], df.loc[m, col]), fontsize=7,
                       xytext=(3, 2), textcoords="offset points")
        _maybe_log(a, df["mean_res"].values, "x")
        _maybe_log(a, df[col].values, "y")
        _sparse_log_labels(a)
        a.set(xlabel="mean residual ⟨|y − ŷ|⟩", ylabel=label,
              title=f"{letter}) {label} vs ⟨res⟩")
    for a in ax:
        a.grid(alpha=0.3)
    return fig


def pilot_curves(curves: Mapping[str, xr.Dataset]) -> Figure:
    """The pilot's learning curves: validation (solid) and training loss (dashed) per epoch
    of the final trajectory, one colour per setting; the best validation epoch marked."""
    fig = Figure(figsize=(7.0, 3.4), layout="constrained")
    ax = fig.subplots()
    for (label, h), colour in zip(curves.items(), ("tab:blue", "tab:orange", "tab:green",
                                                    "tab:red")):
        kept = h["kept"].values == 1
        epoch = h["epoch"].values[kept]
        ax.semilogy(epoch, h["val_loss"].values[kept], "-o", ms=3, color=colour, label=label)
        ax.semilogy(epoch, h["train_loss"].values[kept], "--", color=colour, lw=1)
        best = int(h.attrs["best_epoch"])
        ax.semilogy([best], [float(h.attrs["best_val_loss"])], "*", ms=11, color=colour)
    ax.set(xlabel="epoch", ylabel="loss (Eq. 2)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, frameon=False, title="validation (—), training (– –)",
              title_fontsize=9)
    return fig


# ---------------------------------------------------------------- speed-up chapter
def surrogate_label(profile: str) -> str:
    """A benchmarked surrogate (Table 2 model 9 built with ``profile``'s NN2 width) as the
    speed-up figure names it: "model 9, NN2 at Table 1 width (paper)", "model 9, NN2 at
    width 0.125 (ci)"."""
    from ..profiles import PROFILES

    width = PROFILES[profile].width if profile in PROFILES else None
    at = ("Table 1 width" if width == 1 else f"width {width:g}" if width else "its width")
    return f"model 9, NN2 at {at} ({profile})"


def speed_bars(benches: Mapping[str, xr.Dataset], preprint_delta: float = 1.16,
               preprint_speedup: float = 1000.0) -> Figure:
    """Seconds per sample at the best batch: each solver (blue: exact, grey: not exact, i.e.
    float32 or time stepping) and the surrogate per profile (orange, :func:`surrogate_label`),
    each bar with its value; the device after each label only when the files come from more
    than one device; the preprint's δ (dashed) and its surrogate at δ/speed-up (dotted),
    named above the axes so that no label covers a bar."""
    devices = {str(b.attrs.get("device_name", name)) for name, b in benches.items()}
    labels, values, colors = [], [], []
    for name, b in benches.items():
        where = f" — {b.attrs.get('device_name', name)}" if len(devices) > 1 else ""
        for s in b.solver.values:
            labels.append(f"{s}{where}")
            values.append(float(b.delta_best_s.sel(solver=s)))
            colors.append("tab:blue" if int(b.exact.sel(solver=s)) else "0.6")
        for p in b.profile.values:
            labels.append(f"{surrogate_label(str(p))}{where}")
            values.append(float(b.eps_best_s.sel(profile=p)))
            colors.append("tab:orange")
    fig = Figure(figsize=(7.0, 1.3 + 0.36 * len(values)), layout="constrained")
    ax = fig.subplots()
    ax.barh(range(len(values)), values, color=colors)
    for k, v in enumerate(values):
        ax.text(v * 1.15, k, _seconds(v), va="center", ha="left", fontsize=9)
    surrogate = preprint_delta / preprint_speedup
    ax.axvline(preprint_delta, color="k", ls="--", lw=1)
    ax.axvline(surrogate, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    for x, text in ((preprint_delta, f"preprint's solver\n{preprint_delta:g} s"),
                    (surrogate, f"preprint's surrogate\n≈{1e3 * surrogate:.3g} ms")):
        ax.text(x, 1.01, text, fontsize=9, ha="center", va="bottom",
                transform=ax.get_xaxis_transform())
    ax.set_xlim(min(min(values), surrogate) / 3, max(max(values), preprint_delta) * 30)
    ax.set_yticks(range(len(values)), labels, fontsize=9.5)
    ax.tick_params(axis="x", labelsize=9.5)
    ax.invert_yaxis()
    ax.set_xlabel("seconds per sample at the best batch (log scale)", fontsize=10)
    return fig


PAGE_FONT_PT = 10
"""Font size of the pay-off figures' text, in pt at their own size; they are drawn at most
:data:`PAGE_FIGURE_IN` inches wide, so that on the book's page (about 660 px of column at a
1280 px window, the PNG at 110 dpi scaled to it) text stays above 9 pt."""
PAGE_FIGURE_IN = 6.6


def count_label(v: float) -> str:
    """A count to two significant digits in at most three characters and a suffix: 950, 12k,
    880k, 2.1M, 84M, 1.2G; "never" for inf, "–" for NaN (the pay-off map's cells)."""
    if np.isinf(v):
        return "never"
    if np.isnan(v):
        return "–"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div * 0.995:
            return f"{float(f'{v / div:.2g}'):g}{suffix}"
    return f"{float(f'{v:.2g}'):g}"


def _seconds(v: float) -> str:
    """A time per sample for a bar's end: "1.4 s", "72 ms", "310 µs"."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if v >= scale or unit == "µs":
            x = v / scale
            return f"{x:.0f} {unit}" if x >= 10 else f"{x:.2g} {unit}"
    return f"{v:.2g} s"


def payoff_map(panels: Sequence[tuple[str, xr.DataArray]], ncols: int = 2) -> Figure:
    """Eq. 4's N_min over grid N (rows) × number of sources k (columns), one panel per
    (title, DataArray with dims grid, sources): log colour shared by all panels; cells where
    N_min is infinite (the solver is faster than the network) grey and marked "never"; cell
    labels short (:func:`count_label`) and :data:`PAGE_FONT_PT` at a page-wide figure."""
    finite = np.concatenate([p.values[np.isfinite(p.values)] for _, p in panels] + [[]])
    norm = LogNorm(finite.min(), max(finite.max(), finite.min() * 10)) if finite.size else None
    nrows = max(1, -(-len(panels) // ncols))
    fig = Figure(figsize=(PAGE_FIGURE_IN, 2.9 * nrows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    cmap = matplotlib.colormaps["viridis_r"].with_extremes(bad="0.85")
    image = None
    for ax, (title, da) in zip(axes, panels):
        values = da.transpose("grid", "sources").values.astype(float)
        shown = np.ma.masked_invalid(np.where(np.isfinite(values), values, np.nan))
        image = ax.imshow(shown, cmap=cmap, norm=norm, origin="lower", aspect="auto")
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, count_label(v), ha="center", va="center", fontsize=PAGE_FONT_PT,
                    bbox=dict(facecolor="white", alpha=0.6, edgecolor="none", pad=0.5))
        ax.set_xticks(range(da.sizes["sources"]), [str(int(k)) for k in da.sources.values],
                      fontsize=PAGE_FONT_PT)
        ax.set_yticks(range(da.sizes["grid"]), [str(int(n)) for n in da.grid.values],
                      fontsize=PAGE_FONT_PT)
        ax.set_xlabel("sources k", fontsize=PAGE_FONT_PT)
        ax.set_ylabel("grid N", fontsize=PAGE_FONT_PT)
        ax.set_title(title, fontsize=PAGE_FONT_PT)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if image is not None and norm is not None:
        bar = fig.colorbar(image, ax=list(axes[:len(panels)]), location="bottom",
                           shrink=0.7, aspect=40)
        bar.set_label("N_min, uses (log scale)", fontsize=PAGE_FONT_PT)
        bar.ax.tick_params(labelsize=PAGE_FONT_PT)
    return fig


MATCHED_MARKERS = {"exact": "s", "float32": "D", "coarse float64": "o", "coarse float32": "^",
                   "CG": "v"}
SURROGATE_MARKERS = ("*", "P", "X", "p", "h")


def matched_cost(variants, front, exact_cost: float, points) -> Figure:
    """Cost per solve against mean residual, log-log: the classical variants (``variants``:
    DataFrame with columns family, error, cost in s; error > 0 only), their cost-error front
    as a line (``front``: the front's variants, most accurate first), the exact solve's cost
    as a horizontal line, and the surrogates (``points``: DataFrame with columns group,
    error, cost), one marker per group; no per-point labels, so none overlap."""
    fig = Figure(figsize=(PAGE_FIGURE_IN, 5.2), layout="constrained")
    ax = fig.subplots()
    for family, rows in variants.groupby("family", sort=False):
        ax.scatter(rows["error"], rows["cost"] * 1e3, marker=MATCHED_MARKERS.get(family, "o"),
                   s=36, label=str(family), alpha=0.85)
    if len(front):
        ax.plot(front["error"], front["cost"] * 1e3, "k--", lw=1.2,
                label="front (read-off line)")
    if np.isfinite(exact_cost):
        ax.axhline(exact_cost * 1e3, color="0.4", ls=":", lw=1.2, label="exact float64 solve")
    for k, (group, rows) in enumerate(points.groupby("group", sort=False)):
        ax.scatter(rows["error"], rows["cost"] * 1e3, s=110, zorder=5, edgecolor="k", lw=0.5,
                   marker=SURROGATE_MARKERS[k % len(SURROGATE_MARKERS)], color=f"C{k + 5}",
                   label=f"{group} (forward pass)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mean residual against the exact field", fontsize=PAGE_FONT_PT)
    ax.set_ylabel("time per solve or call (ms)", fontsize=PAGE_FONT_PT)
    ax.tick_params(labelsize=PAGE_FONT_PT)
    if ax.get_legend_handles_labels()[0]:
        fig.legend(fontsize=PAGE_FONT_PT - 1, loc="outside lower center", ncols=2,
                   frameon=False)
    ax.grid(True, which="major", alpha=0.3)
    return fig
