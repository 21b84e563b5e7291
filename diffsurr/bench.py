"""Benchmarks: ``python -m diffsurr.bench <subcommand>`` (``solver``, ``all`` or ``train-speed``).

``solver`` times every exact solver of diffsurr.solver / diffsurr.solver_torch on the
current machine, on two-disk inputs as in the preprint (Sec. 2), against the preprint's
Julia solver: 20,000 solves in about 6 h 30 min, 1.16 s per solve (Sec. 4).

``all`` measures, in one run on one device, what the cost argument of Sec. 4 needs: δ of
each exact solver, the surrogate's ε (Table 2 model 9) at batch 1 and batched, the ratios
δ/ε ("about 1000 times faster"), the training time per epoch extrapolated to the paper
profile's 800 epochs, and Eq. 4's break-even N for each solver (diffsurr.speedup). It
prints a table and writes ``results/benchmarks/<device-slug>.nc``.

``train-speed`` measures, interleaved in one run on the CPU, samples/s of a training step and
of the validation pass of diffsurr.train for today's settings, each speed option alone and
the new TrainConfig defaults; it writes ``results/benchmarks/train-speed-<device-slug>.nc``.
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
import torch
import xarray as xr

from diffsurr import io, solver
from diffsurr.data import draw_inputs, split
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


def two_disk_inputs(n, seed=0, N=100, radius=5):
    """n images with two non-overlapping disks fully inside the grid, values 1 and U(0, 1]."""
    rng = np.random.default_rng(seed)
    i, j = np.mgrid[:N, :N]
    x = np.zeros((n, N, N))
    for s in range(n):
        centres = rng.integers(radius, N - radius, (2, 2))
        while np.hypot(*(centres[0] - centres[1])) <= 2 * radius:
            centres = rng.integers(radius, N - radius, (2, 2))
        for (ci, cj), value in zip(centres, (1.0, 1.0 - rng.random())):
            x[s][(i - ci) ** 2 + (j - cj) ** 2 <= radius ** 2] = value
    return x


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


def _human(seconds):
    """Seconds as a short duration string."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def bench_solver(n=256, n_sparse=20, n_timestep=3, mode="clamped", N=100, seed=0,
                 device=None, repeats=3):
    """Time the solvers on two-disk inputs; return a dict (config and one row per method).

    Each row: ms per solve (best of ``repeats`` for the batched paths), the predicted time
    for 20,000 solves, the speed-up over the preprint's 1.16 s per solve, and the largest
    difference from the sparse reference on the samples both solved.
    """
    if min(n, n_sparse, n_timestep, repeats) < 1:
        raise ValueError(f"n, n_sparse, n_timestep and repeats must be >= 1; got "
                         f"{n}, {n_sparse}, {n_timestep}, {repeats}")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    x = two_disk_inputs(max(n, n_sparse, n_timestep), seed, N)
    xt = torch.from_numpy(x[:n]).to(device)

    def torch_fn(dtype):
        def run(batch):
            u = solve_torch(batch, mode=mode, dtype=dtype)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return u.double().cpu().numpy()
        return run

    cases = [  # name, function, inputs, repeats, warm-up
        ("time stepping (numpy)", lambda b: solver.solve(b, mode, method="timestep"),
         x[:n_timestep], 1, False),
        ("sparse LU (scipy)", lambda b: solver.solve(b, mode, method="sparse"),
         x[:n_sparse], 1, False),
        ("fast (numpy)", lambda b: solver.solve(b, mode), x[:n], repeats, True),
        (f"fast torch float64 ({device.type})", torch_fn(torch.float64), xt, repeats, True),
        (f"fast torch float32 ({device.type})", torch_fn(torch.float32), xt, repeats, True),
    ]
    reference = solver.solve(x[:n_sparse], mode, method="sparse")
    rows = []
    for name, fn, inputs, reps, warm in cases:
        per_solve, out = _best_time(fn, inputs, reps, warm)
        common = min(len(out), len(reference))
        rows.append({
            "method": name, "batch": len(inputs), "ms_per_solve": 1e3 * per_solve,
            "s_for_20k": N_DATASET * per_solve,
            "speedup_vs_preprint": PREPRINT_S_PER_SOLVE / per_solve,
            "max_abs_diff_vs_sparse": float(np.abs(out[:common] - reference[:common]).max()),
        })
    config = {"n": n, "n_sparse": n_sparse, "n_timestep": n_timestep, "mode": mode, "N": N,
              "seed": seed, "device": str(device), "repeats": repeats,
              "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
              "load_average": os.getloadavg(),
              "preprint_s_per_solve": PREPRINT_S_PER_SOLVE}
    if device.type == "cuda":
        config["gpu"] = torch.cuda.get_device_name(device)
    return {"config": config, "rows": rows}


