"""The pay-off chapter's error-matched section (book/payoff.md): what a classical solve only
as accurate as each surrogate costs, and Eq. 4 against it (not in the preprint).

Everything is computed here from the ``python -m diffsurr.matched`` file (:func:`load`) and the
reference runs' ``eval.nc``/``history.nc`` (:func:`diffsurr.matched.surrogates`); the page
only inserts the sentences, the table and the figure. A surrogate *pays off* against an
opponent when its forward pass is cheaper than the opponent's solve (ε < δ, the pay-off map's
rule :data:`diffsurr.book.payoff.FASTER`): then Eq. 4 has a finite N_min. Tests feed numbers
that flip every sentence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .. import matched, payoff
from ..baselines import ARCH_NAMES
from ..registry import spec
from ..results import load_matched
from . import payoff as po

NO_FILE = ("*No error-matched measurement has been made yet: run `python -m diffsurr.matched` "
           "(full, committed to `results/benchmarks/`).*")
NO_SURROGATE = "*No surrogate of the reference study is evaluated yet, so none is compared.*"


# ---------------------------------------------------------------- loading
def load(profile, folder=None, root=None) -> tuple[dict[str, xr.Dataset], str]:
    """({file: dataset}, "full" or "quick"): the full runs in ``folder`` (default
    results/benchmarks/matched-*.nc), else the profile's quick run(s) under ``root``."""
    return load_matched(profile, folder, root)


def label(name: str, model: int, arch: str) -> str:
    """A surrogate's short name: "model 9", or the baseline's architecture."""
    return f"model {model}" if arch == "table1" else ARCH_NAMES.get(arch, arch)


def group(model: int, arch: str) -> str:
    """The figure's marker group: Table 2 with NN2 or NN1 alone, or the baseline."""
    if arch != "table1":
        return ARCH_NAMES.get(arch, arch)
    return "Table 2, NN1 alone" if spec(model).p2 == 0 else "Table 2, with NN2"


# ---------------------------------------------------------------- numbers
def classical(ds: xr.Dataset) -> pd.DataFrame:
    """The classical variants: family, mean residual, cost (s), on the front or not."""
    err = ds.residual.sel(stat="mean_res").values
    df = pd.DataFrame({"family": ds.family.values, "error": err, "cost": ds.cost_s.values},
                      index=ds.variant.values)
    df["front"] = False
    df.iloc[matched.pareto(df["cost"].values, err), df.columns.get_loc("front")] = True
    return df


