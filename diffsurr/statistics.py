"""Statistics of stored evaluations: numbers the book derives from ``eval.nc`` and
``history.nc`` files (after :mod:`diffsurr.metrics` computed them from the fields).

:func:`pooled_dispersion` (the RMS of ŷ − y from the slice statistics), :func:`pdf_overlap`
and :func:`low_value_mass` (Fig. 11's field PDFs), :func:`output_std` (a network's output
spread: about 0 when it is dead), :func:`rank_agreement` (Spearman agreement of metrics) and
:func:`last_valid` (a NaN-padded history's final value).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr


def last_valid(da: xr.DataArray, dim: str = "step") -> xr.DataArray:
    """The last non-NaN value along ``dim`` (NaN where there is none), e.g. a history's final
    value when shorter runs are padded with NaN."""
    def last(a):
        ok = np.isfinite(a)
        idx = np.where(ok.any(-1), a.shape[-1] - 1 - np.argmax(ok[..., ::-1], -1), 0)
        out = np.take_along_axis(a, idx[..., None], -1)[..., 0]
        return np.where(ok.any(-1), out, np.nan)
    return xr.apply_ufunc(last, da.astype(float), input_core_dims=[[dim]])


def pooled_dispersion(evals: xr.Dataset) -> xr.DataArray:
    """RMS of ŷ − y over all pixels of each (model, set), from the 10-slice statistics.

    With n_i, μ_i, σ_i the count, mean and std of x' = (ŷ − y)/√2 in slice i:
    rms(ŷ − y) = √2 · sqrt(Σ n_i (σ_i² + μ_i²) / Σ n_i) (empty slices count 0).
    """
    n = evals["count"]
    second = (evals["std_xprime"] ** 2 + evals["mean_xprime"] ** 2).fillna(0)
    return np.sqrt(2 * (n * second).sum("slice") / n.sum("slice")).rename("rms_res")


def pdf_overlap(evals: xr.Dataset) -> xr.DataArray:
    """Overlap ∫ min(p_true, p_pred) dv of the field PDFs of Fig. 11 (1 = identical), per model."""
    width = float(np.diff(evals["value"].values).mean())
    both = np.minimum(evals["pdf_true"].fillna(0), evals["pdf_pred"].fillna(0))
    return (both.sum("value") * width).rename("pdf_overlap")


def low_value_mass(evals: xr.Dataset, low: float = 0.01, high: float = 0.1) -> xr.Dataset:
    """Probability mass of true and predicted field values in [low, high) and below ``low``
    (Fig. 11's "low non-zero values"), from the binned PDFs."""
    v = evals["value"]
    width = float(np.diff(v.values).mean())
    sel_low = (v >= low) & (v < high)
    sel_zero = v < low
    return xr.Dataset({
        "true_low": (evals["pdf_true"].where(sel_low).sum("value") * width),
        "pred_low": (evals["pdf_pred"].where(sel_low).sum("value") * width),
        "true_zero": (evals["pdf_true"].where(sel_zero).sum("value") * width),
        "pred_zero": (evals["pdf_pred"].where(sel_zero).sum("value") * width)},
        attrs={"low": low, "high": high})


def output_std(ev: xr.Dataset, net: str) -> float:
    """Standard deviation of one network's unweighted output over an eval.nc's figure samples
    and pixels (``fig_nn1``/``fig_nn2``; NaN where the network is off or not stored): about 0
    when the network's output is a constant (a dead final ReLU)."""
    name = f"fig_{net}"
    if name not in ev or not np.isfinite(ev[name].values).any():
        return np.nan
    return float(np.nanstd(ev[name].values))


def rank_agreement(df: pd.DataFrame, reference: str = "mean_res") -> pd.Series:
    """Spearman rank correlation of each column of ``df`` with ``reference`` over the rows."""
    return df.corr(method="spearman")[reference].drop(reference)
