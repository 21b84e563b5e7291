"""The benchmark: ``python -m diffsurr.bench all [--quick] [--device cpu|cuda]``.

It measures, in one run on one device, what the cost argument of Sec. 4 needs, under one set
of rules:

- inputs are drawn by :func:`diffsurr.data.draw_inputs`, as the study's data are;
- every solver's output is checked against an independent solution
  (:func:`diffsurr.reference_solution.reference_solve`, with a certified error bound); a solver
  is *exact* when it is float64 and within :data:`EXACT_TOL` of it; float32 paths and time
  stepping are kept apart, with their error;
- solvers and the surrogate (Table 2 model 9) are timed by the same rule
  (:func:`diffsurr.timing.time_interleaved`) at the same batch sizes, from a float64 numpy
  batch on the host to a numpy result on the host (so every torch path pays its host/device
  copies), interleaved in rounds (a load change meets them alike), δ and ε at batch 1 and at
  their best batch;
- training is timed through :func:`diffsurr.train.train` itself
  (:func:`diffsurr.timing.train_option_times`) and extrapolated to the paper profile's 800
  epochs;
- Eq. 4's break-even N for each solver (diffsurr.speedup);
- the machine's load average at start and end; the run is flagged ``loaded`` when other
  processes' 1-min load exceeds :data:`diffsurr.timing.LOADED_PER_CORE` per core.

The full run writes ``results/benchmarks/<device-slug>.nc`` (committed); ``--quick`` (CI, the
workflow's scaled profiles) writes ``results/<profile>/benchmark-<device-slug>.nc``, a
git-ignored folder (:func:`output_path`). Experiments on training speed whose files nothing
reads live in ``tools/speed.py``.
"""

import argparse
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from diffsurr import io, solver
from diffsurr.data import draw_inputs, split
from diffsurr.loss import ExpWeightedLoss
from diffsurr.nets import Surrogate
from diffsurr.profiles import PROFILES
from diffsurr.reference_solution import reference_solve
from diffsurr.registry import spec
from diffsurr.runid import results_root
from diffsurr.solver_torch import solve_torch
from diffsurr.speedup import PREPRINT_DELTA_S, break_even
from diffsurr.timing import (LOADED_PER_CORE, device_name, file_slug, load_flag,
                             measurement_file, profile_slug, reset_peak_rss, resolve_device,
                             surrogate_call, time_interleaved, train_option_times)

PREPRINT_S_PER_SOLVE = PREPRINT_DELTA_S
N_DATASET = 20_000
BENCH_MODEL = 9
"""Table 2's model 9, the one the preprint trains in Fig. 4 and recommends in Sec. 5."""
BENCH_PROFILES = ("paper", "ci")
BENCH_FORMAT = 2
"""Layout of a ``bench all`` file. 1 (no attribute): before this format, the sparse row was
compared with itself, the surrogate was timed without the copies the torch solvers paid, and
no load flag was kept; :func:`diffsurr.book.speedup.load_benchmarks` leaves such files out."""
EXACT_TOL = 1e-10
"""A float64 solver is called exact when max |u − u_ref| <= EXACT_TOL against the
independent reference solution (whose certified error bound is far below it)."""
REFERENCE_BOUND_MAX = 1e-11
"""The independent reference must certify max |u_ref − u*| below this (10x under EXACT_TOL)."""


def _torch_solver(device, mode, dtype):
    """solve_torch as a numpy -> numpy function: host-to-device copy, solve, copy back."""
    def run(batch):
        return solve_torch(torch.from_numpy(batch).to(device), mode=mode,
                           dtype=dtype).cpu().numpy()
    return run


def solver_cases(mode, device):
    """(name, dtype, numpy -> numpy function) of every solver, slowest first."""
    return [("time stepping (numpy)", "float64",
             lambda b: solver.solve(b, mode, method="timestep")),
            ("sparse LU (scipy)", "float64", lambda b: solver.solve(b, mode, method="sparse")),
            ("fast (numpy)", "float64", lambda b: solver.solve(b, mode)),
            (f"fast torch float64 ({device.type})", "float64",
             _torch_solver(device, mode, torch.float64)),
            (f"fast torch float32 ({device.type})", "float32",
             _torch_solver(device, mode, torch.float32))]


