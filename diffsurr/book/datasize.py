"""Data or training: the ``datasize`` profile's runs (model 12 on 1/8 to all of the reference
training part, at equal epochs and at equal optimiser steps) read for the book: the test
residual against the number of training samples, a fit of the logarithmic law the authors'
follow-up reports, and the sentence the numbers allow.

A difference counts only where it exceeds the seed spread of the reference study's model 12
(:data:`diffsurr.book.comparison.SPREAD_K` times the standard deviation over its seeds, the same
yardstick as the seeds page)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..profiles import PROFILES, Profile
from ..runid import RunId
from ..study import study_runs
from .comparison import SPREAD_K
from ..results import load_optional

PROFILE = PROFILES["datasize"]
STATS = ("mean_res", "p99_res", "max_res")


def table(profile: Profile = PROFILE) -> pd.DataFrame:
    """One row per run of the profile: training samples, epochs, optimiser steps, the test
    statistics (NaN where the run is not in yet)."""
    rows = []
    for run in study_runs(profile):
        cfg = run.config()
        h, e = load_optional(run.dir / "history.nc"), load_optional(run.dir / "eval.nc")
        n = int(h.attrs["n_train"]) if h is not None else np.nan
        rows.append({"run": run.label, "share": cfg.train_fraction, "n_train": n,
                     "epochs": cfg.epochs,
                     "steps": np.ceil(n / cfg.batch_size) * cfg.epochs if h is not None else np.nan,
                     **{s: float(e[s].sel(set="test")) if e is not None else np.nan
                        for s in STATS}})
    return pd.DataFrame(rows)


def shown(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`table` as the page shows it: runs by label (the label names the share)."""
    return df.drop(columns="share").set_index("run")


def seed_spread(profile: Profile = PROFILES["reference"], model: int = 12) -> float:
    """Standard deviation (ddof 1) of the test mean residual over the reference study's
    seeds of ``model``; NaN with fewer than two seeds in."""
    seeds = (profile.seed, *profile.extra_seeds)
    values = []
    for s in seeds:
        e = load_optional(RunId.of(profile, model, s).dir / "eval.nc")
        if e is not None:
            values.append(float(e.mean_res.sel(set="test")))
    return float(np.std(values, ddof=1)) if len(values) > 1 else np.nan


def log_fit(n: np.ndarray, res: np.ndarray) -> dict:
    """Least squares ``res = a + b·log10(n)`` (the follow-up's logarithmic law) and the power
    law ``log res = c + k·log n``: slope per decade b, exponent k and each fit's R²; NaN
    with fewer than three points."""
    ok = np.isfinite(n) & np.isfinite(res)
    n, res = np.asarray(n, float)[ok], np.asarray(res, float)[ok]
    if len(n) < 3:
        return {"b": np.nan, "r2_log": np.nan, "k": np.nan, "r2_power": np.nan, "points": len(n)}
    out = {"points": len(n)}
    for key, r2, y in (("b", "r2_log", res), ("k", "r2_power", np.log10(res))):
        slope, icpt = np.polyfit(np.log10(n), y, 1)
        resid = y - (icpt + slope * np.log10(n))
        out[key], out[r2] = float(slope), float(1 - resid.var() / y.var())
    return out


def comparison(df: pd.DataFrame, spread: float, budget: str) -> dict | None:
    """For the ``budget`` ("epochs": the profile's epochs; "steps": as many optimiser steps as
    on all the data): the smallest share against all of it, their difference and whether it
    exceeds SPREAD_K·√2·spread; ``within``: the shares whose difference does not, largest
    first; None until both runs are in."""
    full = df[(df.share == 1.0) & df.mean_res.notna()]
    if full.empty:
        return None
    full = full.iloc[0]
    part = df[(df.share < 1.0) & df.mean_res.notna()]
    part = part[(part.epochs == full.epochs) if budget == "epochs"
                else np.isclose(part.steps, float(full.steps), rtol=0.01)]
    if part.empty:
        return None
    bound = SPREAD_K * np.sqrt(2) * spread
    beyond = (part.mean_res - full.mean_res).abs() > bound
    small = part.loc[part.share.idxmin()]
    return {"share": float(small.share), "small": float(small.mean_res),
            "all": float(full.mean_res), "delta": float(small.mean_res - full.mean_res),
            "bound": bound, "resolved": bool(beyond[small.name]),
            "within": sorted(float(w) for w in part.share[~beyond])[::-1]}


