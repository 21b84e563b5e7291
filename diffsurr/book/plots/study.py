"""This study's figures beyond the preprint: seeds, generalisation, metrics, the pilot, speed-up,
pay-off map and error-matched cost."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .style import (FIELD_CMAP, LEGEND_AXES, RES_CMAP, _grid, _maybe_log, _models,
                    _sparse_log_labels, model_legend, model_style, mosaic)


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
    """The metrics beyond the preprint per model (``df``:
    :func:`diffsurr.book.report.metrics_frame`,
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
    from ...profiles import PROFILES

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
