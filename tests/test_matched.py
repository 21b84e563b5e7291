"""diffsurr.matched: the lower-fidelity classical solves are less accurate than the exact one
and cheaper in the ways they should be, the fit and read-off on synthetic numbers, Eq. 4
against an error-matched opponent, a quick run's file and where files go."""

import math

import numpy as np
import pytest

from diffsurr import bench, matched, solver, timing
from diffsurr.data import draw_inputs
from diffsurr.metrics import residual_stats
from diffsurr.profiles import PROFILES
from diffsurr.speedup import break_even


@pytest.fixture(scope="module")
def inputs():
    x = draw_inputs(6, 3, placement=PROFILES["reference"].placement)[0]
    return x, matched.exact(x)


def mean_res(y, u):
    return float(residual_stats(y, u).mean_res)


def test_the_problem_is_the_reference_profiles_reading():
    assert PROFILES[matched.PROFILE].mode == "production"
    x = draw_inputs(2, 0, placement="code")[0]
    assert np.array_equal(matched.exact(x), solver.solve(x, mode="production"))


def test_coarser_grids_are_less_accurate(inputs):
    x, y = inputs
    errors = [mean_res(y, matched.coarse_solve(x, n)) for n in (67, 34, 17, 8)]
    assert 0 < errors[0] < errors[1] < errors[2] < errors[3]
    assert errors[-1] < 0.2                   # still a field of the problem, not noise
    assert mean_res(y, matched.coarse_solve(x, 100)) < 1e-12   # n = N: the exact solve


def test_coarse_source_keeps_its_integral():
    N, n = 100, 25
    R, S, lam = matched.coarse_tables(N, n, "float64")
    phi, _ = solver.sine_tables(n, 1.0, 1 / 400)
    h = (N + 1) / (n + 1)
    P = S @ phi                                  # phi is its own inverse
    x = np.zeros((N, N))
    x[40:50, 40:50] = 1.0
    restricted = P.T @ x @ P / h ** 2
    assert restricted.sum() * h ** 2 == pytest.approx(x.sum(), rel=1e-12)


def test_float32_and_cg_errors_follow_precision_and_tolerance(inputs):
    x, y = inputs
    f32 = mean_res(y, matched.float32_solve(x))
    assert 0 < f32 < 1e-5
    errs, its = zip(*[(mean_res(y, u), it) for u, it in
                      (matched.cg_solve(x, t) for t in (1e-1, 1e-2, 1e-4))])
    assert errs[0] > errs[1] > errs[2] > 0 and its[0] < its[1] < its[2]
    u, _ = matched.cg_solve(x, 1e-12)
    assert mean_res(y, u) < 1e-9                # converged CG is the exact solve


def test_variants_cover_the_families():
    vs = matched.variants()
    fam = {v["family"] for v in vs}
    assert fam == {"exact", "float32", "coarse float64", "coarse float32", "CG"}
    assert len({v["name"] for v in vs}) == len(vs)


def test_pareto_keeps_only_the_cheapest_at_each_accuracy():
    error = np.array([0.0, 1e-7, 1e-3, 2e-3, 5e-3, 1e-2, 3e-3])
    cost = np.array([1.0, 0.6, 0.5, 0.7, 0.2, 0.1, 0.3])
    front = matched.pareto(cost, error)
    assert list(front) == [1, 2, 6, 4, 5]       # 3 is dearer than the more accurate 2; 0 exact


def test_fit_on_a_known_power_law():
    error = np.array([1e-4, 1e-3, 1e-2, 1e-1])
    cost = 2e-3 * error ** -0.5                 # cost falls as error^-1/2
    fit = matched.fit_cost(cost, error)
    assert fit["b"] == pytest.approx(-0.5) and 10 ** fit["a"] == pytest.approx(2e-3)
    assert fit["rms"] < 1e-12 and (fit["lo"], fit["hi"]) == pytest.approx((1e-4, 1e-1))
    assert matched.fit_cost(cost[:1], error[:1]) is None


def test_read_off_follows_the_front_and_never_extrapolates():
    error = np.array([0.0, 1e-4, 1e-3, 1e-2, 1e-1, 5e-3])
    cost = np.array([1.0, 2e-3 / 1e-2, 2e-3 / np.sqrt(1e-3), 2e-3 / 1e-1, 2e-3 / np.sqrt(0.1),
                     0.5])                      # the last one is off the front
    c, how = matched.matched_cost(cost, error, 4e-3, exact_cost=1.0)
    assert how == "front" and c == pytest.approx(2e-3 / np.sqrt(4e-3))   # on the power law
    c, how = matched.matched_cost(cost, error, 1e-3, exact_cost=1.0)
    assert how == "front" and c == pytest.approx(cost[2])                # a measured point
    c, how = matched.matched_cost(cost, error, 0.5, exact_cost=1.0)      # beyond the front
    assert how == "clamped" and c == pytest.approx(cost[4])
    c, how = matched.matched_cost(cost, error, 1e-5, exact_cost=1.0)     # below it
    assert how == "clamped" and c == pytest.approx(cost[1])
    c, how = matched.matched_cost(cost, error, 1e-3, exact_cost=0.01)    # exact is cheaper
    assert how == "exact" and c == 0.01
    assert matched.matched_cost(cost[:1], error[:1], 1e-3, 0.3) == (0.3, "no front")


