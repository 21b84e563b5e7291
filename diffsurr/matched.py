"""Error-matched classical solvers: what does a classical solve only as accurate as
a surrogate cost, and does the surrogate pay off against it (Eq. 4, Sec. 4)?

``python -m diffsurr.matched [--quick] [--device cpu|cuda]`` measures, in ONE run, on the
study's problem as the reference profile reads it (:data:`PROFILE`: two radius-5 disks, its
placement and source model, N = 100; :func:`diffsurr.data.draw_inputs`):

- the exact float64 solve (:func:`diffsurr.solver.solve`, checked against the sparse
  reference) and classical solves of lower fidelity (:func:`variants`): the same sine-transform
  solve in float32; coarser n × n grids (:data:`COARSE`) solved at spacing h = (N+1)/(n+1)
  and interpolated back to N × N, in float64 and float32; conjugate gradients stopped at a
  relative residual (:data:`CG_TOLS`);
- each one's time per sample (:func:`diffsurr.timing.time_per_sample`, best batch) and its
  residual statistics against the exact field (:func:`diffsurr.metrics.residual_stats`, the
  statistics of Table 2) on the same inputs;
- ε, the forward time per sample of every surrogate of the reference study (the runs of
  :func:`diffsurr.study.generalised_runs`: Table 2's models and the baselines),
  freshly initialised: the cost of a forward pass does not depend on the weights.

The surrogates' errors are not measured here: they are their runs' test mean residuals
(``eval.nc``, :func:`surrogates`). :func:`pareto` finds the cost-error front, :func:`fit_cost`
fits a power law over it (a summary), :func:`matched_cost` reads the classical cost off the
front at a given error, :func:`matched_break_even` is Eq. 4 against that opponent. A full run writes
``results/benchmarks/matched-<device-slug>.nc`` (committed);
``--quick`` (tests, CI) writes ``results/<profile>/matched-<device-slug>.nc`` (git-ignored).
Not in the preprint; the book's pay-off page shows it.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr

from diffsurr import io, solver, timing
from diffsurr.runid import results_root
from diffsurr.data import PROBLEM, draw_inputs
from diffsurr.metrics import residual_stats
from diffsurr.profiles import PROFILES
from diffsurr.speedup import break_even
from diffsurr.study import build_model, generalised_runs

MATCHED_FORMAT = 1
"""Layout of a matched file (the book's loader checks it)."""
PROFILE = "reference"
"""The profile whose reading of the problem is solved (source model, placement) and whose
runs are the surrogates."""
COARSE = (67, 50, 34, 25, 17, 12, 8)
"""Coarse grids n (n × n, spacing (N+1)/(n+1) pixels) solved and interpolated back to N × N."""
CG_TOLS = (1e-1, 3e-2, 1e-2, 1e-3, 1e-4)
"""Relative residual ||b − A u||₂ / ||b||₂ at which conjugate gradients stop."""
INPUT_SEED = 25
"""Seed of the scored and timed inputs (not the data set's seed: these are fresh samples)."""
MAX_DIFF = 1e-10
"""The exact fast solve must agree with the sparse reference to this (else: error)."""
STATS = ("mean_res", "p99_res", "max_res")


@dataclass(frozen=True)
class MatchedPlan:
    """How much a run measures (quick: tests and CI; full: the committed file)."""

    batches: tuple       # batch sizes timed (solvers and networks alike)
    warmup: int          # untimed calls per batch (timing.time_per_sample)
    min_s: float         # timed calls go on until they add up to this ...
    max_calls: int
    min_calls: int       # ... but at least this many
    n_score: int         # samples scored against the exact field
    n_check: int         # samples of the exact solve checked against the sparse reference
    models: tuple        # Table 2 models timed as surrogates (empty: every run of the study)


def plan_for(quick: bool) -> MatchedPlan:
    """The measurement sizes; the full plan takes a few minutes on the loaded 2-core CPU."""
    if quick:
        return MatchedPlan((1, 4), 1, 0.0, 1, 1, 8, 1, (6, 9))
    return MatchedPlan((1, 8, 32), 1, 0.3, 20, 3, 256, 4, ())


# ---------------------------------------------------------------- the classical variants
def _profile():
    return PROFILES[PROFILE]


def exact(x: np.ndarray) -> np.ndarray:
    """The exact float64 solve of the profile's reading (diffsurr.solver, fast path)."""
    return solver.solve(x, mode=_profile().mode, D=PROBLEM["D"], gamma=PROBLEM["gamma"])


@functools.lru_cache(maxsize=32)
def coarse_tables(N: int, n: int, dtype: str) -> tuple:
    """(R, S, λ) of the coarse solve: u ≈ S ((R x Rᵀ) / λ) Sᵀ.

    The coarse grid has n points per axis at spacing h = (N+1)/(n+1) fine pixels, so that its
    zero ghost points fall on the fine grid's (one pixel outside it). P (N × n) interpolates
    linearly from coarse to fine (hat functions); Pᵀ x P / h² restricts the source (full
    weighting, the source's integral kept); the coarse operator is γI − (D/h²)·L, solved by
    its sine transform φ (diffsurr.solver.sine_tables). So R = φ Pᵀ / h and S = P φ.
    """
    h = (N + 1) / (n + 1)
    P = np.maximum(0.0, 1 - np.abs(np.arange(1, N + 1)[:, None] / h
                                   - np.arange(1, n + 1)[None, :]))
    phi, lam = solver.sine_tables(n, PROBLEM["D"] / h ** 2, PROBLEM["gamma"])
    return tuple(a.astype(dtype) for a in (phi @ P.T / h, P @ phi, lam))


def coarse_solve(x: np.ndarray, n: int, dtype: str = "float64") -> np.ndarray:
    """Solve on an n × n grid in ``dtype``, interpolate to N × N, divide by the maximum
    (the production reading); float64 out."""
    R, S, lam = coarse_tables(x.shape[-1], n, dtype)
    u = (S @ ((R @ x.astype(dtype) @ R.T) / lam) @ S.T).astype(np.float64)
    return _finish(u, x)


def _finish(u: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The production reading's last step: each field divided by its maximum."""
    if _profile().mode != "production":
        raise ValueError(f"the lower-fidelity solves are written for the production reading; "
                         f"the {PROFILE} profile reads sources as {_profile().mode!r}")
    return solver.normalise(u)


def float32_solve(x: np.ndarray) -> np.ndarray:
    """The exact grid's sine-transform solve in float32 (production reading)."""
    return coarse_solve(x, x.shape[-1], "float32")


def _apply(u: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = A u = γu − D·(5-point Laplacian, zero outside) for a (B, N, N) batch."""
    D, gamma = PROBLEM["D"], PROBLEM["gamma"]
    np.multiply(u, gamma + 4 * D, out=out)
    out[:, 1:] -= D * u[:, :-1]
    out[:, :-1] -= D * u[:, 1:]
    out[:, :, 1:] -= D * u[:, :, :-1]
    out[:, :, :-1] -= D * u[:, :, 1:]
    return out


def cg_solve(x: np.ndarray, rtol: float, max_iter: int | None = None) -> tuple[np.ndarray, int]:
    """(field, iterations): conjugate gradients on A u = x (production, matrix-free, float64,
    from u = 0), every sample of the batch stopped once ||x − A u||₂ <= rtol ||x||₂."""
    max_iter = max_iter or 10 * x.shape[-1]
    u, r = np.zeros_like(x), x.astype(np.float64, copy=True)
    p, Ap = r.copy(), np.empty_like(r)
    rs = np.einsum("bij,bij->b", r, r)
    stop = rtol ** 2 * rs
    it = 0
    while it < max_iter:
        live = rs > stop
        if not live.any():
            break
        _apply(p, Ap)
        alpha = np.where(live, rs / np.einsum("bij,bij->b", p, Ap), 0.0)[:, None, None]
        u += alpha * p
        r -= alpha * Ap
        new = np.einsum("bij,bij->b", r, r)
        p *= np.where(live, new / np.where(rs > 0, rs, 1.0), 0.0)[:, None, None]
        p += r
        rs = new
        it += 1
    return _finish(u, x), it


def variants() -> list[dict]:
    """Every classical solve timed and scored: name, family, level (grid n or tolerance),
    dtype and a numpy (B, N, N) -> (B, N, N) function."""
    out = [{"name": "exact float64", "family": "exact", "level": float(PROBLEM["size"]),
            "dtype": "float64", "fn": exact},
           {"name": "float32", "family": "float32", "level": float(PROBLEM["size"]),
            "dtype": "float32", "fn": float32_solve}]
    for dtype in ("float64", "float32"):
        out += [{"name": f"coarse {n}² {dtype}", "family": f"coarse {dtype}", "level": float(n),
                 "dtype": dtype, "fn": functools.partial(coarse_solve, n=n, dtype=dtype)}
                for n in COARSE]
    out += [{"name": f"CG rtol {t:g}", "family": "CG", "level": t, "dtype": "float64",
             "fn": lambda b, t=t: cg_solve(b, t)[0]} for t in CG_TOLS]
    return out


# ---------------------------------------------------------------- fit and read-off
def pareto(cost: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Indices of the variants on the cost-error front, most accurate first: each is cheaper
    than every variant at least as accurate (error 0, an exact solve, is left out: the fit is
    in log error)."""
    cost, error = np.asarray(cost, float), np.asarray(error, float)
    order = [i for i in np.lexsort((cost, error)) if error[i] > 0 and np.isfinite(cost[i])]
    front, best = [], np.inf
    for i in order:
        if cost[i] < best:
            front.append(int(i))
            best = cost[i]
    return np.array(front, int)


def fit_cost(cost: np.ndarray, error: np.ndarray) -> dict | None:
    """Least-squares line log10 cost = a + b log10 error over the front (:func:`pareto`):
    {a, b, rms (of log10 cost), lo, hi (the front's error range), front}; None with fewer
    than two front points."""
    front = pareto(cost, error)
    if len(front) < 2:
        return None
    le, lc = np.log10(np.asarray(error)[front]), np.log10(np.asarray(cost)[front])
    b, a = np.polyfit(le, lc, 1)
    rms = float(np.sqrt(np.mean((a + b * le - lc) ** 2)))
    return {"a": float(a), "b": float(b), "rms": rms, "lo": float(10 ** le.min()),
            "hi": float(10 ** le.max()), "front": front}


def matched_cost(cost: np.ndarray, error: np.ndarray, target: float,
                 exact_cost: float) -> tuple[float, str]:
    """(cost of a classical solve with mean residual ``target``, how it was read): read off
    the front (:func:`pareto`) by straight lines in log cost against log error between its
    neighbouring points ("front"); at the nearer end where ``target`` lies outside it
    ("clamped": not extrapolated); never above the exact solve's cost ("exact": the exact
    solve is the cheaper opponent there); the exact cost where the front has no point
    ("no front")."""
    cost, error = np.asarray(cost, float), np.asarray(error, float)
    front = pareto(cost, error)
    if not len(front):
        return float(exact_cost), "no front"
    le, lc = np.log10(error[front]), np.log10(cost[front])
    t = float(np.log10(target)) if target > 0 else -np.inf
    read = float(10 ** np.interp(t, le, lc))
    if read >= exact_cost:
        return float(exact_cost), "exact"
    return read, "front" if le[0] <= t <= le[-1] else "clamped"


def as_accurate(cost: np.ndarray, error: np.ndarray, target: float) -> int | None:
    """Index of the cheapest measured variant with error <= ``target`` (None: none is)."""
    cost, error = np.asarray(cost, float), np.asarray(error, float)
    ok = np.flatnonzero(error <= target)
    return int(ok[np.argmin(cost[ok])]) if ok.size else None


def matched_break_even(delta_exact: float, delta_matched: float, epsilon: float, M: float,
                       E: float) -> float:
    """Eq. 4 against an error-matched opponent: the surrogate route still makes its M training
    samples with the exact solver (M·δ_exact + E + N·ε) while the direct route runs the
    cheaper solve (N·δ_matched), so N_min = (M·δ_exact + E)/(δ_matched − ε); inf when
    ε >= δ_matched. With δ_matched = δ_exact it is Eq. 4 itself."""
    return break_even(delta_matched, epsilon, 0.0, E + M * delta_exact)


# ---------------------------------------------------------------- the surrogates
def surrogate_runs(models: tuple = ()) -> list:
    """The reference study's surrogates: Table 2's ``models`` (default all) and each
    baseline, with the profile's seed (diffsurr.study.generalised_runs)."""
    from diffsurr.registry import MODELS

    runs = generalised_runs(_profile(), MODELS)
    return [r for r in runs if r.model in models] if models else runs


def _time_network(run, x: np.ndarray, plan: MatchedPlan, device: torch.device) -> np.ndarray:

    torch.manual_seed(0)
    model = build_model(run.config(), run.model).to(device)
    return timing.time_per_sample(timing.surrogate_call(model, device), x, _timing(plan))


def _timing(plan: MatchedPlan):
    return timing.TimingRule(batches=plan.batches, warmup=plan.warmup, min_s=plan.min_s,
                              max_calls=plan.max_calls, min_calls=plan.min_calls)


def surrogates(names, profile: str = PROFILE) -> dict[str, dict]:
    """{run name: test mean residual and the other statistics (``eval.nc``), the training
    wall time E (``history.nc``: stage_wall_time_s), model} for the runs of ``names`` whose
    files are in; a run without them is left out."""
    from diffsurr.results import load_attrs, load_optional
    from diffsurr.runid import RunId

    out = {}
    for name in names:
        run = RunId.parse(profile, str(name))
        ev, hist = run.dir / "eval.nc", run.dir / "history.nc"
        if not (ev.exists() and hist.exists()):
            continue
        e, h = load_optional(ev), load_attrs(hist)
        out[str(name)] = {**{s: float(e[s].sel(set="test")) for s in STATS},
                          "train_s": float(h.get("stage_wall_time_s",
                                                 h.get("wall_time_s", np.nan))),
                          "model": run.model, "arch": run.config().arch}
    return out


# ---------------------------------------------------------------- the run
def measure(device: str | None = "cpu", quick: bool = False, stage: dict | None = None,
            progress: bool = True) -> xr.Dataset:
    """Time and score every classical variant and time every surrogate, in one run; an
    xarray.Dataset (dims variant, run, batch, stat); see the module docstring."""
    device = timing.resolve_device(device)
    stage = stage if stage is not None else io.stage_start()
    t0 = time.perf_counter()
    plan, prof = plan_for(quick), _profile()
    n = max(max(plan.batches), plan.n_score)
    x = draw_inputs(n, INPUT_SEED, n_sources=PROBLEM["n_sources"], radius=PROBLEM["radius"],
                    size=PROBLEM["size"], placement=prof.placement)[0]
    y = exact(x[:plan.n_score])
    check = x[:plan.n_check]
    diff = float(np.abs(exact(check) - solver.solve(check, mode=prof.mode,
                                                    method="sparse")).max())
    if not diff <= MAX_DIFF:
        raise RuntimeError(f"the exact solve differs from the sparse reference by {diff:.1e}")
    vs = variants()
    solve_s = np.full((len(vs), len(plan.batches)), np.nan)
    stats = np.full((len(vs), len(STATS)), np.nan)
    iters = np.full(len(vs), -1)
    for i, v in enumerate(vs):
        solve_s[i] = timing.time_per_sample(v["fn"], x, _timing(plan))
        if v["family"] == "CG":
            out, iters[i] = cg_solve(x[:plan.n_score], v["level"])
        else:
            out = v["fn"](x[:plan.n_score])
        r = residual_stats(y, out)
        stats[i] = [float(r[s]) for s in STATS]
        if progress:
            print(f"{v['name']:22s} {1e3 * np.nanmin(solve_s[i]):8.3f} ms  mean res "
                  f"{stats[i, 0]:.2e}", flush=True)
    runs = surrogate_runs(plan.models)
    infer_s = np.full((len(runs), len(plan.batches)), np.nan)
    for j, run in enumerate(runs):
        infer_s[j] = _time_network(run, x, plan, device)
        if progress:
            print(f"{run.name:28s} eps {1e3 * np.nanmin(infer_s[j]):8.3f} ms", flush=True)
    load_start, load_end = stage["load_average_start"][0], os.getloadavg()[0]
    threads = torch.get_num_threads()
    other, loaded = timing.load_flag(load_start, load_end, threads, os.cpu_count())
    best = np.nanargmin(solve_s, axis=1)
    s = {"units": "s"}
    V, R = ("variant",), ("run",)
    ds = xr.Dataset(
        {
            "solve_s": (V + ("batch",), solve_s, {**s, "long_name": "classical solve time per "
                        "sample at each batch (timing.time_per_sample)"}),
            "cost_s": (V, solve_s[np.arange(len(vs)), best], {**s, "long_name": "time per "
                       "solve at its best batch"}),
            "cost_batch": (V, np.asarray(plan.batches)[best]),
            "residual": (V + ("stat",), stats, {"long_name": "residual statistics of the "
                         "variant against the exact float64 field (diffsurr.metrics."
                         "residual_stats)"}),
            "family": (V, np.array([v["family"] for v in vs])),
            "level": (V, np.array([v["level"] for v in vs]), {"long_name": "coarse grid n, "
                      "or CG tolerance, or N for the full grid"}),
            "dtype": (V, np.array([v["dtype"] for v in vs])),
            "cg_iterations": (V, iters, {"long_name": "CG iterations on the scored batch "
                              "(-1: not CG)"}),
            "infer_s": (R + ("batch",), infer_s, {**s, "long_name": "surrogate forward time "
                        "per sample at each batch, host numpy in and out (bench."
                        "surrogate_call)"}),
            "eps_s": (R, np.nanmin(infer_s, axis=1) if len(runs) else np.zeros(0),
                      {**s, "long_name": "epsilon: surrogate forward time per sample at its "
                       "best batch"}),
            "run_model": (R, np.array([r.model for r in runs], int)),
            "run_arch": (R, np.array([r.config().arch for r in runs])),
        },
        coords={"variant": [v["name"] for v in vs], "run": [r.name for r in runs],
                "batch": list(plan.batches), "stat": list(STATS)},
        attrs=io.provenance(
            stage, matched_format=MATCHED_FORMAT, device=str(device), device_kind=device.type,
            device_name=timing.device_name(device), solver_device=timing.device_name("cpu"),
            profile=PROFILE, mode=prof.mode, placement=prof.placement,
            n_sources=PROBLEM["n_sources"], radius=PROBLEM["radius"], size=PROBLEM["size"],
            input_seed=INPUT_SEED, n_score=plan.n_score, n_check=plan.n_check,
            exact_vs_sparse=diff, max_diff=MAX_DIFF, quick=bool(quick),
            eq4_M=prof.n_samples,
            timing=(f"timing.time_per_sample: {plan.warmup} untimed call(s), then the fastest of "
                    f"at least {plan.min_calls} calls, more until they add up to {plan.min_s} s "
                    f"(at most {plan.max_calls}); batches {list(plan.batches)}; classical "
                    "solves on the host CPU, surrogates on the device, freshly initialised"),
            torch_threads=threads, cpu_count=os.cpu_count(),
            wall_time_s=time.perf_counter() - t0, load_start_1min=float(load_start),
            load_end_1min=float(load_end), load_other_1min=other, loaded=loaded,
            loaded_per_core=timing.LOADED_PER_CORE))
    return ds


# ---------------------------------------------------------------- the comparison
def compare(ds: xr.Dataset, found: dict[str, dict] | None = None) -> pd.DataFrame:
    """One row per surrogate with an ``eval.nc`` (:func:`surrogates`): its mean residual, ε,
    the exact δ, the matched δ and how it was read (:func:`matched_cost`), the cheapest
    measured variant as accurate, the cost ratios, N_min (Eq. 4) against each opponent."""

    found = surrogates(ds.run.values) if found is None else found
    cost = ds.cost_s.values
    err = ds.residual.sel(stat="mean_res").values
    d_exact = float(ds.cost_s.sel(variant="exact float64"))
    M = float(ds.attrs["eq4_M"])
    rows = {}
    for name, s in found.items():
        if name not in ds.run.values:
            continue
        eps = float(ds.eps_s.sel(run=name))
        d_m, how = matched_cost(cost, err, s["mean_res"], d_exact)
        k = as_accurate(cost, err, s["mean_res"])
        rows[name] = {"model": s["model"], "arch": s["arch"], "mean_res": s["mean_res"],
                      "eps_s": eps, "delta_exact_s": d_exact, "delta_matched_s": d_m,
                      "read": how, "as_accurate": str(ds.variant.values[k]) if k is not None
                      else "", "as_accurate_s": float(cost[k]) if k is not None else d_exact,
                      "matched_over_exact": d_m / d_exact, "eps_over_exact": eps / d_exact,
                      "eps_over_matched": eps / d_m, "train_s": s["train_s"],
                      "n_min_exact": break_even(d_exact, eps, M, s["train_s"]),
                      "n_min_matched": matched_break_even(d_exact, d_m, eps, M, s["train_s"])}
    return pd.DataFrame.from_dict(rows, orient="index")


# ---------------------------------------------------------------- files and CLI
def output_path(ds: xr.Dataset, profile: str | None = None, root=None) -> Path:
    """A full run: ``results/benchmarks/matched-<slug>.nc`` (committed); a quick one:
    ``results/<profile>/matched-<slug>.nc`` (git-ignored; ``profile`` default "ci")."""
    name = f"matched-{timing.file_slug(ds)}.nc"
    return timing.measurement_file(name, name, bool(int(ds.attrs["quick"])), profile, root)


def matched_files(folder=None) -> list[Path]:
    """The full runs' files in ``folder`` (default results/benchmarks), one per device."""
    folder = Path(folder) if folder else results_root() / "benchmarks"
    return sorted(folder.glob("matched-*.nc"))


def save(ds: xr.Dataset, profile: str | None = None, out: str | None = None) -> Path:
    """Write a result to :func:`output_path` (or to ``out``); return the path."""
    return io.write_netcdf(ds, Path(out) if out else output_path(ds, profile))


def main(argv=None) -> xr.Dataset:
    """Command line: measure, print the variants and the comparison, write the file."""
    parser = argparse.ArgumentParser(prog="python -m diffsurr.matched",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few samples and calls (tests, CI)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="device of the surrogates (default cpu); classical solves run on "
                        "the host CPU")
    parser.add_argument("--profile", default=None, help="a quick run's results folder (ci)")
    parser.add_argument("--out", default=None, help="write here instead")
    args = parser.parse_args(argv)
    ds = measure(device=args.device, quick=args.quick)
    path = save(ds, args.profile, args.out)
    table = compare(ds)
    if len(table):
        print(table[["mean_res", "eps_s", "delta_exact_s", "delta_matched_s", "read",
                     "n_min_exact", "n_min_matched"]].to_string())
    print(f"\nwall {ds.attrs['wall_time_s']:.0f} s, loaded {bool(ds.attrs['loaded'])}; wrote "
          f"{path}")
    return ds


if __name__ == "__main__":
    main()
