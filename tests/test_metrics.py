"""Known answers for diffsurr.metrics."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import xarray as xr

from diffsurr import metrics

SQRT2 = np.sqrt(2)


def pairs_with_field_and_offset(s, d):
    """(y, ŷ) with mean field value s and ŷ − y = d, as (1, 1, n) arrays."""
    s, d = np.asarray(s, float), np.asarray(d, float)
    return (s - d / 2)[None, None], (s + d / 2)[None, None]


# ---------------------------------------------------------------- residuals
def test_residual_stats_known_values():
    y = np.zeros((1, 10, 10))
    yhat = np.arange(100.0).reshape(1, 10, 10)
    out = metrics.residual_stats(y, yhat)
    assert out["mean_res"] == pytest.approx(49.5)
    assert out["p99_res"] == pytest.approx(98.01)
    assert out["max_res"] == 99
    assert out.attrs["n_pixels"] == 100


def test_relative_residual_hand_value():
    y = np.full((2, 3, 3), 0.5)
    yhat = np.full((2, 3, 3), 0.6)
    rel = metrics.relative_residual(y, yhat, eps=1e-5)
    assert rel.dims == ("sample", "y", "x")
    np.testing.assert_allclose(rel.values, 0.1 / 0.50001)


# ---------------------------------------------------------------- slices
def test_slice_stats_counts_means_stds():
    s_centre = (np.arange(10) + 0.5) / 10
    d = 0.01 * np.arange(10) - 0.03
    a = 0.002 * (1 + np.arange(10))
    keep = np.arange(10) != 6                     # slice 7 stays empty
    s = np.repeat(s_centre[keep], 2)
    offsets = np.column_stack([d - a, d + a])[keep].ravel()
    y, yhat = pairs_with_field_and_offset(s, offsets)
    out = metrics.slice_stats(y, yhat, width=0.1)

    assert list(out["slice"].values) == list(range(1, 11))
    np.testing.assert_allclose(out["lower"], np.arange(10) / 10)
    np.testing.assert_array_equal(out["count"], np.where(keep, 2, 0))
    np.testing.assert_allclose(out["mean_xprime"][keep], d[keep] / SQRT2, atol=1e-15)
    np.testing.assert_allclose(out["std_xprime"][keep], a[keep] / SQRT2, rtol=1e-9)
    expected_abs = (np.abs(d - a) + np.abs(d + a)) / 2
    np.testing.assert_allclose(out["mean_abs_res"][keep], expected_abs[keep], rtol=1e-9)
    assert np.isnan(out["mean_xprime"][6]) and np.isnan(out["std_xprime"][6])
    assert np.isnan(out["mean_abs_res"][6])


def test_slice_stats_end_slices_and_edges():
    # field values -0.05 and 1.2 go to the end slices; 1.0 is in the last; 0.3 starts slice 4
    y, yhat = pairs_with_field_and_offset([-0.05, 1.2, 1.0, 0.3], [0.0, 0.0, 0.0, 0.0])
    counts = metrics.slice_stats(y, yhat)["count"].values
    np.testing.assert_array_equal(counts, [1, 0, 0, 1, 0, 0, 0, 0, 0, 2])


def test_slice_stats_width_005_gives_20_slices():
    y, yhat = pairs_with_field_and_offset([0.52, 0.97], [0.01, -0.01])
    out = metrics.slice_stats(y, yhat, width=0.05)
    assert out.sizes["slice"] == 20
    np.testing.assert_allclose(out["upper"], np.arange(1, 21) * 0.05)
    assert out["count"].sel(slice=11) == 1 and out["count"].sel(slice=20) == 1


@pytest.mark.parametrize("width", [0, -0.1, 0.3, 1.5, 0.07])
def test_slice_stats_rejects_bad_width(width):
    y, yhat = pairs_with_field_and_offset([0.5], [0.0])
    with pytest.raises(ValueError, match="width"):
        metrics.slice_stats(y, yhat, width=width)


def test_slice_summary_known_average_and_max():
    stats = xr.Dataset(
        {"count": ("slice", [5, 0, 3]),
         "mean_xprime": ("slice", [0.1, np.nan, -0.3]),
         "std_xprime": ("slice", [0.2, np.nan, 0.4]),
         "mean_abs_res": ("slice", [0.5, np.nan, 0.7])},
        coords={"slice": [1, 2, 3]})
    out = metrics.slice_summary(stats)
    assert out["mean_xprime_avg"] == pytest.approx(-0.1)
    assert out["mean_xprime_max"] == pytest.approx(0.1)
    assert out["std_xprime_avg"] == pytest.approx(0.3)
    assert out["std_xprime_max"] == pytest.approx(0.4)
    assert out["mean_abs_res_avg"] == pytest.approx(0.6)
    assert out["mean_abs_res_max"] == pytest.approx(0.7)
    assert out.attrs["n_nonempty"] == 2
    with pytest.raises(ValueError, match="missing"):
        metrics.slice_summary(stats.drop_vars("std_xprime"))


def test_slice_pdfs_normalised_and_overall_moments():
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 0.6, (4, 8, 8))              # slices above 0.65 stay empty
    yhat = y + rng.normal(0, 0.01, y.shape)
    out = metrics.slice_pdfs(y, yhat, width=0.05, bins=40)
    widths = (out["xprime_upper"] - out["xprime_lower"]).values          # (slice, xbin)
    nonempty = out["count"].values > 0
    np.testing.assert_allclose((out["pdf"].values[nonempty] * widths[nonempty]).sum(axis=1), 1)
    assert np.isnan(out["pdf"].values[~nonempty]).all()
    all_widths = (out["xprime_all_upper"] - out["xprime_all_lower"]).values
    assert (out["pdf_all"].values * all_widths).sum() == pytest.approx(1)
    xprime = (yhat - y) / SQRT2
    assert out["mean_xprime_all"] == pytest.approx(xprime.mean(), abs=1e-15)
    assert out["std_xprime_all"] == pytest.approx(xprime.std(), rel=1e-12)


def test_slice_pdfs_bins_suit_each_slice():
    """Per-slice bins: a narrow slice is resolved (not a spike in one shared bin); values beyond
    mean ± half_width·std are left out and counted; explicit range: shared bins, old layout."""
    rng = np.random.default_rng(3)
    y = np.concatenate([np.full((1, 50, 50), 0.02), np.full((1, 50, 50), 0.52)])
    noise = np.concatenate([rng.normal(0, 0.001, (1, 50, 50)), rng.normal(0, 0.1, (1, 50, 50))])
    yhat = y + noise
    out = metrics.slice_pdfs(y, yhat, width=0.05, bins=50)
    std = out["std_xprime"].values
    widths = (out["xprime_upper"] - out["xprime_lower"]).values[:, 0]
    filled = out["count"].values > 0
    np.testing.assert_allclose(widths[filled], 2 * metrics.SLICE_PDF_HALF_WIDTH * std[filled] / 50)
    narrow = int(np.argmin(np.where(filled, std, np.inf)))
    assert (out["pdf"].values[narrow] > 0).sum() > 10            # spread over many bins
    xp = ((yhat - y) / SQRT2).ravel()
    s = np.clip(np.floor((y + yhat).ravel() / 2 * 20), 0, 19).astype(int)
    lo, hi = out["xprime_lower"].values[narrow, 0], out["xprime_upper"].values[narrow, -1]
    here = xp[s == narrow]
    assert out["count_in_range"].values[narrow] == ((here >= lo) & (here <= hi)).sum()
    np.testing.assert_allclose(out["pdf"].values[narrow],
                               np.histogram(here, bins=50, range=(lo, hi), density=True)[0])
    tight = metrics.slice_pdfs(y, yhat, width=0.05, bins=50, half_width=1.0)
    assert (tight["count_in_range"] < tight["count"])[filled].all()
    shared = metrics.slice_pdfs(y, yhat, width=0.05, bins=50, range=(-0.5, 0.5))
    assert shared["pdf"].dims == ("slice", "xprime") and shared.attrs["binning"] == "shared"
    assert (shared["pdf"].values[narrow] > 0).sum() <= 2          # the spike per-slice bins avoid


# ---------------------------------------------------------------- field PDFs, Fig. 8
def test_field_pdf_integrates_to_one_and_counts_outside():
    # 1.1 is the last edge (counted), 2.0 is outside
    values = np.concatenate([np.random.default_rng(1).uniform(0, 1, 998), [1.1, 2.0]])
    pdf = metrics.field_pdf(values, bins=120, range=(-0.1, 1.1))
    assert pdf.dims == ("value",) and pdf.sizes["value"] == 120
    assert (pdf.values * 0.01).sum() == pytest.approx(1)
    assert pdf.attrs["n_outside"] == 1


@pytest.mark.parametrize("edges", [np.linspace(-0.1, 1.1, 121), np.linspace(0, 1.1, 201),
                                   np.array([0, 0.1, 0.15, 0.5, 1.0])])
def test_field_pdf_matches_numpy_histogram(edges):
    rng = np.random.default_rng(8)
    inner = edges[1:-1]                             # values on and one ulp either side of edges
    values = np.concatenate([rng.uniform(-0.2, 1.2, 5000), edges,
                             np.nextafter(inner, -np.inf), np.nextafter(inner, np.inf)])
    expected, _ = np.histogram(values, bins=edges, density=True)
    np.testing.assert_allclose(metrics.field_pdf(values, bins=edges).values, expected, rtol=1e-12)


def test_field_pdfs_has_both():
    y = np.random.default_rng(2).uniform(0, 1, (3, 5, 5))
    out = metrics.field_pdfs(y, y * 0.9)
    assert set(out.data_vars) == {"pdf_true", "pdf_pred"}
    assert out["pdf_true"].dims == ("value",)


def test_hist2d_counts_pixels_in_range():
    rng = np.random.default_rng(3)
    y = rng.uniform(-0.2, 1.3, (5, 10, 10))
    yhat = rng.uniform(-0.2, 1.3, (5, 10, 10))
    h = metrics.hist2d(y, yhat, bins=50, range=((0, 1.1), (0, 1.1)))
    inside = (y >= 0) & (y <= 1.1) & (yhat >= 0) & (yhat <= 1.1)
    assert h.dims == ("true", "pred")
    assert h.sum() == inside.sum()
    one = metrics.hist2d(np.array([[[0.05]]]), np.array([[[0.25]]]), bins=10,
                         range=((0, 1), (0, 1)))
    assert one[0, 2] == 1 and one.sum() == 1


# ---------------------------------------------------------------- beyond the preprint
def test_nrmse_ten_percent():
    y = np.random.default_rng(4).uniform(0.1, 1, (3, 6, 6))
    out = metrics.nrmse(y, 1.1 * y)
    np.testing.assert_allclose(out["nrmse"], 0.1, rtol=1e-12)
    assert out["mean_nrmse"] == pytest.approx(0.1, rel=1e-12)


def test_boundary_error_interior_vs_ring():
    y = np.zeros((1, 10, 10))
    interior = y.copy()
    interior[0, 5, 5] = 0.3
    out = metrics.boundary_error(y, interior)
    assert out["rmse_boundary_all"] == 0 and out["max_boundary_all"] == 0
    on_ring = y.copy()
    on_ring[0, 0, 3] = 0.6
    out = metrics.boundary_error(y, on_ring)
    assert out.attrs["n_ring_pixels"] == 36
    assert out["rmse_boundary"][0] == pytest.approx(np.sqrt(0.36 / 36))
    assert out["max_boundary"][0] == pytest.approx(0.6)
    assert metrics.boundary_error(y, interior, ring=2).attrs["n_ring_pixels"] == 64
    for ring in (0, 6, 1.5):
        with pytest.raises(ValueError, match="ring"):
            metrics.boundary_error(y, y, ring=ring)


@pytest.mark.parametrize("k0, band", [(2, 1), (8, 2), (14, 3)])
def test_fourier_single_mode_lands_in_its_band(k0, band):
    n, amplitude = 32, 0.2
    x = np.arange(n)
    mode = amplitude * np.cos(2 * np.pi * k0 * x / n)[None, :] * np.ones((n, 1))
    y = np.zeros((2, n, n))
    out = metrics.fourier_band_errors(y, y + mode, bands=3)
    expected = np.zeros(3)
    expected[band - 1] = amplitude / SQRT2
    np.testing.assert_allclose(out["frmse"], expected, atol=1e-12)


def test_fourier_parseval_and_relative():
    rng = np.random.default_rng(5)
    y = rng.uniform(0, 1, (3, 20, 20))
    err = rng.normal(0, 0.1, y.shape)
    out = metrics.fourier_band_errors(y, y + err)
    assert (out["frmse"] ** 2).sum() == pytest.approx((err ** 2).mean(), rel=1e-12)
    np.testing.assert_allclose(metrics.fourier_band_errors(y, 2 * y)["frmse_rel"], 1, rtol=1e-12)
    for bands in (0, 11):
        with pytest.raises(ValueError, match="bands"):
            metrics.fourier_band_errors(y, y, bands=bands)


def exact_solution(n, sources, D=1.0, gamma=1 / 400):
    """Solve (γI − D·L)u = 0 off the sources, u clamped on them (zero ghost cells)."""
    t = sp.diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(n, n))
    eye = sp.identity(n)
    a = (gamma * sp.identity(n * n) - D * (sp.kron(eye, t) + sp.kron(t, eye))).tocsr()
    x = np.zeros(n * n)
    for (i, j), value in sources.items():
        x[i * n + j] = value
    free = x == 0
    u = x.copy()
    u[free] = spla.spsolve(a[free][:, free].tocsc(), -a[free][:, ~free] @ x[~free])
    return u.reshape(n, n), x.reshape(n, n)


def test_pde_residual_vanishes_for_exact_solution():
    u, x = exact_solution(24, {(5, 6): 1.0, (5, 7): 1.0, (17, 15): 0.4, (0, 20): 0.8})
    out = metrics.pde_residual(u, x)
    assert u[12, 12] > 1e-6                         # a non-trivial field
    assert out["max_pde_all"] <= 1e-10 and out["rms_pde_all"] <= 1e-10


def test_pde_residual_constant_field():
    c, gamma = 0.7, 1 / 400
    field = np.full((1, 10, 10), c)
    sources = np.ones_like(field)
    sources[0, 5, 5] = 0                            # only an interior pixel counts
    out = metrics.pde_residual(field, sources, gamma=gamma)
    assert out["rms_pde"][0] == pytest.approx(gamma * c)
    assert out["max_pde"][0] == pytest.approx(gamma * c)
    # no sources: corners miss two neighbours, edge pixels one (zero ghost cells)
    out = metrics.pde_residual(field, np.zeros_like(field), D=1.0, gamma=gamma)
    r = np.array([2 + gamma] * 4 + [1 + gamma] * 32 + [gamma] * 64) * c
    assert out["rms_pde_all"] == pytest.approx(np.sqrt((r ** 2).mean()))
    assert out["max_pde_all"] == pytest.approx((2 + gamma) * c)


def test_pde_residual_all_source_sample_is_nan():
    out = metrics.pde_residual(np.ones((2, 4, 4)), np.stack([np.ones((4, 4)), np.zeros((4, 4))]))
    assert np.isnan(out["rms_pde"][0]) and np.isnan(out["max_pde"][0])
    assert np.isfinite(out["rms_pde_all"]) and np.isfinite(out["max_pde_all"])


# ---------------------------------------------------------------- inputs and blocks
@pytest.mark.parametrize("y, yhat, match", [
    (np.zeros((2, 4, 4)), np.zeros((2, 4, 5)), "same shape"),
    (np.zeros((1, 2, 4, 4)), np.zeros((1, 2, 4, 4)), "shape"),
    (np.zeros(4), np.zeros(4), "shape"),
    (np.zeros((0, 4, 4)), np.zeros((0, 4, 4)), "empty"),
    (np.full((1, 2, 2), np.nan), np.zeros((1, 2, 2)), "NaN"),
])
def test_bad_inputs_raise(y, yhat, match):
    for metric in (metrics.residual_stats, metrics.slice_stats, metrics.nrmse, metrics.hist2d):
        with pytest.raises(ValueError, match=match):
            metric(y, yhat)


def test_rank2_is_one_sample_and_dataarray_dims_are_aligned():
    y = np.random.default_rng(6).uniform(0.1, 1, (3, 4, 5))
    assert metrics.nrmse(y[0], 1.2 * y[0])["nrmse"].sizes["sample"] == 1
    scale = np.array([1.1, 1.2, 1.3])[:, None, None]
    da = xr.DataArray(y, dims=("sample", "y", "x"))
    out = metrics.nrmse(da.transpose("y", "x", "sample"),
                        (da * scale).transpose("x", "sample", "y"))
    np.testing.assert_allclose(out["nrmse"], [0.1, 0.2, 0.3], rtol=1e-12)


def test_blocks_give_the_same_answers(monkeypatch):
    rng = np.random.default_rng(7)
    y = rng.uniform(0, 1, (7, 6, 6))
    yhat = y + rng.normal(0, 0.05, y.shape)
    funcs = (metrics.residual_stats, metrics.slice_stats, metrics.slice_pdfs, metrics.field_pdfs,
             metrics.hist2d, metrics.nrmse, metrics.boundary_error, metrics.fourier_band_errors,
             lambda a, b: metrics.pde_residual(b, (a > 0.9).astype(float)))
    whole = [f(y, yhat) for f in funcs]
    monkeypatch.setattr(metrics, "_BLOCK_PIXELS", 40)   # one sample (36 pixels) per block
    for f, expected in zip(funcs, whole):
        xr.testing.assert_allclose(f(y, yhat), expected, rtol=1e-12)