def test_as_accurate_is_the_cheapest_measured_variant_at_least_as_accurate():
    error, cost = np.array([0.0, 1e-3, 5e-3, 1e-2]), np.array([1.0, 0.5, 0.6, 0.1])
    assert matched.as_accurate(cost, error, 6e-3) == 1
    assert matched.as_accurate(cost, error, 1e-2) == 3
    assert matched.as_accurate(cost, error[1:] * 0 + 1, 1e-3) is None


def test_matched_break_even_is_eq4_with_the_data_made_by_the_exact_solver():
    d, eps, M, E = 1.0, 0.01, 1000.0, 5000.0
    assert matched.matched_break_even(d, d, eps, M, E) == pytest.approx(break_even(d, eps, M, E))
    n = matched.matched_break_even(d, 0.1, eps, M, E)
    assert n == pytest.approx((M * d + E) / (0.1 - eps))
    t_neuro, t_direct = M * d + E + n * eps, n * 0.1            # the two routes meet at n
    assert t_neuro == pytest.approx(t_direct)
    assert matched.matched_break_even(d, 0.005, eps, M, E) == math.inf


@pytest.fixture(scope="module")
def quick():
    mp = pytest.MonkeyPatch()
    mp.setattr(matched, "COARSE", (50, 12))
    mp.setattr(matched, "CG_TOLS", (1e-1,))
    try:
        yield matched.measure(device="cpu", quick=True, progress=False)
    finally:
        mp.undo()


def test_a_quick_run_times_scores_and_records(quick):
    assert set(quick.data_vars) >= {"solve_s", "cost_s", "residual", "family", "eps_s",
                                    "infer_s", "cg_iterations", "run_model"}
    assert list(quick.run.values) == ["model_06", "model_09"]
    assert (quick.cost_s > 0).all() and (quick.eps_s > 0).all()
    err = quick.residual.sel(stat="mean_res")
    assert float(err.sel(variant="exact float64")) == 0
    coarse = [float(err.sel(variant=f"coarse {n}² float64")) for n in (12, 50)]
    assert coarse[0] > coarse[1] > 0
    assert (quick.residual.sel(stat="max_res") >= err).all()
    assert int(quick.cg_iterations.sel(variant="CG rtol 0.1")) > 0
    a = quick.attrs
    assert a["mode"] == "production" and a["quick"] and a["exact_vs_sparse"] <= matched.MAX_DIFF
    assert {"git_commit", "loaded", "load_other_1min", "timing", "created"} <= set(a)


def test_compare_reads_off_each_surrogate(quick):
    found = {"model_06": {"mean_res": 0.07, "p99_res": 0.3, "max_res": 0.5, "train_s": 100.0,
                          "model": 6, "arch": "table1"},
             "model_09": {"mean_res": 1e-9, "p99_res": 1e-8, "max_res": 1e-7, "train_s": 9.0,
                          "model": 9, "arch": "table1"},
             "model_12": {"mean_res": 5e-3, "p99_res": 0, "max_res": 0, "train_s": 1,
                          "model": 12, "arch": "table1"}}
    table = matched.compare(quick, found)
    assert list(table.index) == ["model_06", "model_09"]      # model_12 was not timed
    six = table.loc["model_06"]
    assert six["read"] == "clamped" and six["delta_matched_s"] < six["delta_exact_s"]
    assert table.loc["model_09", "read"] in ("exact", "clamped")   # more accurate than all
    d = float(quick.cost_s.sel(variant="exact float64"))
    assert six["n_min_exact"] == break_even(d, six["eps_s"], 20_000, 100.0)


def test_files_go_where_the_others_do(quick, tmp_path):
    slug = timing.device_slug("cpu", quick.attrs["device_name"])
    assert matched.output_path(quick, root=tmp_path) == tmp_path / "ci" / f"matched-{slug}.nc"
    full = quick.copy()
    full.attrs = {**quick.attrs, "quick": 0}
    assert matched.output_path(full, root=tmp_path) == (tmp_path / "benchmarks"
                                                        / f"matched-{slug}.nc")
    path = matched.save(full, out=str(tmp_path / "benchmarks" / f"matched-{slug}.nc"))
    assert matched.matched_files(tmp_path / "benchmarks") == [path]
    assert path not in bench.benchmark_files(tmp_path / "benchmarks")   # another layout
