"""Benchmarks: ``python -m diffsurr.bench <subcommand>`` (``solver``, ``all``, ``train-speed``
or ``nn1-speed``).

``solver`` times every solver of diffsurr.solver / diffsurr.solver_torch on the current
machine, on the data module's two-disk inputs (Sec. 2), against the preprint's Julia solver:
20,000 solves in about 6 h 30 min, 1.16 s per solve (Sec. 4).

``all`` measures, in one run on one device, what the cost argument of Sec. 4 needs, under one
set of rules (the issue "benchmarks, fair and single-sourced"):

- inputs are drawn by :func:`diffsurr.data.draw_inputs`, as the study's data are;
- every solver's output is checked against an independent solution (:func:`reference_solve`:
  conjugate gradients on a matrix-free 5-point operator written here, not diffsurr.solver's
  code, with a certified error bound); a solver is *exact* when it is float64 and within
  :data:`EXACT_TOL` of it; float32 paths and time stepping are kept apart, with their error;
- solvers and the surrogate (Table 2 model 9) are timed by the same function at the same batch
  sizes, from a float64 numpy batch on the host to a numpy result on the host (so every torch
  path pays its host/device copies), interleaved in rounds (a load change meets them alike),
  δ and ε at batch 1 and at their best batch;
- training is timed through :func:`diffsurr.train.train` itself (two short runs that differ
  only in their number of steps) and extrapolated to the paper profile's 800 epochs;
- Eq. 4's break-even N for each solver (diffsurr.speedup);
- the machine's load average at start and end; the run is flagged ``loaded`` when other
  processes' 1-min load exceeds :data:`LOADED_PER_CORE` per core.

The full run writes ``results/benchmarks/<device-slug>.nc`` (committed); ``--quick`` (CI, the
workflow's scaled profiles) writes ``results/<profile>/benchmark-<device-slug>.nc``, a
git-ignored folder (:func:`output_path`).

``train-speed`` measures, interleaved in one run on the CPU, samples/s of a training step and
of the validation pass of diffsurr.train for today's settings, each speed option alone and
the new TrainConfig defaults; it writes ``results/benchmarks/train-speed-<device-slug>.nc``.

``nn1-speed`` times a model 9 training step on one thread layer by layer (NN1's share, where
the time goes) and the nets' faster CPU paths against the plain torch layers, interleaved.
"""

import argparse
import copy
import json
import math
import os
import platform
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse.linalg as spla
import torch
import xarray as xr

from diffsurr import io, solver
from diffsurr.data import PROBLEM, draw_inputs, split
from diffsurr.loss import ExpWeightedLoss
from diffsurr.nets import Surrogate
from diffsurr.profiles import PROFILES
from diffsurr.registry import spec
from diffsurr.solver_torch import solve_torch
from diffsurr.speedup import PREPRINT_DELTA_S, break_even

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
LOADED_PER_CORE = 0.5
"""A run is flagged ``loaded`` when the 1-min load average of other processes (at the start,
or at the end less the benchmark's own torch threads) exceeds this many per CPU core."""


# --------------------------------------------------------------------------------------------
# the independent reference solution

def _apply_operator(u, D, gamma):
    """A u = γu − D·(5-point Laplacian of u, zero outside the grid) for one (N, N) field.

    Written here on purpose, apart from diffsurr.solver.steady_operator, so that the reference
    shares no code with the solvers it checks."""
    lap = -4.0 * u
    lap[1:, :] += u[:-1, :]
    lap[:-1, :] += u[1:, :]
    lap[:, 1:] += u[:, :-1]
    lap[:, :-1] += u[:, 1:]
    return gamma * u - D * lap


def reference_solve(inputs, mode="clamped", D=PROBLEM["D"], gamma=PROBLEM["gamma"],
                    refinements=2):
    """Independent steady fields of a (B, N, N) batch and a certified bound on their error.

    Conjugate gradients (scipy) on the matrix-free operator of :func:`_apply_operator`:
    clamped, on the free pixels with u = x on the sources; production, A u = x, then divided
    by its maximum. ``refinements`` rounds of iterative refinement on the true residual r.
    The smallest eigenvalue of A (and, by interlacing, of its free-pixel block) is
    λ_min = γ + 2D(2 − 2cos(π/(N+1))), so max |u − u*| <= ‖r‖₂ / λ_min: the returned bound
    (per sample; for production, before normalisation, divided by the field's maximum).
    """
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] != x.shape[2]:
        raise ValueError(f"inputs must have shape (B, N, N); got {x.shape}")
    N = x.shape[-1]
    lam_min = gamma + 2 * D * (2 - 2 * np.cos(np.pi / (N + 1)))
    out, bound = np.empty_like(x), np.empty(len(x))
    for k, xs in enumerate(x):
        free = np.ones((N, N), bool) if mode == "production" else xs == 0
        n_free = int(free.sum())

        def matvec(v, free=free):
            u = np.zeros((N, N))
            u[free] = np.ravel(v)
            return _apply_operator(u, D, gamma)[free]
        op = spla.LinearOperator((n_free, n_free), matvec=matvec, dtype=np.float64)
        b = (xs.ravel() if mode == "production"
             else -_apply_operator(np.where(free, 0.0, xs), D, gamma)[free])
        v = np.zeros(n_free)
        for _ in range(refinements):
            dv, info = spla.cg(op, b - op.matvec(v), rtol=1e-14, atol=0.0, maxiter=20 * N * N)
            v = v + dv
        err = np.linalg.norm(b - op.matvec(v)) / lam_min
        u = xs.copy()
        u[free] = v
        if mode == "production":
            peak = u.max()
            u, err = u / peak, err / peak
        out[k], bound[k] = u, err
    return out, bound


# --------------------------------------------------------------------------------------------
# ``solver``: the solvers alone

def _best_time(fn, x, repeats, warm):
    """(min wall time per solve over ``repeats`` runs of fn(x), last output)."""
    if warm:
        fn(x[:2])  # tables, caches, kernel launch set-up
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(x)
        best = min(best, time.perf_counter() - start)
    return best / len(x), out


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