@dataclass(frozen=True)
class BenchPlan:
    """How much ``bench_all`` measures on one device kind (CPU or CUDA), quick or not."""

    batches: tuple               # batch sizes, the same for every solver and the surrogate
    precisions: tuple            # surrogate: "fp32", and "bf16" (autocast) on CUDA
    warmup: int                  # untimed calls per (method, batch)
    min_s: float                 # timed calls go on until they add up to this
    max_calls: int
    min_calls: int               # ... but at least this many (one slow call under load is
                                 # no measurement)
    max_batch: dict              # solvers that loop over samples: largest batch timed
    n_check: int                 # samples checked against the independent reference
    train_options: tuple         # (bf16 autocast, channels_last, torch.compile) per option
    train_steps: int             # steps the long training run has more than the short one
    train_repeats: int           # warm epochs per training run (the fastest is kept)
    n_val: int                   # validation samples of the two training runs
    rounds: int = 3              # interleaved rounds over every solver and surrogate variant


_PER_SAMPLE = {"time stepping (numpy)": 1, "sparse LU (scipy)": 8}
"""Solvers that loop over samples, whose time per solve does not fall with the batch: timed
at the batch sizes up to this one only (time stepping takes about a second per solve)."""


def bench_plan(kind, quick):
    """The measurement sizes: small on a 2-core CPU (quick: about two minutes), larger on CUDA.

    CPU trains with TrainConfig's own defaults (fp32, channels_last); CUDA also with bf16
    autocast, contiguous tensors and (not quick) torch.compile.
    """
    cpu_option = ((False, True, False),)
    if kind == "cpu":
        if quick:
            return BenchPlan((1, 8, 32), ("fp32",), 1, 0.3, 50, 2,
                         {**_PER_SAMPLE, "sparse LU (scipy)": 1}, 2, cpu_option, 2, 1, 8, 2)
        return BenchPlan((1, 8, 32, 128), ("fp32",), 1, 1.0, 200, 3, _PER_SAMPLE, 3, cpu_option, 8,
                     3, 32)
    options = tuple((amp, cl, comp) for comp in ((False,) if quick else (False, True))
                    for cl in (False, True) for amp in (False, True))
    if quick:
        return BenchPlan((1, 8, 32, 128, 512), ("fp32", "bf16"), 3, 0.2, 50, 2, _PER_SAMPLE, 2,
                     options, 10, 1, 64, 2)
    return BenchPlan((1, 8, 32, 128, 512), ("fp32", "bf16"), 5, 1.0, 500, 3, _PER_SAMPLE, 3,
                 options, 100, 3, 256)


def _option_name(amp, channels_last, compiled):
    """A training option as text, for example ``bf16+channels_last+compile``."""
    return "+".join(["bf16" if amp else "fp32"] + ["channels_last"] * channels_last
                    + ["compile"] * compiled)


def _inference_memory(model, x, plan, device):
    """Peak CUDA bytes per precision (NaN off CUDA) and peak RSS of one call of the surrogate
    at the largest batch of ``plan`` (the timing runs interleaved, so it cannot say)."""
    peak = np.full(len(plan.precisions), np.nan)
    reset_peak_rss()
    for i, precision in enumerate(plan.precisions):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        try:
            surrogate_call(model, device, precision)(x[:max(plan.batches)])
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            continue
        if device.type == "cuda":
            peak[i] = torch.cuda.max_memory_allocated(device)
    return peak, io.peak_rss_bytes()


def _ratio_text(r):
    """δ/ε as 'N x faster' or 'N x slower'."""
    if not np.isfinite(r):
        return "n/a"
    x = r if r >= 1 else 1 / r
    return (f"{x:,.0f}x" if x >= 1000 else f"{x:.3g}x") + (" faster" if r >= 1 else " slower")


def _n_text(n):
    """A break-even count as text."""
    if np.isnan(n):
        return "n/a"
    return "never (inf)" if np.isinf(n) else f"{n:,.0f}"


def _mib(b):
    """Bytes as MiB text ('-' for NaN)."""
    return "-" if np.isnan(b) else f"{b / 2 ** 20:,.0f} MiB"


