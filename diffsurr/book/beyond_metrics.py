"""The metrics chapter: nRMSE, boundary-ring, Fourier-band and PDE-residual errors per model.

Numbers and sentences for ``book/metrics.md`` from :func:`diffsurr.book.report.metrics_frame`
(one row per model, columns :data:`diffsurr.book.report.METRIC_COLUMNS`). Named
``beyond_metrics`` so as not to shadow :mod:`diffsurr.metrics`, which computes them.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import xarray as xr

from .. import metrics
from ..registry import spec
from .report import METRIC_COLUMNS, fmt
from ..statistics import rank_agreement

LABELS = dict(METRIC_COLUMNS)
"""Column name -> the label the page shows."""
BANDS = ("frmse_low", "frmse_mid", "frmse_high")
"""The Fourier-band columns, from large to pixel scale."""
AGREE_RHO = 0.7
"""Spearman ρ with the mean-residual ranking from which a metric orders the models alike."""
DISAGREE_RHO = 0.3
"""Spearman ρ below which a metric orders the models differently from the mean residual."""
MIN_RANKED = 3
"""Fewest models over which a rank correlation is computed."""
LARGE_SCALE = 0.5
"""Median share of the MSE in the low band above which the errors are called large-scale."""
RING_RATIO = 1.0
"""Boundary-ring RMSE / overall RMSE above which errors are larger at the walls."""
PDE_RATIO = 1.0
"""PDE residual RMS / RMS of γy above which the predictions do not satisfy the equation."""
HIGHLIGHT = "font-weight: bold; background-color: #dbeafe"
"""Style of the lowest value of each column in Table M1."""


def default(func, name: str):
    """The default value of parameter ``name`` of ``func``."""
    return inspect.signature(func).parameters[name].default


RING = default(metrics.boundary_error, "ring")
"""Width in pixels of the boundary ring (:func:`diffsurr.metrics.boundary_error`)."""
D = default(metrics.pde_residual, "D")
"""Diffusion coefficient of the PDE residual."""
GAMMA = default(metrics.pde_residual, "gamma")
"""Decay rate γ of the PDE residual."""


def with_nn2(df: pd.DataFrame) -> list[int]:
    """The models of ``df`` with NN2, or all of them if none has NN2."""
    nn2 = [int(m) for m in df.index if spec(int(m)).p2 != 0]
    return nn2 or [int(m) for m in df.index]


def band_edges(evals: xr.Dataset) -> str:
    """The Fourier bands' edges in |k| as "low [a, b); mid ...; high [c, d]" ("" if unknown)."""
    if "k_lower" not in evals:
        return ""
    lo, hi = np.ravel(evals["k_lower"].values), np.ravel(evals["k_upper"].values)
    n = len(lo)
    return "; ".join(f"{name} [{a:.1f}, {b:.1f}{']' if i == n - 1 else ')'}"
                     for i, (name, a, b) in enumerate(zip(("low", "mid", "high"), lo, hi)))


def definitions_text(evals: xr.Dataset) -> str:
    """The definitions of the four metrics, with the values :mod:`diffsurr.metrics` uses."""
    bands = int(evals.sizes["band"])
    nyquist = min(evals.sizes["y"], evals.sizes["x"]) // 2 if "y" in evals.sizes else 50
    edges = band_edges(evals)
    return (
        "**nRMSE** (per-sample relative L2 error, PDEBench's nRMSE): for sample i, "
        "nRMSE_i = ‖ŷ_i − y_i‖₂ / ‖y_i‖₂ with the norms over the sample's pixels; the table gives "
        "its mean over the test samples. It weighs every configuration equally, whatever the "
        "size of its field.\n\n"
        f"**Boundary-ring error**: with R the pixels within {RING} of the four walls (the "
        "absorbing boundary, where y is small and the relative residual of the preprint's "
        "Fig. 6c blows up), "
        "ring RMSE = √(mean over R of all samples of (ŷ − y)²) and ring max = max over R of "
        "|ŷ − y|.\n\n"
        "**Fourier-band errors** (after PDEBench's fRMSE): with E_k the 2-D DFT of the error "
        "e = ŷ − y of a sample and |k| = √(k_y² + k_x²) in integer wavenumbers, band b of "
        f"n = {bands} holds K(b − 1)/n ≤ |k| < Kb/n with K = N/2 = {nyquist} "
        "the Nyquist radius (the last band also takes the corner modes |k| ≥ K), and "
        "fRMSE_b = √(mean over samples of Σ_(k in b) |E_k|²) / (N_y N_x). By Parseval, "
        "Σ_b fRMSE_b² is the mean squared error: the bands split the MSE into large-scale (low), "
        "intermediate (mid) and pixel-scale (high) errors. "
        + (f"Band edges in |k|: {edges}." if edges else "") + "\n\n"
        f"**PDE residual**: how far ŷ is from solving the steady equation off the sources, "
        f"r = D∇²ŷ − γŷ with D = {D:g}, γ = {fmt(GAMMA)} (preprint Sec. 2), the 5-point "
        "Laplacian ∇²ŷ_ij = ŷ_(i+1,j) + ŷ_(i−1,j) + ŷ_(i,j+1) + ŷ_(i,j−1) − 4ŷ_ij and ŷ = 0 on "
        "ghost cells outside the grid (the absorbing walls). The exact solution has r = 0 at "
        "every pixel with x = 0, so only those pixels count: PDE RMS = √(mean |r|²) and PDE "
        "max = max |r| over all test samples' non-source pixels. Unlike the other metrics it "
        "needs no ground truth.")