def print_solver_table(result):
    """Print bench_solver's result as a table."""
    c = result["config"]
    print(f"Steady-state solvers, {c['N']}x{c['N']}, two radius-5 disks, mode={c['mode']}, "
          f"{c['cpu_count']} CPUs (load {c['load_average'][0]:.1f}), device {c['device']}")
    header = (f"{'method':<30} {'batch':>6} {'ms/solve':>10} {'20k solves':>11} "
              f"{'vs 1.16 s':>10} {'max|diff|':>10}")
    print(header + "\n" + "-" * len(header))
    for r in result["rows"]:
        print(f"{r['method']:<30} {r['batch']:>6} {r['ms_per_solve']:>10.4g} "
              f"{_human(r['s_for_20k']):>11} {r['speedup_vs_preprint']:>9.4g}x "
              f"{r['max_abs_diff_vs_sparse']:>10.1e}")


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


@dataclass(frozen=True)
class _Plan:
    """How much ``bench_all`` measures on one device kind (CPU or CUDA), quick or not."""

    solver: dict                 # bench_solver keyword arguments
    batches: tuple               # inference batch sizes
    precisions: tuple            # "fp32", and "bf16" (autocast) on CUDA
    infer_warmup: int            # untimed calls per batch size
    infer_min_s: float           # timed calls go on until they add up to this (at least one)
    infer_max_calls: int
    train_options: tuple         # (bf16 autocast, channels_last, torch.compile) per option
    train_warmup: int            # untimed training steps per option
    train_steps: int             # timed training steps per option


def _plan(kind, quick):
    """The measurement sizes: small on a 2-core CPU (quick: about a minute), larger on CUDA.

    Quick on CUDA skips torch.compile (minutes of compilation); quick on CPU times 3
    training steps, because one full-width step takes several seconds on 2 cores.
    """
    small = {"n": 200, "n_sparse": 5, "n_timestep": 1, "repeats": 1}
    if kind == "cpu":
        if quick:
            return _Plan(small, (1, 8, 32), ("fp32",), 1, 0.5, 20,
                         ((False, False, False),), 1, 3)
        return _Plan({}, (1, 8, 32, 128), ("fp32",), 1, 1.0, 10, ((False, False, False),), 2, 20)
    options = tuple((amp, cl, comp) for comp in ((False,) if quick else (False, True))
                    for cl in (False, True) for amp in (False, True))
    if quick:
        return _Plan(small, (1, 8, 32, 128, 512), ("fp32", "bf16"), 3, 0.2, 50, options, 3, 20)
    return _Plan({}, (1, 8, 32, 128, 512), ("fp32", "bf16"), 5, 1.0, 500, options, 10, 200)


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