def _ms(s):
    """Seconds as ms text ('-' for NaN)."""
    return f"{1e3 * s:>9.4g}" if np.isfinite(s) else f"{'-':>9}"


def format_table(ds):
    """The human-readable table of a bench_all result (also stored as its ``table`` attr)."""
    a = ds.attrs
    batches = " ".join(f"{'b=' + str(b):>9}" for b in ds.batch.values)
    lines = [f"Benchmark on {a['device_kind']} '{a['device_name']}', {a['cpu_count']} CPUs, "
             f"torch threads {a['torch_threads']}, quick={bool(a['quick'])}, {a['created']}",
             f"load average (1 min) {a['load_start_1min']:.2f} -> {a['load_end_1min']:.2f}; "
             f"other processes {a['load_other_1min']:.2f}: "
             + ("LOADED (over " if a["loaded"] else "not loaded (at most ")
             + f"{a['loaded_per_core']} per core)", "",
             f"Solvers (ms per solve, host numpy in and out), draw_inputs, mode "
             f"{a['solver_mode']}; error: max |u - u_ref| on {a['n_check']} samples, "
             f"independent reference (certified to {a['reference_bound']:.0e}); exact: float64 "
             f"and error <= {a['exact_tol']:.0e}"]
    head = f"{'solver':<30} {batches} {'error':>9} {'exact':>6}"
    lines += [head, "-" * len(head)]
    for sv in ds.solver.values:
        r = ds.sel(solver=sv)
        cells = " ".join(_ms(v) for v in r.solve_s.values)
        lines.append(f"{sv:<30} {cells} {float(r.solve_error):>9.1e} "
                     f"{'yes' if int(r.exact) else 'no':>6}")
    lines += ["", f"Surrogate, Table 2 model {a['model']}, ms per sample, same batches and "
              "copies (eval, no_grad)"]
    head = (f"{'profile (NN2 width)':<30} {batches} {'peak RSS':>10} {'CUDA peak':>10}")
    lines += [head, "-" * len(head)]
    for pr in ds.profile.values:
        for pc in ds.precision.values:
            r = ds.sel(profile=pr, precision=pc)
            cells = " ".join(_ms(v) for v in r.infer_s.values)
            label = f"{pr} ({float(r.width):g}) {pc}"
            lines.append(f"{label:<30} {cells} {_mib(float(r.infer_peak_rss)):>10} "
                         f"{_mib(float(r.infer_cuda_peak.max())):>10}")
    lines += ["", f"Training through diffsurr.train.train, batch {a['train_batch']}: s per step "
              f"from two runs {a['train_steps_timed']} steps apart; EXTRAPOLATED to "
              f"{a['train_samples_per_epoch']:,} samples ({a['train_steps_per_epoch']} steps) + "
              f"validation of {a['val_samples']:,} per epoch, {a['train_epochs']} epochs"]
    head = (f"{'profile':<8} {'option':<30} {'s/step':>8} {'epoch':>9} "
            f"{str(a['train_epochs']) + ' epochs':>11} {'peak RSS':>10} {'CUDA peak':>10}")
    lines += [head, "-" * len(head)]
    for pr in ds.profile.values:
        for op in ds.train_option.values:
            r = ds.sel(profile=pr, train_option=op)
            if str(r.train_error.values):
                lines.append(f"{pr:<8} {op:<30} failed: {str(r.train_error.values)[:60]}")
                continue
            epoch = float(r.train_s_per_epoch_option)
            lines.append(f"{pr:<8} {op:<30} {float(r.train_s_per_step):>8.3g} "
                         f"{io.duration(epoch):>9} {io.duration(a['train_epochs'] * epoch):>11} "
                         f"{_mib(float(r.train_peak_rss)):>10} "
                         f"{_mib(float(r.train_cuda_peak)):>10}")
    lines += ["", f"delta/epsilon at batch 1 and each at its best batch, and Eq. 4 break-even "
              f"N_min (M = {a['eq4_M']:,} solves, E = extrapolated training time)"]
    head = f"{'solver':<30} " + " ".join(
        f"{pr + ' b=1':>17} {pr + ' best':>17} {'N_min ' + pr:>14}" for pr in ds.profile.values)
    lines += [head, "-" * len(head)]
    for sv in ds.solver.values:
        cells = []
        for pr in ds.profile.values:
            r = ds.sel(solver=sv, profile=pr)
            cells.append(f"{_ratio_text(float(r.speedup_batch1)):>17} "
                         f"{_ratio_text(float(r.speedup_best)):>17} {_n_text(float(r.n_min)):>14}")
        lines.append(f"{sv:<30} " + " ".join(cells))
    lines += ["(the preprint: delta = 1.16 s, delta/epsilon ~ 1000 on a Quadro RTX 6000, "
              "E = 12 h, N_min ~ 57,300)"]
    return "\n".join(lines)