def table(df: pd.DataFrame):
    """Table M1 as a Styler: 3 significant digits, the lowest value of each column highlighted."""
    shown = df.rename(columns=LABELS)
    styler = shown.style.format("{:.3g}").highlight_min(subset=list(shown.columns),
                                                        props=HIGHLIGHT)
    return styler.set_table_styles([
        {"selector": "", "props": [("font-size", "0.78em")]},
        {"selector": "th", "props": [("text-align", "center"), ("padding", "2px 5px")]},
        {"selector": "td", "props": [("text-align", "right"), ("padding", "2px 5px")]}])


def rank_correlations(df: pd.DataFrame) -> pd.DataFrame:
    """Spearman ρ of each metric with the mean residual over all models ("all") and over the
    models with NN2 ("with NN2"; NaN with fewer than :data:`MIN_RANKED`)."""
    rho_all = rank_agreement(df)
    nn2 = [m for m in df.index if spec(int(m)).p2 != 0]
    rho_nn2 = (rank_agreement(df.loc[nn2]) if len(nn2) >= MIN_RANKED else rho_all * np.nan)
    return pd.DataFrame({"all": rho_all, "with NN2": rho_nn2})


def ranking_text(df: pd.DataFrame) -> str:
    """Per metric: ρ over all models and over those with NN2, and the best model by it."""
    rho = rank_correlations(df)
    best = df.idxmin()
    best_res = int(best["mean_res"])
    n_nn2 = sum(spec(int(m)).p2 != 0 for m in df.index)
    lines = [
        "Spearman rank correlation of each metric's ranking of the models with the ranking by "
        f"mean residual (1: same order; 0: unrelated), over all {len(df)} models and over the "
        f"{n_nn2} with NN2 (the NN1-only models are the worst on most metrics and would "
        "dominate the first):", ""]
    for col, r in rho.iterrows():
        same = " — the same as by mean residual" if int(best[col]) == best_res else ""
        lines.append(f"- {LABELS[col]}: ρ = {r['all']:+.2f} (all), {r['with NN2']:+.2f} (with "
                     f"NN2); best: model {int(best[col])}{same}.")
    return "\n".join(lines)


def band_shares(df: pd.DataFrame) -> pd.DataFrame:
    """Each Fourier band's share of the MSE, for the models of :func:`with_nn2`."""
    mse = df[list(BANDS)] ** 2
    return mse.div(mse.sum(axis=1), axis=0).loc[with_nn2(df)]


def wavenumber_text(df: pd.DataFrame) -> str:
    """Where the error sits in wavenumber, against :data:`LARGE_SCALE`."""
    share = band_shares(df)
    low = share["frmse_low"]
    kind = ("large-scale (smooth offsets and misplaced mass), not pixel noise."
            if low.median() > LARGE_SCALE else
            "not large-scale: pixel-scale and intermediate errors dominate.")
    return (f"**Where the error sits in wavenumber.** Over the models with NN2, the low band "
            f"holds {fmt(100 * low.median())} % of the mean squared error (median; range "
            f"{fmt(100 * low.min())}–{fmt(100 * low.max())} %), the mid band "
            f"{fmt(100 * share['frmse_mid'].median())} % and the high band "
            f"{fmt(100 * share['frmse_high'].median())} %: the surrogates' errors are mostly "
            + kind)