def _reset_peak_rss():
    """Reset the process's peak RSS (Linux /proc/self/clear_refs); False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _min_call_time(fn, sync, min_s, max_calls):
    """Shortest wall time of repeated calls of fn (at least one, until min_s is spent)."""
    times = []
    while not times or (sum(times) < min_s and len(times) < max_calls):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)


def _bench_inference(model, x, plan, device, sync):
    """Seconds per sample (eval mode, no_grad) and CUDA peak bytes, per (precision, batch)."""
    shape = (len(plan.precisions), len(plan.batches))
    per_sample, cuda_peak = np.full(shape, np.nan), np.full(shape, np.nan)
    model.eval()
    for i, precision in enumerate(plan.precisions):
        for j, b in enumerate(plan.batches):
            xb = x[:b]

            def call():
                with torch.no_grad(), torch.autocast(device.type, torch.bfloat16,
                                                     enabled=precision == "bf16"):
                    model(xb)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            try:
                for _ in range(plan.infer_warmup):
                    call()
                sync()
                per_sample[i, j] = _min_call_time(call, sync, plan.infer_min_s,
                                                  plan.infer_max_calls) / b
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
            if device.type == "cuda":
                cuda_peak[i, j] = torch.cuda.max_memory_allocated(device)
    return per_sample, cuda_peak


def _bench_train(model, loss_fn, x, y, batch, lr, option, plan, device, sync, seed):
    """Mean seconds per training step of the loop in diffsurr.train, and memory; errors caught.

    One step as train.train does it: random batch indexed on the device, forward under
    optional bf16 autocast, the Eq. 1 loss in float32, backward, Adam step; channels_last and
    torch.compile optional. Only torch.compile failures and CUDA out-of-memory are caught
    (returned as ``error``); any other error is a bug and propagates.
    """
    amp, channels_last, compiled = option
    result = {"s_per_step": np.nan, "warmup_s": np.nan, "cuda_peak": np.nan, "error": ""}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    if compiled:
        torch._dynamo.reset()  # fresh compile caches: no recompile limit, no stale graphs
    gen = torch.Generator().manual_seed(seed)
    model.train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    step_model = torch.compile(model) if compiled else model
    total = torch.zeros((), device=device, dtype=torch.float64)

    def step():
        idx = torch.randperm(len(x), generator=gen)[:batch].to(device)
        with torch.autocast(device.type, torch.bfloat16, enabled=amp):
            loss = loss_fn(step_model(x[idx]).float(), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total.add_(loss.detach().double() * batch)

    try:
        start = time.perf_counter()
        for _ in range(plan.train_warmup):
            step()
        sync()
        mid = time.perf_counter()
        for _ in range(plan.train_steps):
            step()
        sync()
        end = time.perf_counter()
        if not math.isfinite(float(total)):
            raise FloatingPointError(f"training loss became {float(total)} while timing "
                                     f"{_option_name(*option)}")
        result.update(s_per_step=(end - mid) / plan.train_steps, warmup_s=mid - start)
    except torch.cuda.OutOfMemoryError as err:
        result["error"] = f"out of memory: {err}"[:500]
        torch.cuda.empty_cache()
    except Exception as err:  # torch.compile raises many kinds (Dynamo, Inductor, Triton)
        if not compiled:
            raise
        result["error"] = f"torch.compile failed: {type(err).__name__}: {err}"[:500]
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


def format_table(ds):
    """The human-readable table of a bench_all result (also stored as its ``table`` attr)."""
    a = ds.attrs
    lines = [f"Benchmark on {a['device_kind']} '{a['device_name']}', torch threads "
             f"{a['torch_threads']}, quick={bool(a['quick'])}, {a['created']} "
             f"(load average {a['load_average_start']:.1f} -> {a['load_average_end']:.1f})", "",
             f"Exact solvers (delta = wall time per solve), two-disk inputs, mode "
             f"{a['solver_mode']}; batched paths: best of repeated runs"]
    head = f"{'solver':<30} {'solves':>6} {'ms/solve':>10} {'20k solves':>11} {'max|diff|':>10}"
    lines += [head, "-" * len(head)]
    for sv in ds.solver.values:
        r = ds.sel(solver=sv)
        lines.append(f"{sv:<30} {int(r.solve_n):>6} {1e3 * float(r.solve_s):>10.4g} "
                     f"{_human(N_DATASET * float(r.solve_s)):>11} "
                     f"{float(r.solve_max_abs_diff):>10.1e}")
    lines += ["", f"Surrogate inference, Table 2 model {a['model']}, ms per sample (eval, "
              f"no_grad, {a['infer_warmup']} warm-up call(s), then the fastest of repeated "
              "calls)"]
    head = (f"{'profile (NN2 width)':<20} {'precision':<9} "
            + " ".join(f"{'b=' + str(b):>9}" for b in ds.batch.values)
            + f" {'peak RSS':>10} {'CUDA peak':>10}")
    lines += [head, "-" * len(head)]
    for pr in ds.profile.values:
        for pc in ds.precision.values:
            r = ds.sel(profile=pr, precision=pc)
            cells = " ".join(f"{1e3 * v:>9.4g}" for v in r.infer_s.values)
            lines.append(f"{pr + ' (' + format(float(r.width), 'g') + ')':<20} {pc:<9} {cells} "
                         f"{_mib(float(r.infer_peak_rss)):>10} "
                         f"{_mib(float(r.infer_cuda_peak.max())):>10}")
    lines += ["epsilon at batch 1 / best: " + "; ".join(
        f"{pr}: {1e3 * float(ds.eps_batch1_s.sel(profile=pr)):.4g} ms / "
        f"{1e3 * float(ds.eps_best_s.sel(profile=pr)):.4g} ms "
        f"(b={int(ds.eps_best_batch.sel(profile=pr))}, "
        f"{str(ds.eps_best_precision.sel(profile=pr).values)})" for pr in ds.profile.values)]
    lines += ["", f"Training, batch {a['train_batch']}, mean s per step over "
              f"{a['train_steps_timed']} steps after {a['train_warmup_steps']} warm-up step(s); "
              f"EXTRAPOLATED to {a['train_samples_per_epoch']:,} samples "
              f"({a['train_steps_per_epoch']} steps) + validation of {a['val_samples']:,} "
              f"per epoch, {a['train_epochs']} epochs"]
    head = (f"{'profile':<8} {'option':<30} {'s/step':>8} {'warm-up':>8} {'epoch':>9} "
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
                         f"{float(r.train_warmup_s):>7.3g}s {_human(epoch):>9} "
                         f"{_human(a['train_epochs'] * epoch):>11} "
                         f"{_mib(float(r.train_peak_rss)):>10} "
                         f"{_mib(float(r.train_cuda_peak)):>10}")
    lines += ["best: " + "; ".join(
        f"{pr}: {str(ds.train_best_option.sel(profile=pr).values)}, "
        f"{_human(float(ds.train_s_per_epoch.sel(profile=pr)))} per epoch, "
        f"E = {_human(float(ds.train_s_total.sel(profile=pr)))}" for pr in ds.profile.values)]
    lines += ["", f"Surrogate vs solver, delta/epsilon, and Eq. 4 break-even N_min "
              f"(M = {a['eq4_M']:,} solves, E = extrapolated training time, epsilon = best "
              "batch)"]
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


def bench_all(device=None, quick=False):
    """Measure δ, ε, δ/ε, training time and Eq. 4's N_min in one run on one device.

    ``device``: "cpu", "cuda" (or "cuda:N"); default CUDA when available. ``quick`` takes
    small counts (CI). Returns an xarray.Dataset (dims solver, profile, precision, batch,
    train_option) whose ``table`` attribute is the printed table. Training times per epoch
    and per run are extrapolated from a few timed steps at the paper profile's sizes. Memory:
    peak RSS per measurement and, on CUDA, torch.cuda.max_memory_allocated.
    """
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {str(device)!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA device; use 'cpu'")

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    plan, paper = _plan(device.type, quick), PROFILES["paper"]
    parts = split(paper.n_samples, paper.test_fraction, paper.val_fraction, paper.split_seed)
    n_train, n_val = len(parts["train"]), len(parts["val"])
    steps_per_epoch = math.ceil(n_train / paper.batch_size)
    load_start = os.getloadavg()[0]
    rss_resets = _reset_peak_rss()

    # 1. exact solvers: delta
    result = bench_solver(mode=paper.mode, seed=paper.data_seed, device=device, **plan.solver)
    solvers = [r["method"] for r in result["rows"]]
    delta = np.array([r["ms_per_solve"] / 1e3 for r in result["rows"]])

    # inputs for inference, and a pool of (input, exact target) pairs for training steps
    x = draw_inputs(max(max(plan.batches), 8 * paper.batch_size), paper.data_seed + 1)[0]
    pool = x[:8 * paper.batch_size]
    x = torch.from_numpy(x[:, None]).float().to(device)
    xs = x[:len(pool)]
    ys = torch.from_numpy(solver.solve(pool, mode=paper.mode)[:, None]).float().to(device)
    loss_fn = ExpWeightedLoss.from_spec(spec(BENCH_MODEL))

    # 2. and 4. inference and training per profile (NN2 width and head)
    n_p, n_o = len(BENCH_PROFILES), len(plan.train_options)
    infer_s = np.full((n_p, len(plan.precisions), len(plan.batches)), np.nan)
    infer_cuda, infer_rss = np.full_like(infer_s, np.nan), np.full(n_p, np.nan)
    train = {k: np.full((n_p, n_o), np.nan) for k in ("s_per_step", "warmup_s", "cuda_peak",
                                                       "rss")}
    train_error = np.full((n_p, n_o), "", dtype=object)
    for i, name in enumerate(BENCH_PROFILES):
        prof = PROFILES[name]
        torch.manual_seed(paper.seed)
        template = Surrogate.from_table2(BENCH_MODEL, width=prof.width, head=prof.head).to(device)
        _reset_peak_rss()
        infer_s[i], infer_cuda[i] = _bench_inference(template, x, plan, device, sync)
        infer_rss[i] = io.peak_rss_bytes()
        for j, option in enumerate(plan.train_options):
            _reset_peak_rss()
            r = _bench_train(copy.deepcopy(template), loss_fn, xs, ys, paper.batch_size, prof.lr,
                             option, plan, device, sync, paper.seed)
            train["rss"][i, j] = io.peak_rss_bytes()
            for key in ("s_per_step", "warmup_s", "cuda_peak"):
                train[key][i, j] = r[key]
            train_error[i, j] = r["error"]
        del template
        if device.type == "cuda":
            torch.cuda.empty_cache()

    # 3. ratios and 5. Eq. 4 (M = all solves made for the data, as the preprint counts them)
    eps_b1 = np.nanmin(infer_s[:, :, 0], axis=1)
    flat = infer_s.reshape(n_p, -1)
    best = np.nanargmin(flat, axis=1)
    eps_best = flat[np.arange(n_p), best]
    best_precision = np.array([plan.precisions[k // len(plan.batches)] for k in best])
    best_batch = np.array([plan.batches[k % len(plan.batches)] for k in best])
    # validation pass per epoch, estimated from the inference rate in the option's precision
    val_s = np.stack([[n_val * np.nanmin(infer_s[i, plan.precisions.index(
        "bf16" if amp else "fp32")]) for amp, _, _ in plan.train_options] for i in range(n_p)])
    epoch_option = steps_per_epoch * train["s_per_step"] + val_s
    has_train = np.isfinite(epoch_option).any(axis=1)
    best_option = np.where(has_train, np.argmin(np.where(np.isfinite(epoch_option),
                                                         epoch_option, np.inf), axis=1), 0)
    epoch_best = np.where(has_train, epoch_option[np.arange(n_p), best_option], np.nan)
    E = paper.epochs * epoch_best
    M = paper.n_samples
    n_min = np.array([[break_even(d, eps_best[i], M, E[i]) if np.isfinite(E[i]) else np.nan
                       for d in delta] for i in range(n_p)])
    load_end = os.getloadavg()[0]

    P, S, O = ("profile",), ("solver",), ("profile", "train_option")
    bytes_ = {"units": "bytes"}
    ds = xr.Dataset(
        {
            "solve_s": (S, delta, {"units": "s", "long_name": "delta: wall time per exact solve"}),
            "solve_n": (S, np.array([r["batch"] for r in result["rows"]]),
                        {"long_name": "solves timed (one batched call for the fast paths)"}),
            "solve_max_abs_diff": (S, np.array([r["max_abs_diff_vs_sparse"]
                                                for r in result["rows"]]),
                                   {"long_name": "max |u - u_sparse| on the common samples"}),
            "width": (P, np.array([PROFILES[p].width for p in BENCH_PROFILES]),
                      {"long_name": "NN2 channel multiplier"}),
            "head": (P, np.array([PROFILES[p].head for p in BENCH_PROFILES])),
            "infer_s": (("profile", "precision", "batch"), infer_s,
                        {"units": "s", "long_name": "surrogate wall time per sample"}),
            "infer_cuda_peak": (("profile", "precision", "batch"), infer_cuda,
                                {**bytes_, "long_name": "torch.cuda.max_memory_allocated "
                                 "(NaN off CUDA)"}),
            "infer_peak_rss": (P, infer_rss, {**bytes_, "long_name": "peak RSS of the process "
                                              "during the inference measurements"}),
            "eps_batch1_s": (P, eps_b1, {"units": "s", "long_name": "epsilon at batch 1 "
                                         "(fastest precision)"}),
            "eps_best_s": (P, eps_best, {"units": "s", "long_name": "epsilon at the best batch "
                                         "and precision"}),
            "eps_best_batch": (P, best_batch),
            "eps_best_precision": (P, best_precision),
            "speedup_batch1": (("profile", "solver"), delta[None] / eps_b1[:, None],
                               {"long_name": "delta / epsilon at batch 1 (> 1: surrogate "
                                "faster)"}),
            "speedup_best": (("profile", "solver"), delta[None] / eps_best[:, None],
                             {"long_name": "delta / epsilon at the best batch"}),
            "train_s_per_step": (O, train["s_per_step"], {"units": "s", "long_name": "mean "
                                 "wall time per training step (measured)"}),
            "train_warmup_s": (O, train["warmup_s"], {"units": "s", "long_name": "untimed "
                               "warm-up steps, torch.compile included"}),
            "train_error": (O, train_error.astype(str), {"long_name": "why an option failed "
                            "('' if it ran)"}),
            "train_cuda_peak": (O, train["cuda_peak"], {**bytes_, "long_name": "torch.cuda."
                                "max_memory_allocated (NaN off CUDA)"}),
            "train_peak_rss": (O, train["rss"], {**bytes_, "long_name": "peak RSS of the "
                               "process during the training measurement"}),
            "train_val_s_per_epoch": (O, val_s, {"units": "s", "long_name": "validation pass "
                                      "per epoch, estimated from the inference rate"}),
            "train_s_per_epoch_option": (O, epoch_option, {"units": "s", "long_name":
                                         "extrapolated seconds per epoch"}),
            "train_best_option": (P, np.array([_option_name(*plan.train_options[k]) if h else ""
                                         for k, h in zip(best_option, has_train)])),
            "train_s_per_epoch": (P, epoch_best, {"units": "s", "long_name": "extrapolated "
                                  "seconds per epoch, best option"}),
            "train_s_total": (P, E, {"units": "s", "long_name": f"E: extrapolated training "
                              f"time for {paper.epochs} epochs, best option"}),
            "n_min": (("profile", "solver"), n_min, {"long_name": "Eq. 4 break-even number of "
                      "uses (inf: never)"}),
        },
        coords={"solver": solvers, "profile": list(BENCH_PROFILES),
                "precision": list(plan.precisions), "batch": list(plan.batches),
                "train_option": [_option_name(*o) for o in plan.train_options]},
        attrs=io.provenance(
            device=str(device), device_kind=device.type, device_name=device_name(device),
            torch_threads=torch.get_num_threads(), cpu_count=os.cpu_count(), quick=bool(quick),
            model=BENCH_MODEL, solver_mode=paper.mode, solver_counts=plan.solver,
            infer_warmup=plan.infer_warmup, infer_min_s=plan.infer_min_s,
            train_batch=paper.batch_size, train_warmup_steps=plan.train_warmup,
            train_steps_timed=plan.train_steps, train_samples_per_epoch=n_train,
            train_steps_per_epoch=steps_per_epoch, val_samples=n_val,
            train_epochs=paper.epochs,
            extrapolation=(f"train_s_per_epoch and train_s_total are extrapolated from "
                           f"{plan.train_steps} timed steps per option (after "
                           f"{plan.train_warmup} warm-up) at the paper profile's sizes, plus "
                           "a validation pass estimated from the inference rate; roll-back "
                           "re-runs (preprint: ~40 per run) and checkpoint writes are not "
                           "included"),
            eq4_M=M, eq4=("n_min = (M + E/delta) / (1 - epsilon/delta) (preprint Eq. 4); M = "
                          "all solves made for the paper profile's data, as the preprint's "
                          "57,300 implies; E = train_s_total; epsilon = eps_best_s"),
            compile_measured=any(o[2] for o in plan.train_options),
            rss_peak_scope=("per measurement (peak reset via /proc/self/clear_refs)"
                            if rss_resets else "process lifetime so far"),
            load_average_start=load_start, load_average_end=load_end))
    ds.attrs["table"] = format_table(ds)
    return ds


def save(ds, out_dir=None):
    """Write a bench_all result to ``<out_dir>/<device-slug>[-quick].nc`` (default
    results/benchmarks under the repository root); return the path."""
    out_dir = Path(out_dir) if out_dir else io.REPO_ROOT / "results" / "benchmarks"
    slug = device_slug(ds.attrs["device_kind"], ds.attrs["device_name"])
    return io.write_netcdf(ds, out_dir / f"{slug}{'-quick' if ds.attrs['quick'] else ''}.nc")


def benchmark_files(folder=None) -> list[Path]:
    """The ``bench all`` files in ``folder`` (default results/benchmarks), one per device and
    run kind; the ``train-speed-*`` files there have another layout and are left out."""
    folder = Path(folder) if folder else io.REPO_ROOT / "results" / "benchmarks"
    return sorted(f for f in folder.glob("*.nc") if not f.name.startswith("train-speed-"))


def cmd_all(args):
    """``all`` subcommand: run bench_all, print its table, write the netCDF file."""
    ds = bench_all(device=args.device, quick=args.quick)
    print(ds.attrs["table"])
    print(f"\nwrote {save(ds, args.out)}")
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
    device = torch.device("cpu")
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
    W, WV = ("width",), ("width", "variant")
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


def format_speed_table(ds):
    """The printed table of a bench_train_speed result."""
    a = ds.attrs
    ls, le = json.loads(a["load_average_start"]), json.loads(a["load_average_end"])
    lines = [f"Training speed, Table 2 model {a['model']} (NN1 full width + NN2 at width w, relu "
             f"head), batch {a['batch']}, CPU '{a['device_name']}', {a['cpu_count']} CPUs, "
             f"torch threads today {a['today_threads']}, {a['created']}",
             f"load average {ls[0]:.2f} {ls[1]:.2f} {ls[2]:.2f} -> "
             f"{le[0]:.2f} {le[1]:.2f} {le[2]:.2f}; {a['rounds']} rounds x {a['steps_per_round']}"
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
                   help="output folder (default: results/benchmarks in the repository)")
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
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    main()