def comparison(ds: xr.Dataset, found: dict | None = None) -> pd.DataFrame:
    """:func:`diffsurr.matched.compare` with each surrogate's short label, most accurate
    first."""
    table = matched.compare(ds, found)
    if table.empty:
        return table
    table["label"] = [label(n, int(r["model"]), str(r["arch"])) for n, r in table.iterrows()]
    table["group"] = [group(int(r["model"]), str(r["arch"])) for _, r in table.iterrows()]
    return table.sort_values("mean_res")


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison as the page's table, as text with three significant digits: times in
    ms, the cost ratios, N_min or "never" (δ of the exact solve is one number, in the text)."""
    out = pd.DataFrame({
        "⟨res⟩ (10⁻³)": (table["mean_res"] * 1e3).map(_sig),
        "ε, ms": (table["eps_s"] * 1e3).map(_sig),
        "δ matched, ms": (table["delta_matched_s"] * 1e3).map(_sig),
        "read": table["read"],
        "δ exact / δ matched": (1 / table["matched_over_exact"]).map(_sig),
        "ε / δ matched": table["eps_over_matched"].map(_sig),
        "N_min vs exact": table["n_min_exact"].map(_n),
        "N_min vs matched": table["n_min_matched"].map(_n)})
    out.index = table["label"].values
    out.index.name = "surrogate"
    return out


def _sig(v: float) -> str:
    """Three significant digits, without exponent up to 10⁶ (1,060, 6.74, 0.0378)."""
    return f"{float(f'{v:.3g}'):,.{max(0, 2 - int(np.floor(np.log10(abs(v)))))}f}" if v else "0"


def _n(v: float) -> str:
    return "never" if np.isinf(v) else f"{v:,.0f}"


def _ms(s: float) -> str:
    return f"{s * 1e3:.3g} ms"


def _x(r: float) -> str:
    return f"{r:.2g}" if r < 10 else f"{r:,.0f}"


def curve_sentence(ds: xr.Dataset) -> str:
    """The classical curve: which variants form the front, how the cost is read off it, the
    power law fitted over it, and the families that are off it."""
    df = classical(ds)
    fit = matched.fit_cost(df["cost"].values, df["error"].values)
    exact = float(ds.cost_s.sel(variant="exact float64"))
    front = df[df["front"]].sort_values("error")
    text = (f"The exact float64 solve takes {_ms(exact)} per solve (best batch). Of "
            f"{len(df) - 1} lower-fidelity solves, {len(front)} are on the cost-error front "
            "(each cheaper than every more accurate one): "
            + ", ".join(f"*{v}*" for v in front.index) + ". A surrogate's error-matched cost "
            "is read off this front, by straight lines in log cost against log error between "
            "its measured points, never extrapolated beyond its ends.")
    if fit is not None:
        text += (f" A power law fitted over the front, cost ∝ (mean residual)^{fit['b']:.2f}, "
                 f"misses its points by {fit['rms']:.2f} decades (rms), over mean residuals "
                 f"from {fit['lo']:.1e} to {fit['hi']:.1e}.")
    off = [f for f in df["family"].unique() if f != "exact"
           and not df.loc[df["family"] == f, "front"].any()]
    for f in off:
        cheapest = float(df.loc[df["family"] == f, "cost"].min())
        text += (f" *{f}* is off the front on this grid: at its cheapest it takes "
                 f"{_ms(cheapest)}, {_x(cheapest / exact)} times the exact solve.")
    return text


def verdict(table: pd.DataFrame, faster: float | None = None) -> str:
    """The recomputed verdict: how much cheaper the error-matched solve is at the surrogates'
    errors, and for how many surrogates a call is cheaper than each opponent."""
    if table.empty:
        return NO_SURROGATE
    faster = po.FASTER if faster is None else faster
    n = len(table)
    ratio = 1 / table["matched_over_exact"]
    pays_exact = (1 / table["eps_over_exact"]) > faster
    pays_matched = (1 / table["eps_over_matched"]) > faster
    best = table.loc[table["eps_over_matched"].idxmin()]
    text = (f"At the {n} surrogates' own test mean residuals "
            f"({table['mean_res'].min():.1e} to {table['mean_res'].max():.1e}), a classical "
            f"solve of the same accuracy costs {_x(ratio.min())} to {_x(ratio.max())} times less "
            "than the exact solve" + _clamped(table) + ". ")
    if not pays_exact.any() and not pays_matched.any():
        text += (f"**No surrogate pays off against either opponent on this machine**: every "
                 f"forward pass is slower than the exact solve already (ε/δ from "
                 f"{_x(table['eps_over_exact'].min())} to {_x(table['eps_over_exact'].max())}), "
                 f"and {_x(table['eps_over_matched'].min())} to "
                 f"{_x(table['eps_over_matched'].max())} times the error-matched solve, so "
                 "Eq. 4 has no break-even against either. The margin is wide: for a verdict "
                 "to change, the fastest forward pass would have to be "
                 f"{_x(table['eps_over_exact'].min())} times faster relative to the exact "
                 f"solve, {_x(table['eps_over_matched'].min())} times relative to the "
                 "error-matched one, than measured here.")
    else:
        text += (f"**Against the exact solve, {int(pays_exact.sum())} of {n} surrogates pay "
                 f"off; against the error-matched solve, {int(pays_matched.sum())} of {n}.** ")
        lost = table.index[pays_exact & ~pays_matched]
        if len(lost):
            text += ("The error-matched opponent takes the pay-off away from "
                     + ", ".join(table.loc[lost, "label"]) + ". ")
        if pays_matched.any():
            n_m = table.loc[pays_matched, "n_min_matched"]
            text += (f"Where it still pays off, the break-even against the error-matched solve "
                     f"is {_n(n_m.min())} uses at the least "
                     f"({table.loc[n_m.idxmin(), 'label']}).")
    return text + (f" The cheapest call relative to its opponent is {best['label']}'s: ε = "
                   f"{_ms(best['eps_s'])} against {_ms(best['delta_matched_s'])} for the "
                   "classical solve of its accuracy.")


def _clamped(table: pd.DataFrame) -> str:
    """Which surrogates' errors lie outside the measured front (their cost: its nearer end)."""
    out = table.loc[table["read"] == "clamped", "label"]
    if out.empty:
        return ""
    return (" (" + ", ".join(out) + (" lies" if len(out) == 1 else " lie") + " outside the "
            "measured front: the cost at its nearer end is taken, not extrapolated)")


