"""Speed experiments on this machine whose files nothing in the study reads.

    python tools/speed.py solver        # the exact solvers alone, against the preprint's 1.16 s
    python tools/speed.py train-speed   # training step and validation samples/s on the CPU:
                                        # the plain torch settings against each speed option
                                        # and TrainConfig's defaults, interleaved
    python tools/speed.py nn1-speed     # model 9's training step layer by layer on one thread,
                                        # and the nets' fast CPU paths against the plain layers

They chose TrainConfig's speed defaults and the nets' CPU paths (diffsurr.nets); the study's own
measurements are ``python -m diffsurr.bench all`` (the book reads its files). Timing follows
diffsurr.timing's rules; train-speed and nn1-speed write ``train-speed-<device>.nc`` and
``nn1-speed-<device>.nc`` (results/benchmarks by default).
"""

import argparse
import copy
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diffsurr import io, solver  # noqa: E402
from diffsurr.bench import (BENCH_MODEL, N_DATASET, PREPRINT_S_PER_SOLVE,  # noqa: E402
                            solver_cases)
from diffsurr.data import PROBLEM, draw_inputs  # noqa: E402
from diffsurr.loss import ExpWeightedLoss  # noqa: E402
from diffsurr.nets import Surrogate, set_fast_paths  # noqa: E402
from diffsurr.reference_solution import reference_solve  # noqa: E402
from diffsurr.registry import spec  # noqa: E402
from diffsurr.runid import results_root  # noqa: E402
from diffsurr.timing import device_name, device_slug  # noqa: E402
from diffsurr.train import TrainConfig, evaluate_loss, make_optimizer  # noqa: E402


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


