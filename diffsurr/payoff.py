"""The pay-off map: from which problem size on does a surrogate pay off? (Eq. 4, Sec. 4)

``python -m diffsurr.payoff [--quick] [--device cpu|cuda]`` measures, in ONE run on one
device, for every cell (shape family, grid N, number of sources k):

- δ: the exact float64 solver's time per solve (``diffsurr.solver.solve``, fast clamped path,
  on the host's CPU), timed by :func:`diffsurr.timing.time_per_sample` at a few batch sizes,
  best batch kept; checked against the sparse reference (``method="sparse"``) on the cell's
  first samples, the largest difference recorded;
- the time to draw the cell's inputs (``draw_s``, not part of Eq. 4: a user has the inputs
  either way);

and per grid N:

- ε: the forward time per sample of Table 1's NN1 (Table 2 model 6: NN1 alone, fully
  convolutional, so it runs at any N; NN2's shapes fix 100×100), by the same timing function;
- τ: one training step per sample (forward, Eq. 1 loss, backward, Adam step, as
  diffsurr.train does), measured on a few steps at a batch that fits memory;

then Eq. 4's N_min = (M + E/δ)/(1 − ε/δ) for each cell (diffsurr.speedup.break_even), with M
and the epochs from a named profile (:data:`EQ4_PROFILE`: M = its 20,000 solves; E =
epochs × (training samples × τ + validation samples × ε), for its own 8 epochs and for the
paper's 800). Each variable's ``measured`` attribute says whether it is measured,
extrapolated or derived. The run records the device, the load flag of diffsurr.timing and
provenance (diffsurr.io).

A full run writes ``results/benchmarks/payoff-<device-slug>.nc`` (committed); ``--quick``
(CI and the workflow's scaled profiles: grids 100 and 200, one timed call per batch)
writes ``results/<profile>/payoff-<device-slug>.nc`` (git-ignored).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from diffsurr import io, solver, timing
from diffsurr.runid import results_root
from diffsurr.data import PROBLEM, draw_inputs, draw_polylines, split
from diffsurr.loss import ExpWeightedLoss
from diffsurr.nets import Surrogate
from diffsurr.profiles import PROFILES
from diffsurr.registry import spec
from diffsurr.speedup import break_even

PAYOFF_FORMAT = 1
"""Layout of a pay-off file (the book's loader checks it)."""
GRIDS = (100, 200, 400, 512)
"""Grid sizes N of the full map (512: the largest the 2-core CPU's memory and time allow)."""
QUICK_GRIDS = (100, 200)
SOURCES = (1, 2, 5, 10, 20)
"""Numbers of sources k per image."""
FAMILIES = ("disks", "polylines")
"""Shape families: the study's radius-5 disks (diffsurr.data.draw_inputs, preprint Sec. 2)
and vessel-like polylines (diffsurr.data.draw_polylines, not in the preprint)."""
NETWORK_MODEL = 6
"""Table 2 model 6: NN1 alone (p1 = 1, p2 = 0), Table 1(a) at its only width; fully
convolutional, so the one Table 1 network that runs at any grid."""
EQ4_PROFILE = "reference"
"""The profile whose sizes enter Eq. 4: M = its n_samples solves (all solved samples, as the
preprint's N_min ≈ 57,300 counts them), its training and validation split, its epochs."""
EPOCH_PROFILES = ("reference", "paper")
"""Epoch counts of the two N_min columns: the reference study's 8 and the preprint's 800."""
MAX_DIFF = 1e-10
"""The fast solver must agree with the sparse reference to this in every cell (else: error)."""


@dataclass(frozen=True)
class PayoffPlan:
    """How much a run measures (quick: CI, grids 100 and 200; full: every grid)."""

    grids: tuple
    batches: dict        # grid -> batch sizes timed (solver and network alike)
    warmup: int          # untimed calls per batch (timing.time_per_sample)
    min_s: float         # timed calls go on until they add up to this ...
    max_calls: int
    min_calls: int       # ... but at least this many
    n_check: dict        # grid -> samples checked against the sparse reference
    train_steps: int     # timed training steps (the fastest kept)


def plan_for(quick: bool) -> PayoffPlan:
    """The measurement sizes; the full plan fits about 12 minutes on the loaded 2-core CPU."""
    if quick:
        return PayoffPlan(QUICK_GRIDS, {100: (1, 4), 200: (1, 2)}, 1, 0.0, 1, 1,
                    {100: 1, 200: 1}, 2)
    return PayoffPlan(GRIDS, {100: (1, 8, 32), 200: (1, 8), 400: (1, 4), 512: (1, 4)},
                      1, 0.5, 20, 3, {N: 2 for N in GRIDS}, 5)


def train_batch(N: int, batch_size: int) -> int:
    """Training batch at grid N: the profile's batch scaled by (100/N)² (the same pixels per
    step, so memory stays as at N = 100), at least 1."""
    return max(1, round(batch_size * (PROBLEM["size"] / N) ** 2))


def draw(family: str, n: int, seed: int, k: int, N: int) -> np.ndarray:
    """``n`` float64 input images of ``k`` sources of ``family`` on an N×N grid."""
    if family == "disks":
        return draw_inputs(n, seed, n_sources=k, size=N)[0]
    if family == "polylines":
        return draw_polylines(n, seed, n_sources=k, size=N)[0]
    raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")


def cell_seed(family: str, N: int, k: int) -> int:
    """A fixed input seed per cell, so that a rerun times the same images."""
    return 1000 * N + 10 * k + FAMILIES.index(family)


def measure_cell(family: str, N: int, k: int, plan: PayoffPlan) -> dict:
    """δ per batch (s per solve), its check against the sparse reference, rim size and the
    time to draw the inputs, for one cell."""
    batches = plan.batches[N]
    n = max(max(batches), plan.n_check[N])
    start = time.perf_counter()
    x = draw(family, n, cell_seed(family, N, k), k, N)
    draw_s = (time.perf_counter() - start) / n
    fast = solver.solve(x[:plan.n_check[N]])
    diff = float(np.abs(fast - solver.solve(x[:plan.n_check[N]], method="sparse")).max())
    if not diff <= MAX_DIFF:
        raise RuntimeError(f"the fast solver differs from the sparse reference by {diff:.1e} "
                           f"> {MAX_DIFF:.0e} at N = {N}, {k} {family}")
    solve_s = timing.time_per_sample(lambda b: solver.solve(b), x, _timing(plan, batches))
    rim = solver.rim_mask(x != 0).sum(axis=(1, 2)).mean()
    return {"solve_s": solve_s, "solve_diff": diff, "rim": float(rim), "draw_s": draw_s}


def _timing(plan: PayoffPlan, batches: tuple):
    """The attributes timing.time_per_sample reads, for ``batches``."""
    return timing.TimingRule(batches=batches, warmup=plan.warmup, min_s=plan.min_s,
                              max_calls=plan.max_calls, min_calls=plan.min_calls)


def network(device: torch.device, seed: int = 0) -> Surrogate:
    """Table 2's NN1-only model (:data:`NETWORK_MODEL`), freshly initialised on ``device``."""
    torch.manual_seed(seed)
    return Surrogate.from_table2(NETWORK_MODEL).to(device)


def train_step_s(model: Surrogate, x: torch.Tensor, y: torch.Tensor, lr: float,
                 steps: int, loss_model: int = NETWORK_MODEL) -> float:
    """Fastest of ``steps`` training steps (after one untimed), per sample: forward, Eq. 1
    loss (of Table 2's ``loss_model``), backward, Adam step, as diffsurr.train's loop runs
    them (channels_last, fused Adam on CUDA)."""
    from diffsurr.train import TrainConfig, make_optimizer

    device = x.device
    model.train()
    model.to(memory_format=torch.channels_last)
    cfg = TrainConfig(lr=lr, device=str(device), fused_adam=device.type == "cuda")
    opt = make_optimizer(model, cfg)
    loss_fn = ExpWeightedLoss.from_spec(spec(loss_model))

    def step():
        loss = loss_fn(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    step()
    return min(_timed(step) for _ in range(steps)) / len(x)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure_network(N: int, plan: PayoffPlan, device: torch.device, lr: float,
                    batch_size: int) -> dict:
    """ε per batch (s per sample, host numpy in and out as timing.surrogate_call) and τ, the
    training step per sample, of NN1 at grid N."""
    batches = plan.batches[N]
    nb = train_batch(N, batch_size)
    x = draw("disks", max(max(batches), nb), cell_seed("disks", N, 2), 2, N)
    eps = timing.time_per_sample(timing.surrogate_call(network(device), device), x,
                                _timing(plan, batches))
    xt = torch.from_numpy(x[:nb, None]).float().to(device)
    yt = torch.from_numpy(solver.solve(x[:nb])[:, None]).float().to(device)
    tau = train_step_s(network(device), xt, yt, lr, plan.train_steps)
    return {"infer_s": eps, "train_step_s": tau, "train_batch": nb}


def eq4(delta: np.ndarray, eps: np.ndarray, tau: np.ndarray, profile_name: str,
        epoch_profiles: tuple = EPOCH_PROFILES) -> tuple[np.ndarray, np.ndarray, dict]:
    """(E per grid and epoch column, N_min per cell and epoch column, the sizes used).

    E = epochs × (n_train·τ + n_val·ε): every training sample once per epoch, the
    validation pass once per epoch (diffsurr.train), roll-backs not counted. Eq. 4 (Sec. 4):
    N_min = (M + E/δ)/(1 − ε/δ), M = the profile's n_samples solves; inf: never.
    ``delta``: (family, grid, sources); ``eps``, ``tau``: (grid,).
    """
    prof = PROFILES[profile_name]
    parts = split(prof.n_samples, prof.test_fraction, prof.val_fraction, prof.split_seed)
    n_train, n_val = len(parts["train"]), len(parts["val"])
    epochs = np.array([PROFILES[p].epochs for p in epoch_profiles])
    E = epochs[None, :] * (n_train * tau[:, None] + n_val * eps[:, None])   # (grid, epochs)
    n_min = np.empty(delta.shape + (len(epochs),))
    for idx in np.ndindex(delta.shape):
        g = idx[1]
        n_min[idx] = [break_even(delta[idx], eps[g], prof.n_samples, e) for e in E[g]]
    return E, n_min, {"M": prof.n_samples, "n_train": n_train, "n_val": n_val,
                      "epochs": epochs.tolist()}


def _kind(text: str) -> dict:
    return {"measured": text}


def payoff(device: str | None = None, quick: bool = False, stage: dict | None = None,
           progress: bool = True) -> xr.Dataset:
    """Measure the pay-off map in one run on one device; an xarray.Dataset (dims family, grid,
    sources, batch, epochs); see the module docstring."""
    device = timing.resolve_device(device)
    stage = stage if stage is not None else io.stage_start()
    t0 = time.perf_counter()
    plan, prof = plan_for(quick), PROFILES[EQ4_PROFILE]
    batches = sorted({b for g in plan.grids for b in plan.batches[g]})
    shape = (len(FAMILIES), len(plan.grids), len(SOURCES))
    solve_s = np.full(shape + (len(batches),), np.nan)
    diff, rim, draw_s = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    infer_s = np.full((len(plan.grids), len(batches)), np.nan)
    tau, nb = np.full(len(plan.grids), np.nan), np.zeros(len(plan.grids), int)
    for g, N in enumerate(plan.grids):
        cols = [batches.index(b) for b in plan.batches[N]]
        net = measure_network(N, plan, device, prof.lr, prof.batch_size)
        infer_s[g, cols], tau[g], nb[g] = net["infer_s"], net["train_step_s"], net["train_batch"]
        for f, family in enumerate(FAMILIES):
            for s, k in enumerate(SOURCES):
                cell = measure_cell(family, N, k, plan)
                solve_s[f, g, s, cols] = cell["solve_s"]
                diff[f, g, s], rim[f, g, s], draw_s[f, g, s] = (cell["solve_diff"], cell["rim"],
                                                                cell["draw_s"])
                if progress:
                    print(f"N={N:4d} {k:2d} {family:9s} "
                          f"delta {1e3 * np.nanmin(cell['solve_s']):9.2f}"
                          f" ms  eps {1e3 * np.nanmin(net['infer_s']):8.2f} ms  "
                          f"diff {cell['solve_diff']:.1e}",
                          flush=True)
    delta = np.nanmin(solve_s, axis=-1)
    delta_batch = np.asarray(batches)[np.nanargmin(solve_s, axis=-1)]
    eps = np.nanmin(infer_s, axis=-1)
    E, n_min, sizes = eq4(delta, eps, tau, EQ4_PROFILE)
    load_start, load_end = stage["load_average_start"][0], os.getloadavg()[0]
    threads = torch.get_num_threads()
    other, loaded = timing.load_flag(load_start, load_end, threads, os.cpu_count())
    cell, grid = ("family", "grid", "sources"), ("grid",)
    s = {"units": "s"}
    ds = xr.Dataset(
        {
            "solve_s": (cell + ("batch",), solve_s, {**s, **_kind("measured"), "long_name":
                        "exact float64 solve time per sample at each batch (NaN: not timed)"}),
            "delta_s": (cell, delta, {**s, **_kind("measured"), "long_name": "delta: time per "
                        "exact solve at its best batch"}),
            "delta_batch": (cell, delta_batch),
            "solve_diff": (cell, diff, {**_kind("measured"), "long_name": "max |fast - sparse| "
                           "on the cell's checked samples"}),
            "rim_pixels": (cell, rim, {**_kind("measured"), "long_name": "mean number of source "
                           "rim pixels (the capacitance matrix's size)"}),
            "draw_s": (cell, draw_s, {**s, **_kind("measured"), "long_name": "drawing one input "
                       "image (not in Eq. 4)"}),
            "infer_s": (grid + ("batch",), infer_s, {**s, **_kind("measured"), "long_name":
                        "NN1 forward time per sample at each batch, host numpy in and out"}),
            "eps_s": (grid, eps, {**s, **_kind("measured"), "long_name": "epsilon: NN1 forward "
                      "time per sample at its best batch"}),
            "train_step_s": (grid, tau, {**s, **_kind("measured"), "long_name": "tau: one "
                             "training step (forward, loss, backward, Adam) per sample"}),
            "train_batch": (grid, nb, {"long_name": "batch of the timed training steps"}),
            "train_s": (("grid", "epochs"), E, {**s, **_kind(
                "extrapolated: epochs x (n_train x train_step_s + n_val x eps_s), from measured "
                "steps; roll-backs and checkpoints not counted"), "long_name": "E: training time"}),
            "data_s": (cell, sizes["M"] * delta, {**s, **_kind(
                "extrapolated: M x delta_s"), "long_name": "M·delta: solving the training data"}),
            "speedup": (cell, delta / eps[None, :, None], {**_kind("derived: delta_s / eps_s"),
                        "long_name": "delta / epsilon (> 1: a surrogate call is cheaper than a "
                        "solve)"}),
            "n_min": (cell + ("epochs",), n_min, {**_kind(
                "derived: Eq. 4 from measured delta_s, eps_s and extrapolated train_s"),
                "long_name": "Eq. 4 break-even number of uses (inf: never)"}),
        },
        coords={"family": list(FAMILIES), "grid": list(plan.grids), "sources": list(SOURCES),
                "batch": batches, "epochs": sizes["epochs"]},
        attrs=io.provenance(
            stage, payoff_format=PAYOFF_FORMAT, device=str(device), device_kind=device.type,
            device_name=timing.device_name(device), solver_device=timing.device_name("cpu"),
            solver=("diffsurr.solver.solve, fast clamped path, float64, numpy on the host CPU "
                    "(on every device)"),
            network=f"Table 2 model {NETWORK_MODEL}: NN1 alone (Table 1a, 3,075 parameters)",
            torch_threads=threads, cpu_count=os.cpu_count(), quick=bool(quick),
            eq4_profile=EQ4_PROFILE, eq4_M=sizes["M"], eq4_n_train=sizes["n_train"],
            eq4_n_val=sizes["n_val"], epoch_profiles=list(EPOCH_PROFILES),
            eq4="n_min = (M + E/delta) / (1 - epsilon/delta) (preprint Eq. 4, Sec. 4)",
            timing=(f"timing.time_per_sample: {plan.warmup} untimed call(s), then the fastest of "
                    f"at least {plan.min_calls} calls, more until they add up to {plan.min_s} s "
                    f"(at most {plan.max_calls}); batches {plan.batches}; training: fastest of "
                    f"{plan.train_steps} steps after one untimed"),
            n_check=plan.n_check, max_diff=MAX_DIFF, radius=PROBLEM["radius"],
            wall_time_s=time.perf_counter() - t0, load_start_1min=float(load_start),
            load_end_1min=float(load_end), load_other_1min=other, loaded=loaded,
            loaded_per_core=timing.LOADED_PER_CORE))
    return ds


def output_path(ds: xr.Dataset, profile: str | None = None, root=None) -> Path:
    """A full run: ``results/benchmarks/payoff-<slug>.nc`` (committed); a quick one:
    ``results/<profile>/payoff-<slug>.nc`` (git-ignored; ``profile`` default "ci")."""
    name = f"payoff-{timing.file_slug(ds)}.nc"
    return timing.measurement_file(name, name, bool(int(ds.attrs["quick"])), profile, root)


def planned_output(profile, quick: bool) -> str:
    """The file a run for ``profile`` will write (the workflow rule's output), relative to the
    repository, for the profile's device (as :func:`output_path`)."""
    name = f"payoff-{timing.profile_slug(profile)}.nc"
    return str(timing.measurement_file(name, name, quick, profile.name, Path("results")))


def payoff_files(folder=None) -> list[Path]:
    """The full runs' files in ``folder`` (default results/benchmarks), one per device."""
    folder = Path(folder) if folder else results_root() / "benchmarks"
    return sorted(folder.glob("payoff-*.nc"))


def save(ds: xr.Dataset, profile: str | None = None, out: str | None = None) -> Path:
    """Write a result to :func:`output_path` (or to ``out``); return the path."""
    return io.write_netcdf(ds, Path(out) if out else output_path(ds, profile))


def main(argv=None) -> xr.Dataset:
    """Command line: measure, print the N_min table, write the file."""
    parser = argparse.ArgumentParser(prog="python -m diffsurr.payoff",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="grids 100 and 200, few calls (CI)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="device of the network (default: cuda if present); the exact "
                        "solver runs on the host CPU")
    parser.add_argument("--profile", default=None, help="a quick run's results folder (ci)")
    parser.add_argument("--out", default=None, help="write here instead")
    args = parser.parse_args(argv)
    ds = payoff(device=args.device, quick=args.quick)
    print(ds.n_min.to_dataframe().n_min.unstack("sources").to_string())
    print(f"\nwall {ds.attrs['wall_time_s']:.0f} s, loaded {bool(ds.attrs['loaded'])}; wrote "
          f"{save(ds, args.profile, args.out)}")
    return ds


if __name__ == "__main__":
    main()