def _share(f: float) -> str:
    return f"1/{round(1 / f)}" if f < 1 else "all"


def sentence(df: pd.DataFrame, spread: float) -> str:
    """What the runs that are in say about data against training, chosen from the numbers."""
    lines = []
    for budget, words in (("epochs", "at equal epochs"),
                          ("steps", "at equal optimiser steps")):
        c = comparison(df, spread, budget)
        if c is None:
            lines.append(f"{words.capitalize()}: not in yet.")
            continue
        head = (f"{words.capitalize()}, model 12 trained on {_share(c['share'])} of the "
                f"training part has test ⟨res⟩ {c['small']:.3g} against {c['all']:.3g} on all "
                f"of it (Δ = {c['delta']:+.2g}; seed spread {SPREAD_K:g}·√2·s = {c['bound']:.2g})")
        if not c["resolved"]:
            lines.append(head + ": the difference is within the seed spread, so at this "
                                "budget the residual does not tell the data sizes apart.")
        elif c["delta"] > 0 and c["within"]:
            lines.append(head + ": beyond the spread, while the runs on "
                                f"{', '.join(map(_share, c['within']))} "
                                "of it stay within it, so at this budget "
                                f"{'the data' if budget == 'steps' else 'data or steps'} limit "
                                f"the surrogate only below {_share(min(c['within']))} of the "
                                "training part.")
        elif c["delta"] > 0:
            lines.append(head + ": less data gives a larger residual beyond the spread, so "
                                f"{'data' if budget == 'steps' else 'data or steps'} limit the "
                                "surrogate at this budget.")
        else:
            lines.append(head + ": less data gives a smaller residual beyond the spread.")
    return " ".join(lines)


def fit_text(df: pd.DataFrame) -> str:
    """The logarithmic-law fit of the equal-epoch runs, in words."""
    same = df[df.epochs == df.loc[df.share == 1.0, "epochs"].min()]
    f = log_fit(same.n_train.to_numpy(float), same.mean_res.to_numpy(float))
    if not np.isfinite(f["b"]):
        return (f"The fit needs at least three equal-epoch runs; {f['points']} in so far.")
    return (f"Over the {f['points']} equal-epoch runs, ⟨res⟩ = a + b·log₁₀ n fits with "
            f"b = {f['b']:.3g} per decade of training samples (R² = {f['r2_log']:.2f}); a "
            f"power law ⟨res⟩ ∝ n^k gives k = {f['k']:.2f} (R² = {f['r2_power']:.2f}). With "
            f"{f['points']} points and one seed each, neither law is tested against the "
            "other; the slopes say how much a decade of data buys at this budget.")


def figure(df: pd.DataFrame):
    """Mean test residual against training samples (log x): equal epochs and equal optimiser
    steps, one marker each; a note where no run is in."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.4), layout="constrained")
    ax = fig.subplots()
    full_epochs = df.loc[df.share == 1.0, "epochs"].min()
    for budget, sel, style in (("equal epochs", df.epochs == full_epochs, "o-"),
                               ("equal optimiser steps", (df.epochs != full_epochs)
                                | (df.share == 1.0), "s--")):
        g = df[sel & df.mean_res.notna()].sort_values("n_train")
        if not g.empty:
            ax.plot(g.n_train, g.mean_res / 1e-3, style, label=budget)
    if df.mean_res.notna().any():
        ax.set_xscale("log")
        ax.legend(fontsize=9)
    else:
        ax.text(0.5, 0.5, "no data-size run in yet", ha="center", va="center",
                transform=ax.transAxes)
    ax.set(xlabel="training samples", ylabel="mean test residual (10⁻³)")
    ax.tick_params(labelsize=9)
    return fig