def _best(per_sample, batches):
    """(value at batch 1, best value, its batch) of a (..., batch) array, NaN-aware."""
    best = np.nanargmin(per_sample, axis=-1)
    return (per_sample[..., 0], np.take_along_axis(per_sample, best[..., None], -1)[..., 0],
            np.asarray(batches)[best])


def bench_all(device=None, quick=False, stage=None):
    """Measure δ, ε, δ/ε, training time and Eq. 4's N_min in one run on one device.

    ``device``: "cpu", "cuda" (or "cuda:N"); default CUDA when available. ``quick`` takes
    small counts (CI). ``stage``: the calling stage's :func:`diffsurr.io.stage_start` (its
    commit, time and load); taken here when not given. Returns an xarray.Dataset (dims
    solver, batch, profile, precision, train_option) whose ``table`` attribute is the printed
    table; see the module docstring for the rules.
    """
    device = resolve_device(device)
    stage = stage if stage is not None else io.stage_start()
    plan, paper = bench_plan(device.type, quick), PROFILES["paper"]
    parts = split(paper.n_samples, paper.test_fraction, paper.val_fraction, paper.split_seed)
    n_train, n_val = len(parts["train"]), len(parts["val"])
    steps_per_epoch = math.ceil(n_train / paper.batch_size)
    rss_resets = reset_peak_rss()

    # inputs: the data module's sampler, the paper profile's placement; the timing batches
    # and the checked samples first, then a pool of training and validation pairs
    n_pool = (1 + plan.train_steps) * paper.batch_size
    n_time = max(max(plan.batches), plan.n_check)
    x = draw_inputs(n_time + n_pool + plan.n_val, paper.data_seed + 1,
                    placement=paper.placement)[0]

    # 1. solvers: delta per batch, and the error against the independent reference
    reference, bound = reference_solve(x[:plan.n_check], paper.mode)
    if bound.max() > REFERENCE_BOUND_MAX:
        raise RuntimeError(f"the independent reference is certified only to {bound.max():.1e} "
                           f"(need {REFERENCE_BOUND_MAX:.0e})")
    cases = solver_cases(paper.mode, device)
    solvers = [c[0] for c in cases]
    error = np.array([np.abs(fn(x[:plan.n_check]) - reference).max() for _, _, fn in cases])
    dtypes = np.array([c[1] for c in cases])
    exact = (dtypes == "float64") & (error <= EXACT_TOL)

    # 2. the surrogate per profile (NN2 width and head) and precision, timed interleaved with
    # every solver: delta and epsilon under the same load
    n_p = len(BENCH_PROFILES)
    templates = []
    for name in BENCH_PROFILES:
        torch.manual_seed(paper.seed)
        templates.append(Surrogate.from_table2(BENCH_MODEL, width=PROFILES[name].width,
                                               head=PROFILES[name].head).to(device))
    timed = [(fn, plan.max_batch.get(name)) for name, _, fn in cases] + [
        (surrogate_call(t, device, precision), None) for t in templates
        for precision in plan.precisions]
    per_sample = time_interleaved(timed, x[:n_time], plan, plan.rounds)
    solve_s = per_sample[:len(cases)]
    infer_s = per_sample[len(cases):].reshape(n_p, len(plan.precisions), len(plan.batches))
    delta_b1, delta_best, delta_best_batch = _best(solve_s, plan.batches)
    infer_cuda, infer_rss = np.full_like(infer_s, np.nan), np.full(n_p, np.nan)
    for i, template in enumerate(templates):
        peak, infer_rss[i] = _inference_memory(template, x[:n_time], plan, device)
        infer_cuda[i] = peak[:, None]                       # the same for every batch

    # 4. training per profile
    pool = x[n_time:]
    pool_y = solver.solve(pool, mode=paper.mode)
    as_t = lambda a: torch.from_numpy(a[:, None]).float()  # noqa: E731
    data = (as_t(pool[:n_pool]), as_t(pool_y[:n_pool]), as_t(pool[n_pool:]),
            as_t(pool_y[n_pool:]))
    loss_fn = ExpWeightedLoss.from_spec(spec(BENCH_MODEL))
    n_o = len(plan.train_options)
    train = {k: np.full((n_p, n_o), np.nan) for k in ("s_per_step", "other_s",
                                                       "val_s_per_sample", "cuda_peak", "rss")}
    train_error = np.full((n_p, n_o), "", dtype=object)
    for i, (name, template) in enumerate(zip(BENCH_PROFILES, templates)):
        prof = PROFILES[name]
        for j, option in enumerate(plan.train_options):
            reset_peak_rss()
            r = train_option_times(template, loss_fn, data, paper.batch_size, prof.lr, option, plan,
                             device, paper.seed)
            train["rss"][i, j] = io.peak_rss_bytes()
            for key in ("s_per_step", "other_s", "val_s_per_sample", "cuda_peak"):
                train[key][i, j] = r[key]
            train_error[i, j] = r["error"]
    del templates
    if device.type == "cuda":
        torch.cuda.empty_cache()

    # 3. ratios and 5. Eq. 4 (M = all solves made for the data, as the preprint counts them)
    eps_b1 = np.nanmin(infer_s[:, :, 0], axis=1)
    flat = infer_s.reshape(n_p, -1)
    best = np.nanargmin(flat, axis=1)
    eps_best = flat[np.arange(n_p), best]
    best_precision = np.array([plan.precisions[k // len(plan.batches)] for k in best])
    best_batch = np.array([plan.batches[k % len(plan.batches)] for k in best])
    epoch_option = (steps_per_epoch * train["s_per_step"] + n_val * train["val_s_per_sample"]
                    + train["other_s"])
    has_train = np.isfinite(epoch_option).any(axis=1)
    best_option = np.where(has_train, np.argmin(np.where(np.isfinite(epoch_option),
                                                         epoch_option, np.inf), axis=1), 0)
    epoch_best = np.where(has_train, epoch_option[np.arange(n_p), best_option], np.nan)
    E = paper.epochs * epoch_best
    M = paper.n_samples
    n_min = np.array([[break_even(d, eps_best[i], M, E[i]) if np.isfinite(E[i]) else np.nan
                       for d in delta_best] for i in range(n_p)])
    load_start, load_end = stage["load_average_start"][0], os.getloadavg()[0]
    threads = torch.get_num_threads()
    other, loaded = load_flag(load_start, load_end, threads, os.cpu_count())

    P, S, PO = ("profile",), ("solver",), ("profile", "train_option")
    bytes_ = {"units": "bytes"}
    ds = xr.Dataset(
        {
            "solve_s": (("solver", "batch"), solve_s, {
                "units": "s", "long_name": "delta: wall time per solve at each batch (NaN: not "
                "timed at this batch)"}),
            "delta_batch1_s": (S, delta_b1, {"units": "s", "long_name": "delta at batch 1"}),
            "delta_best_s": (S, delta_best, {"units": "s", "long_name": "delta at its best "
                                             "batch"}),
            "delta_best_batch": (S, delta_best_batch),
            "solve_dtype": (S, dtypes),
            "solve_error": (S, error, {"long_name": "max |u - u_ref| against the independent "
                                       "reference (reference_solve)"}),
            "exact": (S, exact.astype(np.int8), {"long_name": f"float64 and solve_error <= "
                                                 f"{EXACT_TOL:g}"}),
            "width": (P, np.array([PROFILES[p].width for p in BENCH_PROFILES]),
                      {"long_name": "NN2 channel multiplier"}),
            "head": (P, np.array([PROFILES[p].head for p in BENCH_PROFILES])),
            "infer_s": (("profile", "precision", "batch"), infer_s,
                        {"units": "s", "long_name": "epsilon: surrogate wall time per sample"}),
            "infer_cuda_peak": (("profile", "precision", "batch"),
                                infer_cuda,
                                {**bytes_, "long_name": "torch.cuda.max_memory_allocated in "
                                 "one call at the largest batch (NaN off CUDA)"}),
            "infer_peak_rss": (P, infer_rss, {**bytes_, "long_name": "peak RSS of the process "
                                              "during one call at the largest batch"}),
            "eps_batch1_s": (P, eps_b1, {"units": "s", "long_name": "epsilon at batch 1 "
                                         "(fastest precision)"}),
            "eps_best_s": (P, eps_best, {"units": "s", "long_name": "epsilon at the best batch "
                                         "and precision"}),
            "eps_best_batch": (P, best_batch),
            "eps_best_precision": (P, best_precision),
            "speedup_batch1": (("profile", "solver"), delta_b1[None] / eps_b1[:, None],
                               {"long_name": "delta / epsilon, both at batch 1 (> 1: surrogate "
                                "faster)"}),
            "speedup_best": (("profile", "solver"), delta_best[None] / eps_best[:, None],
                             {"long_name": "delta / epsilon, each at its best batch"}),
            "train_s_per_step": (PO, train["s_per_step"], {"units": "s", "long_name": "wall "
                                 "time per training step of diffsurr.train.train"}),
            "train_other_s": (PO, train["other_s"], {"units": "s", "long_name": "rest of a "
                              "training epoch: dead-unit count, state copies"}),
            "train_val_s_per_sample": (PO, train["val_s_per_sample"], {
                "units": "s", "long_name": "validation per sample (diffsurr.train."
                "evaluate_loss)"}),
            "train_error": (PO, train_error.astype(str), {"long_name": "why an option failed "
                            "('' if it ran)"}),
            "train_cuda_peak": (PO, train["cuda_peak"], {**bytes_, "long_name": "torch.cuda."
                                "max_memory_allocated (NaN off CUDA)"}),
            "train_peak_rss": (PO, train["rss"], {**bytes_, "long_name": "peak RSS of the "
                               "process during the training measurement"}),
            "train_s_per_epoch_option": (PO, epoch_option, {"units": "s", "long_name":
                                         "extrapolated seconds per epoch"}),
            "train_best_option": (P, np.array([_option_name(*plan.train_options[k]) if h else ""
                                               for k, h in zip(best_option, has_train)])),
            "train_s_per_epoch": (P, epoch_best, {"units": "s", "long_name": "extrapolated "
                                  "seconds per epoch, best option"}),
            "train_s_total": (P, E, {"units": "s", "long_name": f"E: extrapolated training "
                              f"time for {paper.epochs} epochs, best option"}),
            "n_min": (("profile", "solver"), n_min, {"long_name": "Eq. 4 break-even number of "
                      "uses (inf: never), delta and epsilon at their best batch"}),
        },
        coords={"solver": solvers, "profile": list(BENCH_PROFILES),
                "precision": list(plan.precisions), "batch": list(plan.batches),
                "train_option": [_option_name(*o) for o in plan.train_options]},
        attrs=io.provenance(
            stage, bench_format=BENCH_FORMAT, device=str(device), device_kind=device.type,
            device_name=device_name(device), torch_threads=threads, cpu_count=os.cpu_count(),
            quick=bool(quick), model=BENCH_MODEL, solver_mode=paper.mode,
            placement=paper.placement, input_seed=paper.data_seed + 1,
            timing=(f"every solver and the surrogate by time_interleaved, in {plan.rounds} "
                    f"rounds that each visit every solver, network and batch in turn: "
                    f"float64 numpy batch on the host in, numpy result on the host out; "
                    f"{plan.warmup} untimed call(s), then the fastest of at least "
                    f"{plan.min_calls} calls, more until they add up to {plan.min_s} s (at "
                    f"most {plan.max_calls}), shared among the rounds; loops over samples "
                    f"timed up to batch {plan.max_batch}"),
            timing_rounds=plan.rounds,
            n_check=plan.n_check, exact_tol=EXACT_TOL, reference_bound=float(bound.max()),
            reference=("conjugate gradients on a matrix-free 5-point operator (diffsurr.bench."
                       "reference_solve), with iterative refinement; bound = ||r||_2 / "
                       "lambda_min(A)"),
            train_batch=paper.batch_size, train_steps_timed=plan.train_steps,
            train_repeats=plan.train_repeats,
            train_val_n=plan.n_val, train_samples_per_epoch=n_train,
            train_steps_per_epoch=steps_per_epoch, val_samples=n_val,
            train_epochs=paper.epochs,
            extrapolation=(f"train_s_per_epoch and train_s_total are extrapolated from two "
                           f"runs of diffsurr.train.train ({plan.train_steps} steps per epoch "
                           f"apart, the fastest of {plan.train_repeats} warm epoch(s) each "
                           "compared) at the paper profile's sizes: "
                           "steps x s/step + validation samples x evaluate_loss time per "
                           "sample + the rest of an epoch; roll-back re-runs (preprint: ~40 "
                           "per run) and checkpoint writes are not included"),
            eq4_M=M, eq4=("n_min = (M + E/delta) / (1 - epsilon/delta) (preprint Eq. 4); M = "
                          "all solves made for the paper profile's data, as the preprint's "
                          "57,300 implies; E = train_s_total; delta, epsilon at their best "
                          "batch"),
            compile_measured=any(o[2] for o in plan.train_options),
            rss_peak_scope=("per measurement (peak reset via /proc/self/clear_refs)"
                            if rss_resets else "process lifetime so far"),
            load_start_1min=float(load_start), load_end_1min=float(load_end),
            load_other_1min=other, loaded=loaded, loaded_per_core=LOADED_PER_CORE))
    ds.attrs["table"] = format_table(ds)
    return ds


def output_path(ds, profile=None, root=None):
    """Where a bench_all result belongs (:func:`diffsurr.timing.measurement_file`): a full run
    in ``results/benchmarks/<slug>.nc``, a quick one in
    ``results/<profile>/benchmark-<slug>.nc``."""
    slug = file_slug(ds)
    return measurement_file(f"benchmark-{slug}.nc", f"{slug}.nc", bool(ds.attrs["quick"]),
                            profile, root)


def planned_output(profile, quick) -> str:
    """The file ``bench all`` will write for a run profile (the workflow rule's output),
    relative to the repository: as :func:`output_path`, for the profile's device."""
    slug = profile_slug(profile)
    return str(measurement_file(f"benchmark-{slug}.nc", f"{slug}.nc", quick, profile.name,
                                Path("results")))


def save(ds, out_dir=None, profile=None):
    """Write a bench_all result to :func:`output_path`, or to ``<out_dir>/<slug>[-quick].nc``
    when ``out_dir`` is given; return the path."""
    path = output_path(ds, profile)
    if out_dir:
        path = Path(out_dir) / f"{file_slug(ds)}{'-quick' if ds.attrs['quick'] else ''}.nc"
    return io.write_netcdf(ds, path)


def benchmark_files(folder=None) -> list[Path]:
    """The ``bench all`` files in ``folder`` (default results/benchmarks), one per device and
    run kind; the ``train-speed-*``, ``nn1-speed-*``, ``payoff-*`` and ``matched-*`` files
    there have other layouts and are left out."""
    folder = Path(folder) if folder else results_root() / "benchmarks"
    return sorted(f for f in folder.glob("*.nc") if not f.name.startswith(
        ("train-speed-", "nn1-speed-", "payoff-", "matched-")))


def cmd_all(args):
    """``all`` subcommand: run bench_all, print its table, write the netCDF file."""
    ds = bench_all(device=args.device, quick=args.quick)
    print(ds.attrs["table"])
    print(f"\nwrote {save(ds, args.out, args.profile)}")
    return ds


def main(argv=None):
    """Run one subcommand and return its result."""
    parser = argparse.ArgumentParser(prog="python -m diffsurr.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("all", help="solvers, surrogate inference and training, Eq. 4 break-even")
    p.add_argument("--quick", action="store_true", help="small counts (CI, about a minute)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="default: cuda if present")
    p.add_argument("--out", default=None,
                   help="output folder (default: results/benchmarks/<slug>.nc for a full run, "
                   "results/<profile>/benchmark-<slug>.nc for a quick one)")
    p.add_argument("--profile", default=None, help="the quick run's results folder (default ci)")
    p.set_defaults(func=cmd_all)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    main()
