"""The preprint's figures: Fig. 1 (the problem), Fig. 4 (training), Figs. 5–11 (results)
and Figs. S1–S12 (Supplement A), with the problem and training pages' own figures beside them."""

from __future__ import annotations

import textwrap
from typing import Mapping, Sequence

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, MaxNLocator

from .style import (JUMP_COLOR, PRED_COLOR, RES_CMAP, TEST_COLOR, TRAIN_COLOR, TRUE_COLOR, _grid,
                    _image, _models, _mosaic_height, model_legend, model_style, mosaic)


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


