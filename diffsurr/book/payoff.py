"""Findings of the pay-off map chapter (book/payoff.md): from which problem size on does a
surrogate pay off (Eq. 4, Sec. 4)?

Everything the chapter states is computed here from the ``python -m diffsurr.payoff`` files
(:func:`load_maps`); the page only inserts the sentences, the table and the figure. A cell
(grid N, k sources) *pays off* when the network's forward pass is cheaper than an exact
solve, δ/ε > :data:`FASTER`: then Eq. 4 has a finite N_min. Tests feed numbers that flip
every sentence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..registry import table2_frame
from ..results import load_payoff_maps
from .report import fmt
from .speedup import load_sentence

FASTER = 1.0
"""δ/ε above this: one surrogate call costs less than one exact solve, so Eq. 4 has a finite
N_min and the surrogate pays off after N_min uses; at or below it, never."""
FAMILY_TEXT = {"disks": "radius-5 disks", "polylines": "vessel-like polylines"}
NO_FILE = ("*No pay-off map has been measured yet: run `python -m diffsurr.payoff` (full, "
           "committed to `results/benchmarks/`) or the workflow's `payoff` rule.*")


# ---------------------------------------------------------------- loading
def load_maps(profile, folder=None, root=None) -> tuple[dict[str, xr.Dataset], str]:
    """({file: dataset}, which files these are): every full run in ``folder`` (default
    results/benchmarks/payoff-*.nc, one per device); where there is none, the profile's quick
    run(s) in ``<root>/<profile>/`` (default results/)."""
    return load_payoff_maps(profile, folder, root)


def device(ds: xr.Dataset) -> str:
    """The network's device in words, and where the exact solver ran."""
    a = ds.attrs
    kind = f"{a['cpu_count']}-core CPU" if a["device_kind"] == "cpu" else "GPU"
    solver = ("" if a["device_kind"] == "cpu"
              else f"; exact solver on its host CPU, {a['solver_device']}")
    return f"{a['device_name']} ({kind}{solver})"


def source_sentence(maps: dict[str, xr.Dataset], kind: str, profile) -> str:
    """Which files the page shows: full runs, or the profile's quick run, or none."""
    if not maps:
        return NO_FILE
    names = ", ".join(f"`{n}` ({device(ds)}, {ds.attrs['created'][:10]}, "
                      f"{ds.attrs['wall_time_s'] / 60:.1f} min)" for n, ds in maps.items())
    if kind == "full":
        return f"This page shows the full run(s) in `results/benchmarks/`: {names}."
    return (f"No full run is committed in `results/benchmarks/`; this page shows the "
            f"`{profile.name}` profile's quick run (grids {_list(maps, 'grid')} only, one timed "
            f"call per batch: too short to quote): {names}.")


def _list(maps, dim) -> str:
    values = sorted({int(v) for ds in maps.values() for v in ds[dim].values})
    return ", ".join(map(str, values))


# ---------------------------------------------------------------- numbers
def pays(ds: xr.Dataset) -> xr.DataArray:
    """True where δ/ε > FASTER (family, grid, sources): Eq. 4 has a finite N_min there."""
    return ds.speedup > FASTER


def onset(paying: pd.DataFrame) -> dict[int, int | None]:
    """Per grid N (rows of ``paying``, grid × sources): the smallest number of sources k from
    which on every larger measured k pays off too (None: not even at the largest k)."""
    out = {}
    for N, row in paying.iterrows():
        row = row.sort_index()
        tail = row[::-1].cumprod()[::-1].astype(bool)   # this k and every larger one pay
        out[int(N)] = int(tail.index[tail.values][0]) if tail.any() else None
    return out


def exceptions(paying: pd.DataFrame) -> list[tuple[int, int]]:
    """(N, k) cells that pay off although a larger k on the same grid does not."""
    found = []
    for N, k0 in onset(paying).items():
        row = paying.loc[N]
        below = row[row.index < k0] if k0 is not None else row
        found += [(N, int(k)) for k, v in below.items() if v]
    return found


def _n(v: float) -> str:
    if np.isinf(v):
        return "never"
    return f"{v / 1e6:.3g} million" if v >= 1e6 else f"{v:,.0f}"