def map_sentence(maps: dict[str, xr.Dataset], table: pd.DataFrame,
                 faster: float | None = None) -> str:
    """The pay-off map's verdict against an error-matched opponent: the map's network is
    model 6 (NN1 alone); its matched-to-exact cost ratio, measured on the study's problem at
    N = 100, scales every cell's δ (an assumption stated in the sentence); the paying cells
    are counted against each opponent."""
    faster = po.FASTER if faster is None else faster
    six = (table[(table["model"] == payoff.NETWORK_MODEL) & (table["arch"] == "table1")]
           if not table.empty else table)
    if not maps or six.empty:
        return ("The pay-off map cannot be recomputed against an error-matched opponent: "
                + ("no map is measured." if not maps else "model 6 is not compared above."))
    rho = float(six["matched_over_exact"].iloc[0])
    parts = []
    for name, ds in maps.items():
        e0 = int(ds.epochs.values[0])
        for f in ds.family.values:
            d = ds.delta_s.sel(family=f)
            exact = int((ds.speedup.sel(family=f) > faster).sum())
            scaled = int(((rho * d / ds.eps_s) > faster).sum())
            dd, ee, EE = (a.values.ravel() for a in
                          xr.broadcast(d, ds.eps_s, ds.train_s.sel(epochs=e0)))
            n_min = [matched.matched_break_even(a, rho * a, b, float(ds.attrs["eq4_M"]), c)
                     for a, b, c in zip(dd, ee, EE)]
            finite = [v for v in n_min if np.isfinite(v)]
            parts.append(f"{po.FAMILY_TEXT.get(str(f), f)}: {exact} of {d.size} cells pay off "
                         f"against the exact solve, {scaled} against the scaled one"
                         + (f" (smallest N_min {_n(min(finite))} with {e0} epochs)" if finite
                            else ""))
    return (f"**The pay-off map against an error-matched opponent.** The map's network is model "
            f"6; a classical solve as accurate as model 6 costs {_x(rho)} times the exact "
            f"solve's time on the study's problem (N = 100, two disks). If that ratio held in "
            f"every cell of the map (an assumption: it was measured at N = 100 only, and the map "
            f"solves the clamped reading), then " + "; ".join(parts) + ".")


# ---------------------------------------------------------------- figure
def figure(ds: xr.Dataset, table: pd.DataFrame):
    """plots.matched_cost of the file's variants (error > 0), their front and the compared
    surrogates, one marker per :func:`group`."""
    from . import plots

    df = classical(ds)
    front = df[df["front"]].sort_values("error")
    points = pd.DataFrame({"group": table.get("group", []), "error": table.get("mean_res", []),
                           "cost": table.get("eps_s", [])})
    return plots.matched_cost(df[df["error"] > 0], front,
                              float(ds.cost_s.sel(variant="exact float64")), points)


def caption(name: str, ds: xr.Dataset) -> str:
    """The figure's caption: what the marks are, from which file, and the load."""
    return ("**Figure P.2.** Time per solve against mean residual on the study's problem "
            f"(N = 100, two disks, {ds.attrs['mode']} sources, {ds.attrs['n_score']} fresh "
            "samples scored against the exact field): coarser grids interpolated back, float32 "
            "and CG stopped at a tolerance; dashed: their cost-error front, off which the "
            "error-matched cost is read; dotted: the exact solve's time; large marks: each "
            "surrogate's forward pass per sample at its test mean residual (the table below "
            "names them). All times from one run on "
            f"{po.device(ds)} (`{name}`). {po.load_sentence(ds)}")


def source_sentence(maps: dict[str, xr.Dataset], kind: str) -> str:
    """Which file the section shows, or that none is in."""
    if not maps:
        return NO_FILE
    name, ds = next(iter(maps.items()))
    a = ds.attrs
    where = "`results/benchmarks/`" if kind == "full" else "a quick run (too short to quote)"
    return (f"Measured in one run of `python -m diffsurr.matched` ({where}: `{name}`, "
            f"{a['created'][:10]}, {a['wall_time_s'] / 60:.1f} min, "
            f"{_threads(int(a['torch_threads']))}). {po.load_sentence(ds)}")


def _threads(n: int) -> str:
    return f"{n} torch thread" + ("s" if n != 1 else "")



# ---------------------------------------------------------------- the page's section
def section(profile, maps: dict[str, xr.Dataset], folder=None, root=None,
            found: dict | None = None) -> dict:
    """Everything the page's section shows: "source", "figure", "caption", "text" (the
    curve, the verdict, the map against a scaled opponent) and "table" (a styled table, or a
    line saying why there is none); without a file, the lines saying so."""
    from . import plots
    from .text import compact_table

    files, kind = load(profile, folder, root)
    if not files:
        none = pd.DataFrame(columns=["family", "group", "error", "cost"])
        empty = plots.matched_cost(none, none, np.nan, none)
        return {"source": NO_FILE, "figure": empty, "caption": "**Figure P.2.** " + NO_FILE,
                "text": "", "table": _markdown(NO_FILE)}
    name, ds = next(iter(files.items()))
    table = comparison(ds, found)
    text = "\n\n".join([curve_sentence(ds), verdict(table), map_sentence(maps, table)])
    shown_table = (compact_table(shown(table)).set_caption(
        f"{name}: each surrogate's test mean residual (its eval.nc), its forward time ε and "
        "the classical solve of the same mean residual (δ matched, read: front = read off "
        "the front between its measured points; clamped = beyond the front, its end; exact = "
        "the exact solve is cheaper there). N_min: Eq. 4 with M = "
        f"{int(ds.attrs['eq4_M']):,} exact solves for the data and E the run's own training "
        "time (its history.nc).") if not table.empty else _markdown(NO_SURROGATE))
    return {"source": source_sentence(files, kind), "figure": figure(ds, table),
            "caption": caption(name, ds), "text": text, "table": shown_table}


def _markdown(text: str):
    from IPython.display import Markdown

    return Markdown(text)