def ring_ratios(df: pd.DataFrame) -> pd.Series:
    """Boundary-ring RMSE over the overall RMSE (from the bands), models of :func:`with_nn2`."""
    rmse = np.sqrt((df[list(BANDS)] ** 2).sum(axis=1))
    return (df["rmse_boundary_all"] / rmse).loc[with_nn2(df)]


def walls_text(df: pd.DataFrame) -> str:
    """Errors at the absorbing walls against the average, by :data:`RING_RATIO`."""
    ratio = ring_ratios(df)
    where = ("larger at the absorbing walls than on average." if ratio.median() > RING_RATIO
             else "smaller at the absorbing walls than on average, as the field itself is "
             "small there.")
    return (f"**At the walls.** The boundary-ring RMSE is {fmt(ratio.median())} times the "
            f"overall RMSE (median over the models with NN2; range {fmt(ratio.min())}–"
            f"{fmt(ratio.max())}): errors are " + where)


def equation_scale(data: xr.Dataset) -> tuple[float, float]:
    """On the test set's non-source pixels: the RMS of γy (the scale of each term of the
    equation) and the exact solution's own PDE residual (RMS)."""
    test = data["split"].values == "test"
    x, y = data["input"].values[test], data["target"].values[test]
    exact = float(metrics.pde_residual(y, x)["rms_pde_all"])
    return float(np.sqrt(np.mean((GAMMA * y[x == 0].astype(float)) ** 2))), exact


def physics_text(df: pd.DataFrame, data: xr.Dataset) -> str:
    """The predictions' PDE residual relative to γy's RMS, against :data:`PDE_RATIO`."""
    scale, exact = equation_scale(data)
    rel = (df["rms_pde_all"] / scale).loc[with_nn2(df)]
    verdict = ("the predictions do not satisfy the equation pixel by pixel even where their "
               "values are close: the Laplacian amplifies their small-scale errors."
               if rel.median() > PDE_RATIO else
               "the predictions nearly satisfy the equation pixel by pixel.")
    return (f"**Physics.** On the non-source pixels each term of the equation, γy, has RMS "
            f"{fmt(scale)} on the test set, and the exact solution's residual is {fmt(exact)} "
            f"(a check of the solver and of the metric). The predictions' PDE residual is "
            f"{fmt(rel.median())} times γy's RMS (median over the models with NN2; range "
            f"{fmt(rel.min())}–{fmt(rel.max())}): " + verdict)


def ranking_summary(df: pd.DataFrame) -> str:
    """Which metrics order the models with NN2 like the mean residual (:data:`AGREE_RHO`) or
    differently (:data:`DISAGREE_RHO`), and how many different models are best."""
    rho = rank_correlations(df)["with NN2"].dropna()
    agree = [LABELS[c] for c in rho.index[rho >= AGREE_RHO]]
    disagree = [LABELS[c] for c in rho.index[rho < DISAGREE_RHO]]
    best = df.idxmin()
    winners = sorted({int(b) for b in best.values})
    echo = ("which echoes the preprint: no single model is best on every metric."
            if len(winners) > 1 else
            "so at this profile one model is best on every metric, unlike in the preprint.")
    return (f"**The ranking.** Metrics that order the models with NN2 like the mean residual "
            f"does (ρ ≥ {AGREE_RHO:g}): {', '.join(agree) or 'none'}. Metrics that order them "
            f"differently (ρ < {DISAGREE_RHO:g}): {', '.join(disagree) or 'none'}. The best "
            f"model is model {int(best['mean_res'])} by mean residual; across the "
            f"{len(df.columns)} columns of Table M1 {len(winners)} different models are best "
            f"({', '.join(map(str, winners))}), " + echo)


def findings(df: pd.DataFrame, data: xr.Dataset) -> str:
    """The four findings of the page, as paragraphs."""
    return "\n\n".join([wavenumber_text(df), walls_text(df), physics_text(df, data),
                        ranking_summary(df)])