def _grids(values) -> str:
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def trend(paying: pd.DataFrame) -> str:
    """Whether the paying cells grow or thin out with the grid size (counts per grid)."""
    counts = paying.sum(axis=1)
    per = ", ".join(f"{c} at N = {N}" for N, c in counts.items())
    steps = np.diff(counts.values)
    if (paying.values == paying.values[:1]).all():
        return (f"The same numbers of sources pay off at every grid ({per}): the number of "
                "sources decides, not the grid size.")
    if (steps >= 0).all() and steps.any():
        return (f"Larger grids favour the surrogate: cells that pay off out of "
                f"{paying.shape[1]}: {per}.")
    if (steps <= 0).all() and steps.any():
        return (f"Larger grids do not favour the surrogate here: cells that pay off out of "
                f"{paying.shape[1]}: {per}.")
    return f"Cells that pay off out of {paying.shape[1]}, by grid: {per}."


def crossing_sentence(ds: xr.Dataset, family: str) -> str:
    """Where a surrogate pays off for one shape family, stated from the numbers: per grid the
    number of sources from which on it does, the smallest N_min per epoch column, the trend."""
    paying = pays(ds).sel(family=family).transpose("grid", "sources").to_pandas()
    head = f"**{FAMILY_TEXT.get(family, family).capitalize()}:** "
    top, most = int(ds.grid.max()), int(ds.sources.max())
    if not paying.values.any():
        return (head + f"a surrogate never pays off on this machine: the exact solve is faster "
                f"than the network's forward pass in every cell measured (N up to {top}, up to "
                f"{most} sources).")
    starts = onset(paying)
    by_k = {}
    for N, k in starts.items():
        by_k.setdefault(k, []).append(N)
    parts = [f"at N = {_grids(Ns)} " + (f"from {k} source{'s' * (k > 1)} on" if k < most else
                                        f"only with {k} sources, the most measured")
             for k, Ns in by_k.items() if k is not None]
    text = head + ("a surrogate pays off " + "; ".join(parts) if parts else
                   "on no grid does a surrogate pay off for every number of sources from some "
                   "k on")
    if None in by_k and parts:
        text += f"; never at N = {_grids(by_k[None])} (up to {most} sources)"
    n_min = ds.n_min.sel(family=family)
    first = n_min.isel(epochs=0)
    best = first.where(pays(ds).sel(family=family) & np.isfinite(first)).to_series().dropna()
    N, k = best.idxmin()
    at = n_min.sel(grid=N, sources=k)
    text += (f". The smallest break-even is at N = {N} with {k} sources: N_min = " + ", ".join(
        f"{_n(float(at.sel(epochs=e)))} uses with {int(e)} epochs" for e in ds.epochs.values)
        + f" (the data set alone is {int(ds.attrs['eq4_M']):,} solves).")
    odd = exceptions(paying)
    if odd:
        text += (" Not monotone in the number of sources: it also pays off at " + ", ".join(
            f"N = {N} with {k}" for N, k in odd) + ", where more sources do not.")
    return text + " " + trend(paying)


def conclusions(maps: dict[str, xr.Dataset]) -> str:
    """Per device: the load, and the crossing per shape family."""
    if not maps:
        return NO_FILE
    out = []
    for name, ds in maps.items():
        lines = [f"- {crossing_sentence(ds, str(f))}" for f in ds.family.values]
        out.append(f"On **{device(ds)}** (`{name}`). {load_sentence(ds)}\n\n" + "\n".join(lines))
    return "\n\n".join(out)


def gpu_sentence(maps: dict[str, xr.Dataset]) -> str:
    """Which GPUs the map was measured on, or that none was."""
    gpus = [f"`{n}`" for n, ds in maps.items() if ds.attrs["device_kind"] == "cuda"]
    if gpus:
        return "Measured on a GPU: " + ", ".join(gpus) + " (above)."
    return ("No GPU has been measured for this map (`python -m diffsurr.payoff --device cuda` "
            "adds one), so this page does not answer the question for a GPU.")


