"""diffsurr.payoff: the pay-off map's measurement (tiny grids), Eq. 4 per cell, where files go."""

import math
import subprocess

import numpy as np
import pytest

from diffsurr import io, payoff, timing
from diffsurr.profiles import PROFILES
from diffsurr.speedup import break_even

TINY = payoff.PayoffPlan((40, 48), {40: (1, 2), 48: (1,)}, 1, 0.0, 1, 1, {40: 1, 48: 2}, 1)


@pytest.fixture(scope="module")
def tiny():
    """One run of payoff() on two small grids and two source counts."""
    mp = pytest.MonkeyPatch()
    mp.setattr(payoff, "plan_for", lambda quick: TINY)
    mp.setattr(payoff, "SOURCES", (1, 3))
    try:
        yield payoff.payoff(device="cpu", quick=True, progress=False)
    finally:
        mp.undo()


def test_every_cell_is_measured_checked_and_named(tiny):
    assert dict(tiny.sizes) == {"family": 2, "grid": 2, "sources": 2, "batch": 2, "epochs": 2}
    assert (tiny.delta_s > 0).all() and (tiny.eps_s > 0).all() and (tiny.train_step_s > 0).all()
    assert (tiny.solve_diff <= payoff.MAX_DIFF).all()
    assert np.isnan(tiny.solve_s.sel(grid=48, batch=2)).all()          # not in the plan
    assert (tiny.delta_s == tiny.solve_s.min("batch")).all()
    rim = tiny.rim_pixels.sel(grid=40)
    assert (rim.sel(sources=3) > rim.sel(sources=1)).all()
    assert (rim.sel(family="polylines") > rim.sel(family="disks")).all()  # longer rims
    for name in ("delta_s", "eps_s", "train_step_s", "train_s", "n_min", "solve_diff"):
        assert tiny[name].attrs["measured"].split(":")[0] in ("measured", "extrapolated",
                                                               "derived"), name
    assert tiny.train_s.attrs["measured"].startswith("extrapolated")
    a = tiny.attrs
    assert a["device_name"] == timing.device_name("cpu") and "NN1" in a["network"]
    assert a["eq4_profile"] == payoff.EQ4_PROFILE and a["eq4_M"] == 20_000
    other, loaded = timing.load_flag(a["load_start_1min"], a["load_end_1min"],
                                    a["torch_threads"], a["cpu_count"])
    assert int(a["loaded"]) == int(loaded) and "git_commit" in a and "versions" in a


def test_n_min_is_eq4_of_the_recorded_numbers(tiny):
    a = tiny.attrs
    assert list(tiny.epochs.values) == [PROFILES[p].epochs for p in payoff.EPOCH_PROFILES]
    for f in tiny.family.values:
        for N in tiny.grid.values:
            for k in tiny.sources.values:
                for e in tiny.epochs.values:
                    c = tiny.sel(family=f, grid=N, sources=k, epochs=e)
                    E = e * (a["eq4_n_train"] * float(c.train_step_s)
                             + a["eq4_n_val"] * float(c.eps_s))
                    assert float(c.train_s) == pytest.approx(E)
                    want = break_even(float(c.delta_s), float(c.eps_s), a["eq4_M"], E)
                    got = float(c.n_min)
                    assert got == pytest.approx(want) or math.isinf(want) and math.isinf(got)


def test_eq4_flips_to_never_when_the_network_is_slower():
    delta = np.array([[[1e-3, 1e-1]]])                       # (family, grid, sources)
    E, n_min, sizes = payoff.eq4(delta, np.array([1e-2]), np.array([3e-2]), "reference")
    assert sizes["n_train"] + sizes["n_val"] == 16_000 and sizes["epochs"] == [8, 800]
    assert np.isinf(n_min[0, 0, 0]).all()                    # ε > δ: never
    assert np.isfinite(n_min[0, 0, 1]).all() and n_min[0, 0, 1, 1] > n_min[0, 0, 1, 0]


def test_fast_solver_mismatch_is_an_error(monkeypatch):
    monkeypatch.setattr(payoff.solver, "solve", lambda x, method="fast", **kw: x * (
        1.0 if method == "fast" else 1.001))
    with pytest.raises(RuntimeError, match="differs from the sparse reference"):
        payoff.measure_cell("disks", 40, 1, TINY)


def test_train_batch_keeps_the_pixels_per_step():
    assert [payoff.train_batch(N, 25) for N in (100, 200, 400, 512)] == [25, 6, 2, 1]
    with pytest.raises(ValueError, match="family"):
        payoff.draw("squares", 1, 0, 1, 40)


def test_quick_runs_go_to_the_profile_folder_full_runs_to_benchmarks(tiny, tmp_path):
    slug = timing.device_slug("cpu", tiny.attrs["device_name"])
    assert payoff.output_path(tiny, "smoke", tmp_path) == tmp_path / "smoke" / f"payoff-{slug}.nc"
    full = tiny.copy()
    full.attrs = {**tiny.attrs, "quick": 0}
    assert payoff.output_path(full, None, tmp_path) == tmp_path / "benchmarks" / f"payoff-{slug}.nc"
    for ds, ignored in ((tiny, 0), (full, 1)):
        rc = subprocess.run(["git", "check-ignore", "-q", str(payoff.output_path(ds, "reference"))],
                            cwd=io.REPO_ROOT).returncode
        assert rc == ignored, payoff.output_path(ds, "reference")
    written = payoff.save(tiny, out=tmp_path / "x.nc")
    back = io.read_netcdf(written)
    np.testing.assert_array_equal(back.n_min, tiny.n_min)
    assert payoff.payoff_files(tmp_path) == []
    assert payoff.planned_output(PROFILES["ci"], True).startswith("results/ci/payoff-cpu-")


def test_cli(tiny, monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setattr(payoff, "payoff", lambda **kw: calls.append(kw) or tiny)
    payoff.main(["--quick", "--device", "cpu", "--out", str(tmp_path / "p.nc")])
    assert calls == [{"device": "cpu", "quick": True}]
    assert "wrote" in capsys.readouterr().out and (tmp_path / "p.nc").exists()
