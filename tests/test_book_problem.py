"""diffsurr.book.problem: the problem chapter's numbers and sentences, on small synthetic data."""

import numpy as np
import pytest
import xarray as xr
from scipy.special import k0

from diffsurr.book import problem as chapter


def fake_data(near_one=0.0, n=4, N=20):
    """A data set of ``n`` configurations with two point-like sources and a fraction
    ``near_one`` of target pixels at 1 (the rest 0.1)."""
    x = np.zeros((n, N, N))
    x[:, 5, 5], x[:, 14, 12] = 1.0, 0.3
    y = np.full((n, N, N), 0.1)
    y.reshape(n, -1)[:, :int(round(near_one * N * N))] = 1.0
    return xr.Dataset({"input": (("sample", "y", "x"), x), "target": (("sample", "y", "x"), y),
                       "split": ("sample", np.array(["train", "test", "test", "val"][:n])),
                       "centre": (("sample", "source", "axis"),
                                  np.tile([[5, 5], [14, 12]], (n, 1, 1))),
                       "value": (("sample", "source"), np.tile([1.0, 0.3], (n, 1)))},
                      attrs={"wall_time_s": 2.5, "mode": "production"})


def test_sample_and_batch():
    data = fake_data()
    assert chapter.first_test(data) == 1
    x, y = chapter.sample(data, 1)
    assert x.dtype == float and x[5, 5] == 1.0 and y.shape == (20, 20)
    assert chapter.check_batch(data, 5).shape == (2, 20, 20)
    assert chapter.data_mode(data) == "production"
    assert chapter.data_mode(data.drop_attrs(), "clamped") == "clamped"


def test_data_text_rare_high_values_flips():
    rare = chapter.data_text(fake_data(near_one=0.01))
    assert "1.00 % of all target pixels" in rare and "High values are rare" in rare
    assert "4 configurations of 20 × 20" in rare and "2.5 s" in rare
    common = chapter.data_text(fake_data(near_one=0.2))
    assert "are not rare" in common and "are rare," not in common


def test_solver_agreement_is_exact_on_a_small_grid():
    x = fake_data()["input"].values[:2]
    agreement = chapter.solver_agreement(x)
    assert set(agreement) == {"clamped", "production"}
    assert all(d.shape == (2,) for d in agreement.values())
    assert "exact to rounding error" in chapter.agreement_text(agreement)


def test_agreement_text_flips_at_the_tolerance():
    ok = chapter.agreement_text({"clamped": np.array([1e-15, 3e-15]), "production": [2e-15]})
    assert "exact to rounding error" in ok and "3.00·10⁻¹⁵" in ok
    bad = chapter.agreement_text({"clamped": np.array([1e-15]),
                                  "production": [10 * chapter.ROUNDING_TOL]})
    assert "not exact" in bad and "exact to rounding error" not in bad


def modes(weak_at_centre=0.3, production_shift=0.2):
    x = fake_data()["input"].values[0]
    clamped = x.copy()
    clamped[14, 12] = weak_at_centre
    production = np.clip(clamped + production_shift, 0, 1)
    return chapter.Modes(x, clamped, production, np.array([[5, 5], [14, 12]]),
                         np.array([1.0, 0.3]), 14)


def test_modes_text_flips():
    text = chapter.modes_text(modes(), "clamped")
    assert "weaker source has value 0.300" in text and "exactly that" in text
    assert "not comparable" in text and "mode `clamped`" in text
    assert "not that value" in chapter.modes_text(modes(weak_at_centre=0.31), "clamped")
    same = chapter.modes_text(modes(production_shift=chapter.MODE_DIFFERENCE / 2), "clamped")
    assert "hardly changes the targets" in same and "not comparable" not in same


def test_source_modes_clamps_the_sources():
    data = fake_data()
    m = chapter.source_modes(data, 1)
    assert m.row == 14 and m.clamped[5, 5] == pytest.approx(1.0)
    assert m.clamped[14, 12] == pytest.approx(0.3) and m.production.max() == pytest.approx(1.0)


def timestep(err=(1e-1, 1e-2, 1e-3, 1e-4), converged=1e-8):
    return chapter.Timestep(np.array([100.0, 200, 400, 800]), np.array(err), converged)


def test_timestep_text_flips():
    text = chapter.timestep_text(timestep())
    assert "falls exponentially" in text and "agree;" in text and "do not agree" not in text
    far = chapter.timestep_text(timestep(converged=10 * chapter.TIMESTEP_TOL))
    assert "do not agree" in far and "agree;" not in far
    bumpy = chapter.timestep_text(timestep(err=(1e-1, 2e-1, 1e-3, 1e-4)))
    assert "does not fall steadily" in bumpy and "falls exponentially" not in bumpy


def test_timestep_check_converges():
    x = fake_data()["input"].values[0]
    ts = chapter.timestep_check(x, times=(50, 400))
    assert ts.err[1] < ts.err[0] and ts.converged <= chapter.TIMESTEP_TOL


def test_k0_fit_recovers_the_radius_of_an_exact_profile():
    r = chapter.disk_grid(81)
    u = np.where(r > 0, k0(np.maximum(r, 1e-9) / chapter.L_D) / k0(4.8 / chapter.L_D), 1.0)
    amp, r_eff, rel = chapter.k0_fit(u, r, band=(8, 30))
    assert r_eff == pytest.approx(4.8, rel=1e-9) and amp == pytest.approx(1 / k0(0.24))
    assert np.abs(rel).max() < 1e-12 and rel.size == ((r >= 8) & (r <= 30)).sum()
    # a field decaying faster than K₀ is not fitted by it
    assert np.abs(chapter.k0_fit(u * np.exp(-r / 50), r)[2]).max() > chapter.DISK_TOL


def disk(r_eff=4.8, dev=0.01):
    return chapter.SingleDisk(201, np.array([6.0]), np.array([0.9]), np.array([8.0, 9.0]),
                              np.array([dev, -dev / 2]), r_eff, 1 / k0(r_eff / chapter.L_D))


def test_disk_text_flips():
    ok = chapter.disk_text(disk())
    assert "4.800, between" in ok and "are the intended ones" in ok and "1.00 %" in ok
    wide = chapter.disk_text(disk(dev=2 * chapter.DISK_TOL))
    assert "is not the intended one" in wide and "are the intended ones" not in wide
    small = chapter.disk_text(disk(r_eff=4.0))
    assert "outside the range" in small and "is not the intended one" in small
    rc, uc = disk().curve(5)
    assert rc[0] == 4.8 and uc[0] == pytest.approx(1.0)