def method_sentence(maps: dict[str, xr.Dataset]) -> str:
    """What went into Eq. 4: the network, M, the epochs, and how E was obtained."""
    if not maps:
        return NO_FILE
    a = next(iter(maps.values())).attrs
    return (f"The network is {a['network']}, fully convolutional, so it runs at every grid. "
            "It is the study's cheapest network, and alone not an accurate one (in the "
            f"preprint's Table 2, model 6's mean residual is {_nn1_gap():.0f} times the best "
            "model's), so this map is the best case for a surrogate: where it never pays off, "
            "a costlier network trained as long does not either, and a break-even here is a "
            "lower bound. "
            f"Eq. 4 takes M = {a['eq4_M']:,} solves (the `{a['eq4_profile']}` profile's data, "
            f"counted as the preprint counts them) and E = epochs × ({a['eq4_n_train']:,} "
            f"training samples × τ + {a['eq4_n_val']:,} validation samples × ε), with τ one "
            f"measured training step per sample: E is extrapolated from measured steps, δ, ε "
            f"and τ are measured, all in one run per device. The exact solver was checked "
            f"against the sparse reference on the first samples of every cell (largest "
            f"difference "
            f"{max(float(ds.solve_diff.max()) for ds in maps.values()):.0e}).")


def _nn1_gap() -> float:
    """The preprint's mean residual of model 6 (NN1 alone) over its best model's (Table 2)."""
    paper = table2_frame()["paper_mean_res"]
    return float(paper.sel(model=6) / paper.min())


# ---------------------------------------------------------------- table and figure
def _label(ds: xr.Dataset, var: str, text: str) -> str:
    return f"{text} [{ds[var].attrs['measured'].split(':')[0]}]"


def map_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per (family, N, k): δ, ε, δ/ε, E for the first epoch column and N_min for
    every epoch column, each column marked measured, extrapolated or derived; 'never' where
    Eq. 4 has no solution."""
    first = int(ds.epochs.values[0])
    df = pd.DataFrame({
        _label(ds, "delta_s", "δ, ms"): (ds.delta_s * 1e3).to_series(),
        _label(ds, "eps_s", "ε, ms"): (ds.eps_s * 1e3).broadcast_like(ds.delta_s).to_series(),
        _label(ds, "speedup", "δ/ε"): ds.speedup.to_series(),
        _label(ds, "train_s", f"E, h ({first} ep.)"): (ds.train_s.sel(epochs=first) / 3600
                                                       ).broadcast_like(ds.delta_s).to_series()})
    for e in ds.epochs.values:
        df[_label(ds, "n_min", f"N_min ({e} ep.)")] = ds.n_min.sel(epochs=e).to_series()
    df.index.names = ["shape", "N", "k"]
    return df.map(_cell)


def tables(maps: dict[str, xr.Dataset]) -> list:
    """The page's tables, one per file, compact and captioned (E scales with the epochs)."""
    from .text import compact_table

    out = []
    for name, ds in maps.items():
        e = [int(v) for v in ds.epochs.values]
        out.append(compact_table(map_table(ds)).set_caption(
            f"`{name}`, {device(ds)}: every cell; [measured] in this run, [extrapolated] from "
            f"measured steps, [derived] by Eq. 4. E for {e[-1]} epochs is {e[-1] / e[0]:g} times "
            f"E for {e[0]}."))
    return out


def _cell(v) -> str:
    if np.isinf(v):
        return "never"
    return f"{v:,.0f}" if abs(v) >= 1e3 else fmt(v)


def map_panels(maps: dict[str, xr.Dataset]) -> list[tuple[str, xr.DataArray]]:
    """(title, N_min over grid × sources) per device, family and epoch column, for
    plots.payoff_map."""
    return [(f"{FAMILY_TEXT.get(str(f), f)}, {int(e)} epochs\n{ds.attrs['device_name']}",
             ds.n_min.sel(family=f, epochs=e).transpose("grid", "sources"))
            for ds in maps.values() for e in ds.epochs.values for f in ds.family.values]


def figure_caption(maps: dict[str, xr.Dataset]) -> str:
    """The figure's caption: what the colours and marks are, from which files."""
    files = ", ".join(f"`{n}`" for n in maps) or "none"
    return ("**Figure P.1.** Eq. 4's break-even N_min (log colour; the number of uses after "
            "which the surrogate route, M solves + training + N network calls, beats N exact "
            "solves) over grid size N × number of sources k; grey cells marked *never*: the "
            "exact solve is faster than the network's forward pass there. One panel per shape "
            f"family and epoch count, each map measured in one run on one device ({files}).")
