"""The seeds chapter: Table 2's residuals as mean ± standard deviation over training seeds.

Numbers and sentences for ``book/seeds.md``; the claims it judges are in
:mod:`diffsurr.book.claims`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..profiles import Profile
from ..registry import table2_frame
from .report import RESIDUALS, fmt
from .claims import pm
from .comparison import SPREAD_K, seed_stats


def _models(models) -> str:
    return ", ".join(str(int(m)) for m in models) or "none"


def seeds_found(seeds: xr.Dataset, profile: Profile) -> str:
    """Which seeds were found, which models have several, and what the profile asks for."""
    n = seeds["n_seeds"].to_series()
    several = ", ".join(f"{m} (n = {int(k)})" for m, k in n.items() if k >= 2) or "none"
    asked = (f"profile `{profile.name}` trains models {_models(profile.seed_models)} with seeds "
             f"{_models((profile.seed,) + tuple(profile.extra_seeds))}"
             if profile.seed_models and profile.extra_seeds else
             f"profile `{profile.name}` defines no extra seeds; any found were trained on request")
    found = seeds["seed"].values
    return (f"Training seeds found: seed{'s' if len(found) > 1 else ''} {_models(found)}. "
            f"Models with two or more "
            f"seeds: {several}; models with one seed: {_models(n.index[n < 2])}. The {asked}.")


def table2_seeds(seeds: xr.Dataset, set_name: str = "test") -> pd.DataFrame:
    """Table 2's residuals per model as mean and std over seeds in Table 2's units, the
    preprint's value, and the number of seeds: columns (label, mean | std | preprint), (seeds,
    n)."""
    t2 = table2_frame()
    models = [int(m) for m in seeds["model"].values]
    ds = seeds.sel(set=set_name)
    cols: dict[tuple[str, str], list] = {}
    for ours, paper, unit, label in RESIDUALS:
        st = seed_stats(ds[ours])
        cols[(label, "mean")] = list(st["mean"].values / unit)
        cols[(label, "std")] = list(st["std"].values / unit)
        cols[(label, "preprint")] = list(t2[paper].sel(model=models).values / unit)
    cols[("seeds", "n")] = list(seed_stats(ds[RESIDUALS[0][0]])["n"].values)
    df = pd.DataFrame(cols, index=pd.Index(models, name="model"))
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    return df


def table2_seeds_display(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`table2_seeds` as text: "mean ± std" (or "value (n = 1)") next to the preprint's."""
    out = {}
    for _, _, _, label in RESIDUALS:
        out[(label, "ours: mean ± std")] = [
            pm(m, s, n) for m, s, n in zip(df[(label, "mean")], df[(label, "std")],
                                            df[("seeds", "n")])]
        out[(label, "preprint")] = [fmt(v) for v in df[(label, "preprint")]]
    out[("seeds", "n")] = [int(n) for n in df[("seeds", "n")]]
    table = pd.DataFrame(out, index=df.index)
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table


def relative_spread(df: pd.DataFrame) -> str:
    """The range of std / mean of the mean residual over the models with several seeds."""
    label = RESIDUALS[0][3]
    rel = (df[(label, "std")] / df[(label, "mean")]).dropna()
    if not len(rel):
        return "No model has two or more seeds in these results, so no spread can be given."
    return (f"Relative spread of the mean residual over seeds (std / mean): from "
            f"{fmt(100 * rel.min())} % (model {int(rel.idxmin())}) to {fmt(100 * rel.max())} % "
            f"(model {int(rel.idxmax())}). A difference between two single runs smaller than "
            f"about {SPREAD_K:g}·√2 ≈ {SPREAD_K * np.sqrt(2):.1f} such spreads is not evidence "
            "of a difference between the models.")


def spread_panels(seeds: xr.Dataset) -> dict[str, xr.DataArray]:
    """The per-seed statistics of the seed-spread figure, by panel title."""
    test, train = seeds.sel(set="test"), seeds.sel(set="train")
    return {"mean residual ⟨res⟩ (test)": test["mean_res"],
            "99th-percentile residual (test)": test["p99_res"],
            "maximum residual (test)": test["max_res"],
            "test / train mean residual": test["mean_res"] / train["mean_res"]}