def bench_solver(n=256, n_sparse=20, n_timestep=3, mode="clamped", N=100, seed=0,
                 device=None, repeats=3):
    """Time the solvers on ``draw_inputs`` inputs; return a dict (config and one row per method).

    Two disks of radius 5 (N // 8 on a grid smaller than 40).

    Each row: ms per solve (best of ``repeats`` for the batched paths), the predicted time
    for 20,000 solves, the speed-up over the preprint's 1.16 s per solve, the largest error
    against the independent :func:`reference_solve` on the first min(n, n_sparse, n_timestep)
    samples (``max_abs_error``), and, as before, the largest difference from the sparse solve.
    """
    if min(n, n_sparse, n_timestep, repeats) < 1:
        raise ValueError(f"n, n_sparse, n_timestep and repeats must be >= 1; got "
                         f"{n}, {n_sparse}, {n_timestep}, {repeats}")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    # two radius-5 disks (Sec. 2); radius N // 8 on grids too small to hold two of them
    x = draw_inputs(max(n, n_sparse, n_timestep), seed, radius=min(PROBLEM["radius"], N // 8),
                    size=N)[0]
    counts = {"time stepping (numpy)": (n_timestep, 1, False),
              "sparse LU (scipy)": (n_sparse, 1, False)}
    n_check = min(n, n_sparse, n_timestep)
    reference, bound = reference_solve(x[:n_check], mode)
    sparse = solver.solve(x[:n_sparse], mode, method="sparse")
    rows = []
    for name, dtype, fn in solver_cases(mode, device):
        count, reps, warm = counts.get(name, (n, repeats, True))
        per_solve, out = _best_time(fn, x[:count], reps, warm)
        common = min(len(out), len(sparse))
        rows.append({
            "method": name, "dtype": dtype, "batch": count, "ms_per_solve": 1e3 * per_solve,
            "s_for_20k": N_DATASET * per_solve,
            "speedup_vs_preprint": PREPRINT_S_PER_SOLVE / per_solve,
            "max_abs_error": float(np.abs(out[:n_check] - reference).max()),
            "max_abs_diff_vs_sparse": float(np.abs(out[:common] - sparse[:common]).max()),
        })
    config = {"n": n, "n_sparse": n_sparse, "n_timestep": n_timestep, "mode": mode, "N": N,
              "seed": seed, "device": str(device), "repeats": repeats,
              "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
              "load_average": os.getloadavg(), "reference_bound": float(bound.max()),
              "preprint_s_per_solve": PREPRINT_S_PER_SOLVE}
    if device.type == "cuda":
        config["gpu"] = torch.cuda.get_device_name(device)
    return {"config": config, "rows": rows}


def print_solver_table(result):
    """Print bench_solver's result as a table."""
    c = result["config"]
    print(f"Steady-state solvers, {c['N']}x{c['N']}, two radius-5 disks, mode={c['mode']}, "
          f"{c['cpu_count']} CPUs (load {c['load_average'][0]:.1f}), device {c['device']}; "
          f"error: max |u - u_ref|, independent reference (bound {c['reference_bound']:.0e})")
    header = (f"{'method':<30} {'batch':>6} {'ms/solve':>10} {'20k solves':>11} "
              f"{'vs 1.16 s':>10} {'error':>10}")
    print(header + "\n" + "-" * len(header))
    for r in result["rows"]:
        print(f"{r['method']:<30} {r['batch']:>6} {r['ms_per_solve']:>10.4g} "
              f"{io.duration(r['s_for_20k']):>11} {r['speedup_vs_preprint']:>9.4g}x "
              f"{r['max_abs_error']:>10.1e}")


def cmd_solver(args):
    """``solver`` subcommand: run bench_solver, print the table, optionally save JSON."""
    result = bench_solver(n=args.n, n_sparse=args.n_sparse, n_timestep=args.n_timestep,
                          mode=args.mode, N=args.grid, seed=args.seed, device=args.device,
                          repeats=args.repeats)
    print_solver_table(result)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return result


# --------------------------------------------------------------------------------------------
# ``all``: solvers, surrogate and training under one set of rules

@dataclass(frozen=True)
class _Plan:
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


def _plan(kind, quick):
    """The measurement sizes: small on a 2-core CPU (quick: about two minutes), larger on CUDA.

    CPU trains with TrainConfig's own defaults (fp32, channels_last); CUDA also with bf16
    autocast, contiguous tensors and (not quick) torch.compile.
    """
    cpu_option = ((False, True, False),)
    if kind == "cpu":
        if quick:
            return _Plan((1, 8, 32), ("fp32",), 1, 0.3, 50, 2,
                         {**_PER_SAMPLE, "sparse LU (scipy)": 1}, 2, cpu_option, 2, 1, 8, 2)
        return _Plan((1, 8, 32, 128), ("fp32",), 1, 1.0, 200, 3, _PER_SAMPLE, 3, cpu_option, 8,
                     3, 32)
    options = tuple((amp, cl, comp) for comp in ((False,) if quick else (False, True))
                    for cl in (False, True) for amp in (False, True))
    if quick:
        return _Plan((1, 8, 32, 128, 512), ("fp32", "bf16"), 3, 0.2, 50, 2, _PER_SAMPLE, 2,
                     options, 10, 1, 64, 2)
    return _Plan((1, 8, 32, 128, 512), ("fp32", "bf16"), 5, 1.0, 500, 3, _PER_SAMPLE, 3,
                 options, 100, 3, 256)


def _option_name(amp, channels_last, compiled):
    """A training option as text, for example ``bf16+channels_last+compile``."""
    return "+".join(["bf16" if amp else "fp32"] + ["channels_last"] * channels_last
                    + ["compile"] * compiled)


def device_name(device):
    """The GPU's name on CUDA; on CPU the model name from /proc/cpuinfo (else platform's)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def device_slug(kind, name):
    """File-name slug of a device: ``cuda-nvidia-h200``, ``cpu-intel-xeon-processor``."""
    name = re.sub(r"\((r|tm)\)", "", name, flags=re.IGNORECASE)
    return "-".join([kind] + re.findall(r"[a-z0-9]+", name.lower()))


def load_flag(load_start, load_end, own_threads, cpu_count, per_core=LOADED_PER_CORE):
    """(other processes' 1-min load, loaded?): the larger of the load at the start and the
    load at the end less the benchmark's own threads, against ``per_core`` x ``cpu_count``."""
    other = max(float(load_start), float(load_end) - own_threads, 0.0)
    return other, bool(other > per_core * cpu_count)


def _reset_peak_rss():
    """Reset the process's peak RSS (Linux /proc/self/clear_refs); False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _min_call_time(fn, min_s, max_calls, min_calls=1):
    """Shortest wall time of repeated calls of fn: at least ``min_calls``, then on until
    ``min_s`` is spent or ``max_calls`` are made."""
    times = []
    while len(times) < min_calls or (sum(times) < min_s and len(times) < max_calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def time_per_sample(fn, x, plan, max_batch=None):
    """Seconds per sample of ``fn`` (numpy batch -> numpy result) at each of plan.batches.

    The one timing rule of ``bench all``, for solvers and surrogate alike: for each batch size
    b, fn(x[:b]) is called plan.warmup times untimed, then timed until plan.min_s is spent;
    the fastest call, divided by b. NaN above ``max_batch`` and where CUDA runs out of
    memory. CUDA work is finished by the copy of the result to the host inside fn.
    """
    return time_interleaved([(fn, max_batch)], x, plan, rounds=1)[0]


def time_interleaved(cases, x, plan, rounds):
    """:func:`time_per_sample`'s rule for several functions at once, interleaved: ``cases``
    is a list of (fn, max_batch); in each of ``rounds`` rounds every (batch, case) in turn
    gets its share (1/rounds) of the timed calls, after plan.warmup untimed calls in the first
    round; the fastest call over all rounds is kept. A change of the machine's load during the
    run so meets every variant alike, and their ratios stay comparable. Returns (case, batch)."""
    out = np.full((len(cases), len(plan.batches)), np.nan)
    failed = set()
    calls = (max(1, -(-plan.min_calls // rounds)), max(1, plan.max_calls // rounds))
    for r in range(rounds):
        for j, b in enumerate(plan.batches):
            xb = x[:b]
            for i, (fn, max_batch) in enumerate(cases):
                if (max_batch is not None and b > max_batch) or (i, j) in failed:
                    continue
                try:
                    for _ in range(plan.warmup if r == 0 else 0):
                        fn(xb)
                    t = _min_call_time(lambda: fn(xb), plan.min_s / rounds, calls[1], calls[0])
                    out[i, j] = np.fmin(out[i, j], t / b)
                except torch.cuda.OutOfMemoryError:
                    torch.cuda.empty_cache()
                    failed.add((i, j))
                    out[i, j] = np.nan
    return out


def surrogate_call(model, device, precision="fp32"):
    """The surrogate as a numpy -> numpy function, with the copies the torch solvers pay:
    a float64 (B, N, N) host batch to float32 on the device, eval mode, no_grad (bf16
    autocast for ``precision`` "bf16"), the (B, N, N) prediction back on the host."""
    model.eval()

    def run(batch):
        with torch.no_grad(), torch.autocast(device.type, torch.bfloat16,
                                             enabled=precision == "bf16"):
            out = model(torch.from_numpy(batch[:, None]).float().to(device))
        return out.float().cpu().numpy()[:, 0]
    return run


def _inference_memory(model, x, plan, device):
    """Peak CUDA bytes per precision (NaN off CUDA) and peak RSS of one call of the surrogate
    at the largest batch of ``plan`` (the timing runs interleaved, so it cannot say)."""
    peak = np.full(len(plan.precisions), np.nan)
    _reset_peak_rss()
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


def _trainer_epoch_s(template, loss_fn, data, n_steps, cfg):
    """Wall time of the fastest warm epoch (all but the first of ``cfg.epochs``) of
    diffsurr.train.train on ``n_steps`` batches.

    The trainer's own loop, with its per-epoch validation, dead-unit count and state copies;
    no checkpoint, no roll-back (max_rollbacks = 0 in ``cfg``). The fastest epoch, because
    other processes on a shared machine only ever add time."""
    from diffsurr.train import train

    xs, ys, xv, yv = data
    n = n_steps * cfg.batch_size
    _, hist = train(copy.deepcopy(template), loss_fn, xs[:n], ys[:n], xv, yv, cfg,
                    progress=False)
    return float(np.diff(hist.wall_time_s.values).min())


def _bench_train(template, loss_fn, data, batch, lr, option, plan, device, seed):
    """Seconds per training step and the rest of an epoch, timed through diffsurr.train.train.

    Two runs of 1 + plan.train_repeats epochs each, one with 1 step per epoch and one with
    1 + plan.train_steps; their fastest warm epochs differ by plan.train_steps steps alone, so
    s_per_step is that difference over plan.train_steps, and ``other_s`` (validation, dead-unit count, state
    copies) the short epoch less one step. Validation per sample is timed with the trainer's
    evaluate_loss. Only torch.compile failures and CUDA out-of-memory are caught (``error``).
    """
    from diffsurr.train import TrainConfig, evaluate_loss

    amp, channels_last, compiled = option
    result = {"s_per_step": np.nan, "other_s": np.nan, "val_s_per_sample": np.nan,
              "cuda_peak": np.nan, "error": ""}
    cfg = TrainConfig(epochs=1 + plan.train_repeats, batch_size=batch, lr=lr, seed=seed,
                      max_rollbacks=0, device=str(device), amp=amp, channels_last=channels_last,
                      compile=compiled)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    try:
        short = _trainer_epoch_s(template, loss_fn, data, 1, cfg)
        if compiled:
            torch._dynamo.reset()
        long = _trainer_epoch_s(template, loss_fn, data, 1 + plan.train_steps, cfg)
        model = copy.deepcopy(template).to(device)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        xv, yv = data[2].to(device), data[3].to(device)
        evaluate_loss(model, loss_fn, xv, yv, cfg.val_batch_size, amp)  # warm-up
        val_s = _min_call_time(lambda: evaluate_loss(model, loss_fn, xv, yv,
                                                     cfg.val_batch_size, amp), plan.min_s, 3)
        result["val_s_per_sample"] = val_s = val_s / len(xv)
        step = (long - short) / plan.train_steps
        if step <= 0:
            result["error"] = (f"the run with {plan.train_steps} more steps per epoch was not "
                               f"slower ({long:.3g} s vs {short:.3g} s): load noise; rerun")
        else:
            result.update(s_per_step=step, other_s=max(short - step - len(xv) * val_s, 0.0))
    except torch.cuda.OutOfMemoryError as err:
        result["error"] = f"out of memory: {err}"[:500]
        torch.cuda.empty_cache()
    except Exception as err:  # torch.compile raises many kinds (Dynamo, Inductor, Triton)
        if not compiled:
            raise
        result["error"] = f"torch.compile failed: {type(err).__name__}: {err}"[:500]
    finally:
        if compiled:
            torch._dynamo.reset()
    if device.type == "cuda":
        result["cuda_peak"] = torch.cuda.max_memory_allocated(device)
    return result


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


def resolve_device(device: str | None) -> torch.device:
    """``device`` ("cpu", "cuda", "cuda:N"; default CUDA when available) as a torch device;
    ValueError for another kind, or for CUDA where torch sees none."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {str(device)!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA device; use 'cpu'")
    return device


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
    plan, paper = _plan(device.type, quick), PROFILES["paper"]
    parts = split(paper.n_samples, paper.test_fraction, paper.val_fraction, paper.split_seed)
    n_train, n_val = len(parts["train"]), len(parts["val"])
    steps_per_epoch = math.ceil(n_train / paper.batch_size)
    rss_resets = _reset_peak_rss()

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
            _reset_peak_rss()
            r = _bench_train(template, loss_fn, data, paper.batch_size, prof.lr, option, plan,
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
    """Where a bench_all result belongs: a full run in ``results/benchmarks/<slug>.nc``
    (committed), a quick one in ``results/<profile>/benchmark-<slug>.nc`` (git-ignored;
    ``profile`` default "ci")."""
    root = Path(root) if root else io.REPO_ROOT / "results"
    slug = device_slug(ds.attrs["device_kind"], ds.attrs["device_name"])
    if ds.attrs["quick"]:
        return root / (profile or "ci") / f"benchmark-{slug}.nc"
    return root / "benchmarks" / f"{slug}.nc"


def planned_output(profile, quick) -> str:
    """The file ``bench all`` will write for a run profile (the workflow rule's output),
    relative to the repository: as :func:`output_path`, for the profile's device."""
    kind = torch.device(profile.resolved_device()).type
    slug = device_slug(kind, device_name(kind))
    rel = Path(profile.name) / f"benchmark-{slug}.nc" if quick else Path("benchmarks") / f"{slug}.nc"
    return str(Path("results") / rel)


def save(ds, out_dir=None, profile=None):
    """Write a bench_all result to :func:`output_path`, or to ``<out_dir>/<slug>[-quick].nc``
    when ``out_dir`` is given; return the path."""
    path = output_path(ds, profile)
    if out_dir:
        slug = device_slug(ds.attrs["device_kind"], ds.attrs["device_name"])
        path = Path(out_dir) / f"{slug}{'-quick' if ds.attrs['quick'] else ''}.nc"
    return io.write_netcdf(ds, path)


def benchmark_files(folder=None) -> list[Path]:
    """The ``bench all`` files in ``folder`` (default results/benchmarks), one per device and
    run kind; the ``train-speed-*``, ``nn1-speed-*``, ``payoff-*`` and ``matched-*`` files
    there have other layouts and are left out."""
    folder = Path(folder) if folder else io.REPO_ROOT / "results" / "benchmarks"
    return sorted(f for f in folder.glob("*.nc") if not f.name.startswith(
        ("train-speed-", "nn1-speed-", "payoff-", "matched-")))


def cmd_all(args):
    """``all`` subcommand: run bench_all, print its table, write the netCDF file."""
    ds = bench_all(device=args.device, quick=args.quick)
    print(ds.attrs["table"])
    print(f"\nwrote {save(ds, args.out, args.profile)}")
    return ds


# --------------------------------------------------------------------------------------------
# train-speed: one training step and the validation pass of diffsurr.train, today's settings
# against the new TrainConfig defaults and each option alone, interleaved in one run.

TODAY = {"cpu_threads": None, "channels_last": False, "fused_adam": False, "compile": False,
         "val_batch_size": 256, "val_inference_mode": False}
"""The settings of train() before the speed work: torch's threads (2 on 2 cores), contiguous
tensors, the for-loop Adam, validation under no_grad in batches of 256."""
SPEED_WIDTHS = (0.25, 0.5)
WORKFLOW_THREADS = 1
"""Torch threads of each workflow job (the Snakefile sets OMP_NUM_THREADS=1)."""


def speed_variants(compiled=False):
    """{name: settings}: today's code, each option alone, and combinations of them.

    The combinations leave one option out of the full set at a time, so that each option's
    effect shows at the thread count the others use; one of them is the new TrainConfig
    default (:func:`default_variant`).
    """
    one = {"cpu_threads": 1, "val_inference_mode": True}
    variants = {"today": TODAY,
                "threads=1": {**TODAY, "cpu_threads": 1},
                "channels_last": {**TODAY, "channels_last": True},
                "fused_adam": {**TODAY, "fused_adam": True},
                "val inference_mode": {**TODAY, "val_inference_mode": True},
                "1t+fused+val": {**TODAY, **one, "fused_adam": True},
                "1t+cl+val": {**TODAY, **one, "channels_last": True},
                "1t+cl+fused+val": {**TODAY, **one, "channels_last": True, "fused_adam": True},
                "2t+cl+fused+val": {**TODAY, "val_inference_mode": True, "channels_last": True,
                                    "fused_adam": True}}
    if compiled:
        variants["1t+cl+fused+val+compile"] = {**variants["1t+cl+fused+val"], "compile": True}
    return variants


def default_variant(variants):
    """The name of the variant whose settings are TrainConfig's defaults ('' if none)."""
    from diffsurr.train import TrainConfig

    new = TrainConfig()
    defaults = {"cpu_threads": WORKFLOW_THREADS, "channels_last": new.channels_last,
                "fused_adam": new.fused_adam, "compile": new.compile,
                "val_batch_size": new.val_batch_size, "val_inference_mode": True}
    return next((name for name, s in variants.items() if s == defaults), "")


def bench_train_speed(widths=SPEED_WIDTHS, model=BENCH_MODEL, batch=25, steps=10, rounds=4,
                      n_pool=200, n_val=256, compiled=False, lr=1e-3, seed=0, progress=True):
    """samples/s of a training step and of validation per settings variant, interleaved.

    For each NN2 width, every variant of :func:`speed_variants` gets its own copy of one
    freshly initialised model (Table 2 ``model``, relu head) and its own optimiser; then
    ``rounds`` times, each variant in turn runs ``steps`` timed training steps (the loop of
    diffsurr.train: random batch of ``batch`` from a pool of ``n_pool`` production/code-placement
    samples, forward, Eq. 1 loss, backward, Adam) and one timed validation pass over ``n_val``
    samples. Round 0 is warm-up (and torch.compile's compilation, timed as ``compile_s``).
    Per variant: the median step time and the fastest validation pass, as samples/s, their
    ratios to "today", and seconds per epoch extrapolated to the reference sizes (14,400
    training and 1,600 validation samples). Returns an xarray.Dataset; ``table`` attr printed.
    """
    from diffsurr.train import TrainConfig, evaluate_loss, make_optimizer

    if min(steps, rounds, n_val, n_pool) < 1 or n_pool < batch:
        raise ValueError("steps, rounds, n_val must be >= 1 and n_pool >= batch")
    variants = speed_variants(compiled)
    names = list(variants)
    threads0 = torch.get_num_threads()
    load_start = os.getloadavg()
    x = draw_inputs(n_pool + n_val, seed + 1, placement="code")[0]
    y = solver.solve(x, mode="production")
    x, y = (torch.from_numpy(a[:, None]).float() for a in (x, y))
    xs, ys, xv, yv = x[:n_pool], y[:n_pool], x[n_pool:], y[n_pool:]
    loss_fn = ExpWeightedLoss.from_spec(spec(model))
    shape = (len(widths), len(names))
    train_sps, val_sps, compile_s = (np.full(shape, np.nan) for _ in range(3))
    step_ms = np.full(shape, np.nan)
    try:
        for i, width in enumerate(widths):
            torch.manual_seed(seed)
            template = Surrogate.from_table2(model, width=width, head="relu")
            runs = {}
            for name, s in variants.items():
                net = copy.deepcopy(template).train()
                if s["channels_last"]:
                    net.to(memory_format=torch.channels_last)
                opt = make_optimizer(net, TrainConfig(lr=lr, fused_adam=s["fused_adam"]))
                if s["compile"]:
                    torch._dynamo.reset()
                runs[name] = {"net": net, "opt": opt, "gen": torch.Generator().manual_seed(seed),
                              "call": torch.compile(net) if s["compile"] else net,
                              "step_s": [], "val_s": []}
            for r in range(rounds + 1):
                for j, (name, s) in enumerate(variants.items()):
                    run = runs[name]
                    torch.set_num_threads(s["cpu_threads"] or threads0)
                    total = torch.zeros((), dtype=torch.float64)
                    for _ in range(steps if r else (2 if s["compile"] else 1)):
                        start = time.perf_counter()
                        idx = torch.randperm(n_pool, generator=run["gen"])[:batch]
                        loss = loss_fn(run["call"](xs[idx]).float(), ys[idx])
                        run["opt"].zero_grad(set_to_none=True)
                        loss.backward()
                        run["opt"].step()
                        total += loss.detach().double() * batch
                        (run["step_s"] if r else run.setdefault("warm", [])).append(
                            time.perf_counter() - start)
                    if not math.isfinite(float(total)):
                        raise FloatingPointError(f"training loss became {float(total)} in {name}")
                    start = time.perf_counter()
                    if s["val_inference_mode"]:
                        evaluate_loss(run["net"], loss_fn, xv, yv, s["val_batch_size"])
                    else:
                        _evaluate_no_grad(run["net"], loss_fn, xv, yv, s["val_batch_size"])
                    if r:
                        run["val_s"].append(time.perf_counter() - start)
                    run["net"].train()
                    if progress:
                        print(f"width {width:g} round {r}/{rounds} {name}: step "
                              f"{1e3 * np.median(run['step_s'] or run['warm']):.0f} ms",
                              flush=True)
            for j, name in enumerate(names):
                run = runs[name]
                step_ms[i, j] = 1e3 * np.median(run["step_s"])
                train_sps[i, j] = batch / np.median(run["step_s"])
                val_sps[i, j] = n_val / min(run["val_s"])
                if variants[name]["compile"]:
                    compile_s[i, j] = sum(run["warm"]) - 2 * np.median(run["step_s"])
            del runs, template
    finally:
        torch.set_num_threads(threads0)
    load_end = os.getloadavg()
    n_train_ref, n_val_ref = 14_400, 1_600
    epoch_s = n_train_ref / train_sps + n_val_ref / val_sps
    WV = ("width", "variant")
    flags = {k: ("variant", np.array([int(v[k] or 0) for v in variants.values()]))
             for k in TODAY}
    ds = xr.Dataset(
        {"train_samples_per_s": (WV, train_sps, {"long_name": "training samples per second "
                                                 "(median step)"}),
         "train_ms_per_step": (WV, step_ms, {"units": "ms", "long_name": "median wall time "
                                             "per training step"}),
         "val_samples_per_s": (WV, val_sps, {"long_name": "validation samples per second "
                                             "(fastest pass)"}),
         "train_ratio": (WV, train_sps / train_sps[:, :1], {"long_name": "train samples/s "
                                                            "over today's"}),
         "val_ratio": (WV, val_sps / val_sps[:, :1], {"long_name": "validation samples/s "
                                                      "over today's"}),
         "epoch_s": (WV, epoch_s, {"units": "s", "long_name": f"extrapolated seconds per "
                                   f"epoch ({n_train_ref} train + {n_val_ref} validation)"}),
         "epoch_ratio": (WV, epoch_s[:, :1] / epoch_s, {"long_name": "epoch speed-up over "
                                                        "today's"}),
         "compile_s": (WV, compile_s, {"units": "s", "long_name": "torch.compile: warm-up "
                                       "time less two steps (NaN: not compiled)"}),
         **{f"setting_{k}": v for k, v in flags.items()}},
        coords={"width": list(widths), "variant": names},
        attrs=io.provenance(
            device="cpu", device_kind="cpu", device_name=device_name("cpu"), model=model,
            head="relu", batch=batch, steps_per_round=steps, rounds=rounds, n_pool=n_pool,
            n_val=n_val, lr=lr, seed=seed, torch_threads=threads0, cpu_count=os.cpu_count(),
            today_threads=threads0, variants=variants,
            default_variant=default_variant(variants), epoch_train_samples=n_train_ref,
            epoch_val_samples=n_val_ref, load_average_start=list(load_start),
            load_average_end=list(load_end),
            method=("interleaved: each round runs every variant in turn (steps training steps "
                    "then one validation pass); round 0 is warm-up; median step, fastest "
                    "validation pass")))
    ds.attrs["table"] = format_speed_table(ds)
    return ds


def _evaluate_no_grad(model, loss_fn, x, y, batch_size):
    """Validation as train.evaluate_loss did before the speed work (no_grad)."""
    model.eval()
    total = torch.zeros((), dtype=torch.float64)
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            total += loss_fn(model(xb).float(), yb).double() * len(xb)
    return float(total) / len(x)


def _load_line(a: dict) -> str:
    """The load averages a timing file records, at its start and end, as a table line."""
    ls, le = json.loads(a["load_average_start"]), json.loads(a["load_average_end"])
    return (f"load average {ls[0]:.2f} {ls[1]:.2f} {ls[2]:.2f} -> "
            f"{le[0]:.2f} {le[1]:.2f} {le[2]:.2f}")


def format_speed_table(ds):
    """The printed table of a bench_train_speed result."""
    a = ds.attrs
    lines = [f"Training speed, Table 2 model {a['model']} (NN1 full width + NN2 at width w, relu "
             f"head), batch {a['batch']}, CPU '{a['device_name']}', {a['cpu_count']} CPUs, "
             f"torch threads today {a['today_threads']}, {a['created']}",
             f"{_load_line(a)}; {a['rounds']} rounds x {a['steps_per_round']}"
             f" steps per variant, interleaved; validation over {a['n_val']} samples", ""]
    head = (f"{'w':>5} {'variant':<28} {'ms/step':>8} {'train/s':>8} {'x':>6} {'val/s':>8} "
            f"{'x':>6} {'epoch':>8} {'x':>6} {'compile':>8}")
    lines += [head, "-" * len(head)]
    for w in ds.width.values:
        for v in ds.variant.values:
            r = ds.sel(width=w, variant=v)
            comp = float(r.compile_s)
            mark = " *" if v == a["default_variant"] else ""
            lines.append(f"{w:>5g} {v + mark:<28} {float(r.train_ms_per_step):>8.0f} "
                         f"{float(r.train_samples_per_s):>8.1f} {float(r.train_ratio):>6.2f} "
                         f"{float(r.val_samples_per_s):>8.1f} {float(r.val_ratio):>6.2f} "
                         f"{float(r.epoch_s):>7.0f}s {float(r.epoch_ratio):>6.2f} "
                         f"{'' if np.isnan(comp) else format(comp, '.0f') + 's':>8}")
    lines.append(f"epoch: {a['epoch_train_samples']:,} training + {a['epoch_val_samples']:,} "
                 "validation samples, extrapolated; x: ratio to 'today'; *: TrainConfig's defaults "
                 "at the workflow's one thread per job; 1t/2t: 1 or 2 torch threads, cl: channels_last, fused: fused Adam, "
                 "val: validation in inference mode")
    return "\n".join(lines)


def save_speed(ds, out_dir=None, suffix=""):
    """Write a bench_train_speed result to ``<out_dir>/train-speed-<device-slug>.nc``."""
    out_dir = Path(out_dir) if out_dir else io.REPO_ROOT / "results" / "benchmarks"
    slug = device_slug(ds.attrs["device_kind"], ds.attrs["device_name"])
    return io.write_netcdf(ds, out_dir / f"train-speed-{slug}{suffix}.nc")


def cmd_train_speed(args):
    """``train-speed`` subcommand: run bench_train_speed, print its table, write the file."""
    ds = bench_train_speed(widths=tuple(args.widths), steps=args.steps, rounds=args.rounds,
                           n_val=args.n_val, compiled=args.compile)
    print(ds.attrs["table"])
    print(f"\nwrote {save_speed(ds, args.out)}")
    return ds


# --------------------------------------------------------------------------------------------
# nn1-speed: where a model 9 training step spends its time, layer by layer, and the step time of
# the nets' faster CPU paths (diffsurr.nets.set_fast_paths) against the plain torch layers.

NN1_SPEED_PATHS = ("plain", "fast")
"""The two exact paths of diffsurr.nets: the plain torch layers (the code before the faster
paths) and today's default."""


def _layer_inputs(surrogate, x):
    """[(name, layer, input)] for every layer of NN1 and NN2 in order, the inputs recorded
    from one training-mode pass of ``x`` (no gradient)."""
    out = []
    with torch.no_grad():
        for tag, seqs in (("NN1", [getattr(surrogate.nn1, "layers", None)]),
                          ("NN2", [getattr(surrogate.nn2, "encoder", None),
                                   getattr(surrogate.nn2, "decoder", None)])):
            h = x
            for seq in (s for s in seqs if s is not None):
                for layer in seq:
                    out.append((f"{tag} {len([o for o in out if o[0].startswith(tag)])} "
                                f"{type(layer).__name__}", layer, h))
                    h = layer(h)
    return out


def layer_times(surrogates, x, rounds=3, repeats=2):
    """Fastest forward and backward seconds of each layer of each of ``surrogates`` (models
    of one architecture, e.g. two paths of one model), each on its own input from ``x``
    (:func:`_layer_inputs`). Interleaved: in each of ``rounds`` rounds, layer by layer, every
    surrogate's layer gets ``repeats`` calls in turn (after one untimed call in a warm-up
    round). Backward is ``y.backward(1)`` from the layer's output, with the input's gradient
    only where a real step needs one (not for each network's first conv). Returns (names,
    output shapes, forward s (surrogate, layer), backward s (surrogate, layer))."""
    cases = [_layer_inputs(s, x) for s in surrogates]
    names = [c[0] for c in cases[0]]
    fwd = np.full((len(cases), len(names)), np.inf)
    bwd = np.full((len(cases), len(names)), np.inf)
    shapes = []
    for r in range(rounds + 1):
        for i, name in enumerate(names):
            for k, case in enumerate(cases):
                layer, h = case[i][1], case[i][2]
                inp = h.detach().requires_grad_(" 0 " not in name)
                for _ in range(repeats if r else 1):
                    start = time.perf_counter()
                    y = layer(inp)
                    mid = time.perf_counter()
                    if y.requires_grad:
                        y.backward(torch.ones_like(y))
                    end = time.perf_counter()
                    if r:
                        fwd[k, i] = min(fwd[k, i], mid - start)
                        bwd[k, i] = min(bwd[k, i], end - mid)
                    inp.grad = None
                    layer.zero_grad(set_to_none=True)
                if r == 0 and k == 0:
                    shapes.append("x".join(str(d) for d in y.shape[1:]))
    return names, shapes, fwd, bwd


def bench_nn1_speed(model=BENCH_MODEL, width=0.25, batch=25, steps=3, rounds=4, n_pool=100,
                    layer_rounds=3, compiled=False, lr=1e-3, seed=0, progress=True):
    """Model ``model`` (relu head, NN2 at ``width``) on one torch thread, channels_last,
    fused Adam (TrainConfig's defaults): per-layer forward/backward times (:func:`layer_times`,
    interleaved) for the plain and the fast paths of diffsurr.nets, and the training step time of each
    variant, interleaved: ``rounds`` rounds of ``steps`` steps of every variant in turn
    (round 0 warm-up), from one initial model; the median step and its ratio to the plain
    path. ``compiled`` adds torch.compile of NN1 on the fast paths (its dropout draws other
    random numbers: equal in distribution, not the same run). Returns an xarray.Dataset with
    the printed table in its ``table`` attribute."""
    from diffsurr.nets import set_fast_paths
    from diffsurr.train import TrainConfig, make_optimizer

    if min(steps, rounds, layer_rounds) < 1 or n_pool < batch:
        raise ValueError("steps, rounds and layer_rounds must be >= 1 and n_pool >= batch")
    threads0 = torch.get_num_threads()
    load_start = os.getloadavg()
    x = draw_inputs(n_pool, seed + 1, placement="code")[0]
    y = solver.solve(x, mode="production")
    x, y = (torch.from_numpy(a[:, None]).float() for a in (x, y))
    loss_fn = ExpWeightedLoss.from_spec(spec(model))
    torch.manual_seed(seed)
    template = Surrogate.from_table2(model, width=width, head="relu").train()
    template.to(memory_format=torch.channels_last)
    variants = {"plain": False, "fast": True, **({"fast+compile NN1": True} if compiled else {})}
    try:
        torch.set_num_threads(WORKFLOW_THREADS)
        torch.manual_seed(seed)
        names, shapes, fwd, bwd = layer_times(
            [set_fast_paths(copy.deepcopy(template), path == "fast") for path in NN1_SPEED_PATHS],
            x[:batch], layer_rounds)
        runs = {}
        for name, fast in variants.items():
            net = set_fast_paths(copy.deepcopy(template), fast)
            if "compile" in name:
                net.nn1 = torch.compile(net.nn1)
            runs[name] = {"net": net, "opt": make_optimizer(net, TrainConfig(lr=lr)),
                          "gen": torch.Generator().manual_seed(seed), "step_s": []}
        for r in range(rounds + 1):
            for name, run in runs.items():
                for _ in range(steps if r else 1):
                    start = time.perf_counter()
                    idx = torch.randperm(n_pool, generator=run["gen"])[:batch]
                    loss = loss_fn(run["net"](x[idx]), y[idx])
                    run["opt"].zero_grad(set_to_none=True)
                    loss.backward()
                    run["opt"].step()
                    if r:
                        run["step_s"].append(time.perf_counter() - start)
                if not math.isfinite(float(loss.detach())):
                    raise FloatingPointError(f"training loss became {float(loss.detach())} in "
                                             f"{name}")
                if progress and r:
                    print(f"round {r}/{rounds} {name}: median step "
                          f"{1e3 * np.median(run['step_s']):.0f} ms", flush=True)
    finally:
        torch.set_num_threads(threads0)
    step_ms = np.array([1e3 * np.median(runs[n]["step_s"]) for n in variants])
    fwd_ms, bwd_ms = 1e3 * np.array(fwd), 1e3 * np.array(bwd)
    P, L = ("path", "layer"), ("layer",)
    ds = xr.Dataset(
        {"step_ms": (("variant",), step_ms, {"units": "ms", "long_name": "median wall time "
                                              "per training step"}),
         "step_ratio": (("variant",), step_ms / step_ms[0], {"long_name": "step time over "
                                                              "the plain path's"}),
         "forward_ms": (P, fwd_ms, {"units": "ms", "long_name": "fastest forward of the "
                                     "layer alone"}),
         "backward_ms": (P, bwd_ms, {"units": "ms", "long_name": "fastest backward of the "
                                      "layer alone"}),
         "output_shape": (L, np.array(shapes, dtype=str))},
        coords={"variant": list(variants), "path": list(NN1_SPEED_PATHS), "layer": names},
        attrs=io.provenance(
            device="cpu", device_kind="cpu", device_name=device_name("cpu"), model=model,
            width=width, head="relu", batch=batch, steps_per_round=steps, rounds=rounds,
            layer_rounds=layer_rounds, n_pool=n_pool, lr=lr, seed=seed,
            torch_threads=WORKFLOW_THREADS, cpu_count=os.cpu_count(),
            load_average_start=list(load_start), load_average_end=list(os.getloadavg()),
            channels_last=True, fused_adam=True,
            method=("layers: each layer alone on its recorded input, interleaved, fastest "
                    "call; steps: interleaved rounds, round 0 warm-up, median step")))
    ds.attrs["table"] = format_nn1_speed_table(ds)
    return ds


def format_nn1_speed_table(ds):
    """The printed table of a bench_nn1_speed result: per layer, then per variant."""
    a = ds.attrs
    lines = [f"Model {a['model']} training step by layer (NN2 width {a['width']:g}, relu head), "
             f"batch {a['batch']}, {a['torch_threads']} torch thread, channels_last, CPU "
             f"'{a['device_name']}', {a['created']}",
             _load_line(a), ""]
    head = (f"{'layer':<28} {'output':<12} {'plain fwd':>9} {'bwd':>7} {'fast fwd':>9} "
            f"{'bwd':>7} {'x':>5}")
    lines += [head, "-" * len(head)]
    tot = (ds.forward_ms + ds.backward_ms)
    for i, name in enumerate(ds.layer.values):
        p, f = ds.isel(layer=i).sel(path="plain"), ds.isel(layer=i).sel(path="fast")
        ratio = float(tot.isel(layer=i).sel(path="fast") / tot.isel(layer=i).sel(path="plain"))
        lines.append(f"{name:<28} {str(ds.output_shape.values[i]):<12} "
                     f"{float(p.forward_ms):>9.1f} {float(p.backward_ms):>7.1f} "
                     f"{float(f.forward_ms):>9.1f} {float(f.backward_ms):>7.1f} {ratio:>5.2f}")
    for path in ds.path.values:
        t = tot.sel(path=path)
        nn1 = float(t.sel(layer=[n for n in ds.layer.values if n.startswith("NN1")]).sum())
        kinds = {}
        for name, v in zip(ds.layer.values, t.values):
            kinds[name.split()[-1]] = kinds.get(name.split()[-1], 0.0) + float(v)
        share = ", ".join(f"{k} {v / float(t.sum()):.0%}" for k, v in
                          sorted(kinds.items(), key=lambda kv: -kv[1]))
        lines.append(f"{path}: layers sum {float(t.sum()):.0f} ms, NN1 {nn1:.0f} ms "
                     f"({nn1 / float(t.sum()):.0%}); by kind: {share}")
    lines.append("")
    for v in ds.variant.values:
        r = ds.sel(variant=v)
        lines.append(f"training step {v:<18} {float(r.step_ms):>7.0f} ms   "
                     f"x {float(r.step_ratio):.2f} of plain")
    lines.append(f"{a['rounds']} rounds x {a['steps_per_round']} steps per variant, interleaved"
                 "; median step; the layer columns are each layer alone (fastest call)")
    return "\n".join(lines)


def cmd_nn1_speed(args):
    """``nn1-speed`` subcommand: run bench_nn1_speed, print its table, write the file if
    ``--out`` is given."""
    ds = bench_nn1_speed(width=args.width, batch=args.batch, steps=args.steps,
                         rounds=args.rounds, n_pool=max(args.n_pool, args.batch),
                         layer_rounds=args.layer_rounds, compiled=args.compile)
    print(ds.attrs["table"])
    if args.out:
        slug = device_slug(ds.attrs["device_kind"], ds.attrs["device_name"])
        print(f"\nwrote {io.write_netcdf(ds, Path(args.out) / f'nn1-speed-{slug}.nc')}")
    return ds


def main(argv=None):
    """Run one subcommand and return its result."""
    parser = argparse.ArgumentParser(prog="python -m diffsurr.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("solver", help="time the exact steady-state solvers")
    p.add_argument("--n", type=int, default=256, help="solves per batch for the fast paths")
    p.add_argument("--n-sparse", type=int, default=20, help="solves for the sparse reference")
    p.add_argument("--n-timestep", type=int, default=3, help="solves for time stepping")
    p.add_argument("--mode", choices=solver.MODES, default="clamped")
    p.add_argument("--grid", type=int, default=100, help="grid size N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of the fast paths")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    p.set_defaults(func=cmd_solver)
    p = sub.add_parser("all", help="solvers, surrogate inference and training, Eq. 4 break-even")
    p.add_argument("--quick", action="store_true", help="small counts (CI, about a minute)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="default: cuda if present")
    p.add_argument("--out", default=None,
                   help="output folder (default: results/benchmarks/<slug>.nc for a full run, "
                   "results/<profile>/benchmark-<slug>.nc for a quick one)")
    p.add_argument("--profile", default=None, help="the quick run's results folder (default ci)")
    p.set_defaults(func=cmd_all)
    p = sub.add_parser("train-speed", help="training step and validation samples/s on the "
                       "CPU: today's settings vs the new defaults, interleaved")
    p.add_argument("--widths", type=float, nargs="+", default=list(SPEED_WIDTHS))
    p.add_argument("--steps", type=int, default=10, help="timed steps per variant per round")
    p.add_argument("--rounds", type=int, default=4, help="timed rounds (after one warm-up)")
    p.add_argument("--n-val", type=int, default=256, help="validation samples per pass")
    p.add_argument("--compile", action="store_true", help="also time torch.compile")
    p.add_argument("--out", default=None,
                   help="output folder (default: results/benchmarks in the repository)")
    p.set_defaults(func=cmd_train_speed)
    p = sub.add_parser("nn1-speed", help="model 9's training step by layer on one thread, "
                       "and the nets' fast CPU paths against the plain layers, interleaved")
    p.add_argument("--width", type=float, default=0.25, help="NN2 width")
    p.add_argument("--batch", type=int, default=25, help="batch size (reference profile: 25)")
    p.add_argument("--n-pool", type=int, default=100, help="samples the batches are drawn from")
    p.add_argument("--steps", type=int, default=3, help="timed steps per variant per round")
    p.add_argument("--rounds", type=int, default=4, help="timed rounds (after one warm-up)")
    p.add_argument("--layer-rounds", type=int, default=3, help="rounds of the layer timing")
    p.add_argument("--compile", action="store_true", help="also time torch.compile of NN1")
    p.add_argument("--out", default=None, help="also write nn1-speed-<device>.nc here")
    p.set_defaults(func=cmd_nn1_speed)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    main()