def bench_solver(n=256, n_sparse=20, n_timestep=3, mode="clamped", N=100, seed=0,
                 device=None, repeats=3):
    """Time the solvers on ``draw_inputs`` inputs; return a dict (config and one row per method).

    Two disks of radius 5 (N // 8 on a grid smaller than 40).

    Each row: ms per solve (best of ``repeats`` for the batched paths), the predicted time
    for 20,000 solves, the speed-up over the preprint's 1.16 s per solve, the largest error
    against the independent :func:`reference_solve` on the first min(n, n_sparse, n_timestep)
    samples (``max_abs_error``), and the largest difference from the sparse solve.
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


PLAIN = {"cpu_threads": None, "channels_last": False, "fused_adam": False, "compile": False,
         "val_batch_size": 256, "val_inference_mode": False}
"""Plain torch settings, without the speed options: torch's threads (2 on 2 cores), contiguous
tensors, the for-loop Adam, validation under no_grad in batches of 256."""


SPEED_WIDTHS = (0.25, 0.5)


WORKFLOW_THREADS = 1
"""Torch threads of each workflow job (the Snakefile sets OMP_NUM_THREADS=1)."""


def speed_variants(compiled=False):
    """{name: settings}: the plain settings, each option alone, and combinations of them.

    The combinations leave one option out of the full set at a time, so that each option's
    effect shows at the thread count the others use; one of them is the new TrainConfig
    default (:func:`default_variant`).
    """
    one = {"cpu_threads": 1, "val_inference_mode": True}
    variants = {"plain": PLAIN,
                "threads=1": {**PLAIN, "cpu_threads": 1},
                "channels_last": {**PLAIN, "channels_last": True},
                "fused_adam": {**PLAIN, "fused_adam": True},
                "val inference_mode": {**PLAIN, "val_inference_mode": True},
                "1t+fused+val": {**PLAIN, **one, "fused_adam": True},
                "1t+cl+val": {**PLAIN, **one, "channels_last": True},
                "1t+cl+fused+val": {**PLAIN, **one, "channels_last": True, "fused_adam": True},
                "2t+cl+fused+val": {**PLAIN, "val_inference_mode": True, "channels_last": True,
                                    "fused_adam": True}}
    if compiled:
        variants["1t+cl+fused+val+compile"] = {**variants["1t+cl+fused+val"], "compile": True}
    return variants


def default_variant(variants):
    """The name of the variant whose settings are TrainConfig's defaults ('' if none)."""

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
    ratios to "plain", and seconds per epoch extrapolated to the reference sizes (14,400
    training and 1,600 validation samples). Returns an xarray.Dataset; ``table`` attr printed.
    """

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
                        evaluate_loss(run["net"], loss_fn, xv, yv, s["val_batch_size"],
                                      grad_mode=torch.no_grad)
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
             for k in PLAIN}
    ds = xr.Dataset(
        {"train_samples_per_s": (WV, train_sps, {"long_name": "training samples per second "
                                                 "(median step)"}),
         "train_ms_per_step": (WV, step_ms, {"units": "ms", "long_name": "median wall time "
                                             "per training step"}),
         "val_samples_per_s": (WV, val_sps, {"long_name": "validation samples per second "
                                             "(fastest pass)"}),
         "train_ratio": (WV, train_sps / train_sps[:, :1], {"long_name": "train samples/s "
                                                            "over the plain settings'"}),
         "val_ratio": (WV, val_sps / val_sps[:, :1], {"long_name": "validation samples/s "
                                                      "over the plain settings'"}),
         "epoch_s": (WV, epoch_s, {"units": "s", "long_name": f"extrapolated seconds per "
                                   f"epoch ({n_train_ref} train + {n_val_ref} validation)"}),
         "epoch_ratio": (WV, epoch_s[:, :1] / epoch_s, {"long_name": "epoch speed-up over "
                                                        "the plain settings'"}),
         "compile_s": (WV, compile_s, {"units": "s", "long_name": "torch.compile: warm-up "
                                       "time less two steps (NaN: not compiled)"}),
         **{f"setting_{k}": v for k, v in flags.items()}},
        coords={"width": list(widths), "variant": names},
        attrs=io.provenance(
            device="cpu", device_kind="cpu", device_name=device_name("cpu"), model=model,
            head="relu", batch=batch, steps_per_round=steps, rounds=rounds, n_pool=n_pool,
            n_val=n_val, lr=lr, seed=seed, torch_threads=threads0, cpu_count=os.cpu_count(),
            plain_threads=threads0, variants=variants,
            default_variant=default_variant(variants), epoch_train_samples=n_train_ref,
            epoch_val_samples=n_val_ref, load_average_start=list(load_start),
            load_average_end=list(load_end),
            method=("interleaved: each round runs every variant in turn (steps training steps "
                    "then one validation pass); round 0 is warm-up; median step, fastest "
                    "validation pass")))
    ds.attrs["table"] = format_speed_table(ds)
    return ds


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
             f"torch threads (plain) {a['plain_threads']}, {a['created']}",
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
                 "validation samples, extrapolated; x: ratio to 'plain'; *: TrainConfig's defaults "
                 "at the workflow's one thread per job; 1t/2t: 1 or 2 torch threads, "
                 "cl: channels_last, fused: fused Adam, "
                 "val: validation in inference mode")
    return "\n".join(lines)


def save_speed(ds, out_dir=None, suffix=""):
    """Write a bench_train_speed result to ``<out_dir>/train-speed-<device-slug>.nc``."""
    out_dir = Path(out_dir) if out_dir else results_root() / "benchmarks"
    slug = device_slug(ds.attrs["device_kind"], ds.attrs["device_name"])
    return io.write_netcdf(ds, out_dir / f"train-speed-{slug}{suffix}.nc")


def cmd_train_speed(args):
    """``train-speed`` subcommand: run bench_train_speed, print its table, write the file."""
    ds = bench_train_speed(widths=tuple(args.widths), steps=args.steps, rounds=args.rounds,
                           n_val=args.n_val, compiled=args.compile)
    print(ds.attrs["table"])
    print(f"\nwrote {save_speed(ds, args.out)}")
    return ds


NN1_SPEED_PATHS = ("plain", "fast")
"""The two exact paths of diffsurr.nets: the plain torch layers, and the faster paths that are
the nets' default."""


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
    interleaved) for the plain and the fast paths of diffsurr.nets, and the training step time of
    each
    variant, interleaved: ``rounds`` rounds of ``steps`` steps of every variant in turn
    (round 0 warm-up), from one initial model; the median step and its ratio to the plain
    path. ``compiled`` adds torch.compile of NN1 on the fast paths (its dropout draws other
    random numbers: equal in distribution, not the same run). Returns an xarray.Dataset with
    the printed table in its ``table`` attribute."""
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
    parser = argparse.ArgumentParser(prog="python tools/speed.py", description=__doc__,
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
    p = sub.add_parser("train-speed", help="training step and validation samples/s on the "
                       "CPU: the plain settings vs TrainConfig's defaults, interleaved")
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
