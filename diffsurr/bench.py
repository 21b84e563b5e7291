"""Benchmarks: ``python -m diffsurr.bench <subcommand>`` (``solver``, or ``all``).

``solver`` times every exact solver of diffsurr.solver / diffsurr.solver_torch on the
current machine, on two-disk inputs as in the preprint (Sec. 2), against the preprint's
Julia solver: 20,000 solves in about 6 h 30 min, 1.16 s per solve (Sec. 4).
"""

import argparse
import json
import os
import time

import numpy as np
import torch

from diffsurr import solver
from diffsurr.solver_torch import solve_torch

PREPRINT_S_PER_SOLVE = 1.16
N_DATASET = 20_000


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
    for unit, size in (("h", 3600), ("min", 60), ("s", 1)):
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


def main(argv=None):
    """Run one subcommand and return its result (``all``: each, with defaults, by name)."""
    parser = argparse.ArgumentParser(prog="python -m diffsurr.bench", description=__doc__)
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
    sub.add_parser("all", help="run every benchmark with its defaults")
    args = parser.parse_args(argv)
    if args.command != "all":
        return args.func(args)
    results = {}
    for name in sub.choices:
        if name != "all":
            sub_args = parser.parse_args([name])
            results[name] = sub_args.func(sub_args)
    return results


if __name__ == "__main__":
    main()
