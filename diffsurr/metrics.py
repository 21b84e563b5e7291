"""Accuracy metrics of a surrogate: the preprint's (Sec. 3) and the neural-PDE field's current ones.

Inputs are targets ``y`` and predictions ``yhat`` of shape (sample, y, x), as numpy arrays or
``xarray.DataArray`` with those dims (a 2-D array is taken as one sample). Every function
returns xarray objects whose attrs state the definition, so a results file explains itself.

Preprint (Toledo-Marín et al., Sec. 3):

- :func:`residual_stats`: mean, 99th percentile and maximum of |y − ŷ| (Table 2, Fig. 6d).
- :func:`relative_residual`: |y − ŷ| / (y + ε) per pixel (Fig. 6c).
- :func:`slice_stats`, :func:`slice_summary`, :func:`slice_pdfs`: residuals in slices along
  the diagonal y = ŷ (Figs. 8–10, Supplement A).
- :func:`field_pdf`, :func:`field_pdfs`: PDFs of the field values (Fig. 11).
- :func:`hist2d`: truth vs prediction as a 2-D histogram (Fig. 8).

Not in the preprint (the metrics PDEBench and neuraloperator report):

- :func:`nrmse`: per-sample relative L2 error.
- :func:`boundary_error`: error on the ring of pixels along the absorbing walls.
- :func:`fourier_band_errors`: RMSE of the error in low/mid/high wavenumber bands (fRMSE).
- :func:`pde_residual`: how far ŷ is from solving D∇²u − γu = 0 off the sources.

Everything is computed in float64, in blocks of samples so that a 4,000 × 100 × 100 set
needs only a few tens of MB of temporaries (``residual_stats`` holds one float64 copy of the
residuals, for the percentile).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

REFERENCE = "Toledo-Marín, Fox, Sluka & Glazier, deep-learning surrogates for steady diffusion"
_BLOCK_PIXELS = 1 << 22  # pixels per block: each float64 temporary is at most 32 MB


# ---------------------------------------------------------------- input checks and blocks
def _fields(a, name: str) -> np.ndarray:
    """``a`` as a (sample, y, x) array of its own dtype; ValueError if it cannot be one.

    A DataArray with dims named sample, y and x is put in that order; otherwise the axes are
    taken by position.
    """
    if isinstance(a, xr.DataArray):
        if set(a.dims) == {"sample", "y", "x"}:
            a = a.transpose("sample", "y", "x")
        a = a.values
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[np.newaxis]
    if a.ndim != 3:
        raise ValueError(f"{name} must have shape (sample, y, x), or (y, x) for one sample; "
                         f"got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers; got dtype {a.dtype}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def _pair(y, yhat, names=("y", "yhat")) -> tuple[np.ndarray, np.ndarray]:
    y, yhat = _fields(y, names[0]), _fields(yhat, names[1])
    if y.shape != yhat.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape; "
                         f"got {y.shape} and {yhat.shape}")
    return y, yhat


def _blocks(*arrays: np.ndarray):
    """Yield float64 copies of consecutive blocks of samples of equally shaped arrays."""
    n_samples, ny, nx = arrays[0].shape
    step = max(1, _BLOCK_PIXELS // (ny * nx))
    for start in range(0, n_samples, step):
        yield tuple(np.asarray(a[start:start + step], dtype=np.float64) for a in arrays)


def _edges(bins, range) -> np.ndarray:
    """Bin edges from an integer count and a (low, high) range, or given edges (range unused)."""
    if np.ndim(bins) == 0:
        if int(bins) != bins or bins < 1:
            raise ValueError(f"bins must be a positive integer or a 1-D array of edges; got {bins}")
        if range is None or len(range) != 2 or not range[0] < range[1]:
            raise ValueError(f"range must be (low, high) with low < high; got {range}")
        return np.linspace(range[0], range[1], int(bins) + 1)
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
        raise ValueError("bin edges must be a 1-D increasing array of at least two values")
    return edges


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value, −1 outside [edges[0], edges[-1]]; the last bin is closed (numpy's rule).

    Equal bins are found by arithmetic, corrected by one where rounding put a value next to its
    bin (as numpy.histogram does); other edges by binary search.
    """
    n = edges.size - 1
    widths = np.diff(edges)
    if np.allclose(widths, widths[0], rtol=1e-9, atol=0):
        index = np.clip(np.floor((values - edges[0]) / widths[0]), 0, n - 1).astype(np.intp)
        index -= (values < edges[index]) & (index > 0)
        index += (values >= edges[index + 1]) & (index < n - 1)
    else:
        index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n - 1)
    index[(values < edges[0]) | (values > edges[-1])] = -1
    return index


def _density(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts (…, bin) → PDF that integrates to 1 over the bins (NaN where there are none)."""
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / (total * np.diff(edges))


def _centres(edges: np.ndarray) -> np.ndarray:
    return (edges[:-1] + edges[1:]) / 2


# ---------------------------------------------------------------- preprint: residuals
def residual_stats(y, yhat) -> xr.Dataset:
    """Mean, 99th percentile and maximum of the residual r = |y − ŷ| over all pixels of the set.

    The three columns "mean res", "99-P res", "max res" of Table 2 and the curves of Fig. 6d.
    The percentile is numpy's default (linear interpolation between order statistics).
    Returns scalars ``mean_res``, ``p99_res``, ``max_res``.
    """
    y, yhat = _pair(y, yhat)
    r = np.empty(y.size)
    start = 0
    for yb, hb in _blocks(y, yhat):
        r[start:start + yb.size] = np.abs(yb - hb).ravel()
        start += yb.size
    mean, top = r.mean(), r.max()
    p99 = np.percentile(r, 99, overwrite_input=True)
    return xr.Dataset(
        {"mean_res": ((), mean, {"long_name": "mean residual",
                                 "definition": "mean of |y - yhat|"}),
         "p99_res": ((), p99, {"long_name": "99th-percentile residual",
                               "definition": "99th percentile of |y - yhat| (linear)"}),
         "max_res": ((), top, {"long_name": "maximum residual",
                               "definition": "max of |y - yhat|"})},
        attrs={"reference": f"{REFERENCE}: Table 2, Fig. 6d", "n_pixels": y.size})


def relative_residual(y, yhat, eps: float = 1e-5) -> xr.DataArray:
    """Relative residual |y − ŷ| / (y + ε) per pixel (Fig. 6c), dims (sample, y, x).

    Singular where y → 0, i.e. on the absorbing walls (preprint Sec. 3): there it is of order
    |ŷ|/ε, and infinite where y + ε = 0.
    """
    y, yhat = _pair(y, yhat)
    y, yhat = np.asarray(y, dtype=np.float64), np.asarray(yhat, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(y - yhat) / (y + eps)
    return xr.DataArray(rel, dims=("sample", "y", "x"), name="relative_residual",
                        attrs={"definition": "|y - yhat| / (y + eps)", "eps": eps,
                               "reference": f"{REFERENCE}: Fig. 6c"})


# ---------------------------------------------------------------- preprint: slices
def _n_slices(width: float) -> int:
    if not 0 < width <= 1:
        raise ValueError(f"slice width must be in (0, 1]; got {width}")
    n = round(1 / width)
    if abs(n * width - 1) > 1e-9:
        raise ValueError(f"slice width {width} does not divide [0, 1] into a whole number of "
                         "slices; use e.g. 0.1 (10 slices) or 0.05 (20 slices)")
    return n


def _rotate(yb: np.ndarray, hb: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat x' = (ŷ − y)/√2 and the 0-based slice of s = (y + ŷ)/2, clipped to the ends."""
    xprime = ((hb - yb) / np.sqrt(2)).ravel()
    index = np.clip(np.floor((yb + hb).ravel() / 2 * n), 0, n - 1).astype(np.intp)
    return xprime, index


def _slice_coords(n: int) -> dict:
    return {"slice": np.arange(1, n + 1), "lower": ("slice", np.arange(n) / n),
            "upper": ("slice", np.arange(1, n + 1) / n)}


def slice_stats(y, yhat, width: float = 0.1) -> xr.Dataset:
    """Residual statistics in slices of the field value along the diagonal y = ŷ (Figs. 8–10).

    Each pixel pair is rotated by 45°: x' = (ŷ − y)/√2 (signed distance from the diagonal),
    y' = (ŷ + y)/√2. It falls in a slice by its field value s = (y + ŷ)/2 = y'/√2: slice i
    (i = 1 … n, n = 1/width) holds (i − 1)·width ≤ s < i·width (Fig. 9: "slice i corresponds to
    field values in [0.1(i − 1), 0.1 i]"); s = 1 belongs to slice n, and values outside [0, 1]
    are put in the end slices (s < 0 in slice 1, s > 1 in slice n). width is 0.1 in the main
    text (10 slices) and 0.05 in Supplement A (20 slices).

    Per slice:

    - ``count``: number of pixels;
    - ``mean_xprime``: mean of x', the centre of the Supplement's Gaussians. This is what this
      module calls the "mean residual per slice" of Figs. 9–10 (signed: < 0 means the model
      under-predicts);
    - ``std_xprime``: standard deviation of x' (population, ddof = 0), the preprint's
      "standard deviation per slice" and the envelope of Fig. 9;
    - ``mean_abs_res``: mean of |ŷ − y| (= √2 · mean |x'|), the alternative reading of "mean
      residual" (unsigned, in the units of Table 2).

    Empty slices have count 0 and NaN statistics. The standard deviation is computed in two
    passes (mean first), so it is exact even when the offset is much larger than the spread.
    """
    n = _n_slices(width)
    y, yhat = _pair(y, yhat)
    count, sum_x, sum_abs, sum_sq = (np.zeros(n) for _ in range(4))
    for yb, hb in _blocks(y, yhat):
        xprime, index = _rotate(yb, hb, n)
        count += np.bincount(index, minlength=n)
        sum_x += np.bincount(index, xprime, n)
        sum_abs += np.bincount(index, np.abs(xprime), n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sum_x / count
    for yb, hb in _blocks(y, yhat):
        xprime, index = _rotate(yb, hb, n)
        sum_sq += np.bincount(index, (xprime - mean[index]) ** 2, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt(sum_sq / count)
        mean_abs = np.sqrt(2) * sum_abs / count
    return xr.Dataset(
        {"count": ("slice", count.astype(np.int64), {"long_name": "pixels in the slice"}),
         "mean_xprime": ("slice", mean, {"long_name": "mean residual per slice",
                                         "definition": "mean of x' = (yhat - y)/sqrt(2)"}),
         "std_xprime": ("slice", std, {"long_name": "residual standard deviation per slice",
                                       "definition": "std (ddof=0) of x' = (yhat - y)/sqrt(2)"}),
         "mean_abs_res": ("slice", mean_abs, {"long_name": "mean absolute residual per slice",
                                              "definition": "mean of |yhat - y|"})},
        coords=_slice_coords(n),
        attrs={"reference": f"{REFERENCE}: Figs. 8-10, Supplement A", "width": width,
               "slice_rule": "slice i holds lower <= (y + yhat)/2 < upper; s = 1 in the last "
                             "slice; s < 0 in the first and s > 1 in the last"})


def slice_summary(stats: xr.Dataset) -> xr.Dataset:
    """Average and maximum over slices of the per-slice statistics (Fig. 10a: mean, 10b: std).

    For each of ``mean_xprime``, ``std_xprime`` and ``mean_abs_res`` of :func:`slice_stats`,
    ``<name>_avg`` = (1/n') Σ_i value_i and ``<name>_max`` = max_i value_i over the n' non-empty
    slices, each slice weighted equally whatever its pixel count (the point of Fig. 10). The
    maximum is of the signed value; for a magnitude use ``mean_abs_res``.
    """
    names = ("mean_xprime", "std_xprime", "mean_abs_res")
    missing = [v for v in ("count", *names) if v not in stats]
    if missing or "slice" not in stats.dims:
        raise ValueError(f"stats must be a slice_stats Dataset with dim 'slice'; missing {missing}")
    if not (stats["count"] > 0).any():
        raise ValueError("stats has no non-empty slice")
    nonempty = stats.isel(slice=(stats["count"] > 0).values)
    out = {}
    for v in names:
        long_name = stats[v].attrs.get("long_name", v)
        out[f"{v}_avg"] = nonempty[v].mean("slice").assign_attrs(
            long_name=f"average over slices of the {long_name}")
        out[f"{v}_max"] = nonempty[v].max("slice").assign_attrs(
            long_name=f"maximum over slices of the {long_name}")
    return xr.Dataset(out, attrs={**stats.attrs, "reference": f"{REFERENCE}: Fig. 10",
                                  "n_nonempty": nonempty.sizes["slice"]})


SLICE_PDF_HALF_WIDTH = 5.0
"""Supplement A's per-slice bins span the slice's mean ± this many of its standard deviations
(a Gaussian puts 6·10⁻⁷ of its values outside); heavier tails fall outside and are counted."""


def _own_edges(mean, std, bins: int, half_width: float) -> np.ndarray:
    """(…, bins + 1) equal edges on mean ± half_width·std; ±0.5 around the mean where the spread
    is zero, and around 0 where there are no values."""
    mean = np.nan_to_num(np.asarray(mean, dtype=np.float64))
    half = half_width * np.nan_to_num(np.asarray(std, dtype=np.float64))
    half = np.where(half > 0, half, 0.5)
    return mean[..., None] + half[..., None] * np.linspace(-1, 1, bins + 1)


def slice_pdfs(y, yhat, width: float = 0.05, bins=100, range=None,
               half_width: float = SLICE_PDF_HALF_WIDTH) -> xr.Dataset:
    """PDF of the rotated residual x' = (ŷ − y)/√2 per slice and over all values (Suppl. A).

    Slices as in :func:`slice_stats` (width 0.05: the Supplement's 20 slices). Bins:

    - per slice (default, ``bins`` an integer and no ``range``): each slice gets ``bins`` equal
      bins on its own mean ± ``half_width`` × its standard deviation, and the PDF over all values
      its own too, so that a narrow slice is resolved. Edges ``xprime_lower``/``xprime_upper``
      and centres ``xprime`` are variables over (slice, xbin); ``pdf_all`` is on
      ``xprime_all``, ``xprime_all_lower``/``xprime_all_upper`` (xbin).
    - shared (``range`` given, or explicit edges as ``bins``): every slice on the same bins,
      dim ``xprime`` with the bin centres as coordinate and edges ``xprime_lower``/
      ``xprime_upper`` (the layout of eval.nc files written before per-slice bins, whose range
      was ±max|x'| over the set).

    Each PDF is normalised over its values inside its range (numpy's ``density=True``), so it
    integrates to 1; an empty slice has a NaN PDF. Also returns ``mean_xprime``,
    ``std_xprime``, ``count`` (slice) and ``mean_xprime_all``, ``std_xprime_all`` for the
    Gaussian overlays (law of total variance over the slices), ``count_in_range`` (slice) and
    ``count_in_range_all``: values that fell inside the bins.
    """
    stats = slice_stats(y, yhat, width)
    n = stats.sizes["slice"]
    y, yhat = _pair(y, yhat)
    weight = stats["count"].values
    mean_all = np.nansum(weight * stats["mean_xprime"].values) / weight.sum()
    var_all = np.nansum(weight * (stats["std_xprime"].values ** 2
                                  + (stats["mean_xprime"].values - mean_all) ** 2)) / weight.sum()
    shared = range is not None or np.ndim(bins) != 0
    if shared:
        edges = np.broadcast_to(_edges(bins, range), (n, np.size(_edges(bins, range))))
        edges_all = edges[0]
    else:
        edges = _own_edges(stats["mean_xprime"].values, stats["std_xprime"].values,
                           _edges(bins, (0, 1)).size - 1, half_width)
        edges_all = _own_edges(mean_all, np.sqrt(var_all), edges.shape[1] - 1, half_width)
    nbins = edges.shape[1] - 1
    counts, counts_all = np.zeros(n * nbins), np.zeros(nbins)
    for yb, hb in _blocks(y, yhat):
        xprime, index = _rotate(yb, hb, n)
        b = np.full(xprime.shape, -1, dtype=np.intp)
        for k in np.unique(index):
            here = index == k
            b[here] = _bin_index(xprime[here], edges[k])
        inside = b >= 0
        counts += np.bincount(index[inside] * nbins + b[inside], minlength=n * nbins)
        ball = _bin_index(xprime, edges_all)
        counts_all += np.bincount(ball[ball >= 0], minlength=nbins)
    counts = counts.reshape(n, nbins)

    gauss = {"mean_xprime": stats["mean_xprime"], "std_xprime": stats["std_xprime"],
             "count": stats["count"],
             "count_in_range": ("slice", counts.sum(axis=1).astype(np.int64)),
             "count_in_range_all": ((), int(counts_all.sum())),
             "mean_xprime_all": ((), mean_all, {"long_name": "mean of x' over all values"}),
             "std_xprime_all": ((), np.sqrt(var_all),
                                {"long_name": "std (ddof=0) of x' over all values"})}
    attrs = {"reference": f"{REFERENCE}: Supplement A (Figs. S1-S12)", "width": width,
             "binning": "shared" if shared else f"per slice: mean ± {half_width:g} std"}
    pdf_attrs = {"long_name": "PDF of x' per slice",
                 "definition": "density histogram of (yhat - y)/sqrt(2)"}
    if shared:
        e = edges[0]
        return xr.Dataset(
            {"pdf": (("slice", "xprime"), _density(counts, e), pdf_attrs),
             "pdf_all": ("xprime", _density(counts_all, e),
                         {"long_name": "PDF of x' over all values"}), **gauss},
            coords={**_slice_coords(n), "xprime": _centres(e),
                    "xprime_lower": ("xprime", e[:-1]), "xprime_upper": ("xprime", e[1:])},
            attrs=attrs)
    return xr.Dataset(
        {"pdf": (("slice", "xbin"), _density(counts, edges), pdf_attrs),
         "xprime": (("slice", "xbin"), (edges[:, :-1] + edges[:, 1:]) / 2),
         "xprime_lower": (("slice", "xbin"), edges[:, :-1]),
         "xprime_upper": (("slice", "xbin"), edges[:, 1:]),
         "pdf_all": ("xbin", _density(counts_all, edges_all),
                     {"long_name": "PDF of x' over all values"}),
         "xprime_all": ("xbin", _centres(edges_all)),
         "xprime_all_lower": ("xbin", edges_all[:-1]),
         "xprime_all_upper": ("xbin", edges_all[1:]), **gauss},
        coords=_slice_coords(n), attrs=attrs)


# ---------------------------------------------------------------- preprint: field PDFs, Fig. 8
def field_pdf(values, bins=120, range=(-0.1, 1.1)) -> xr.DataArray:
    """PDF of field values (Fig. 11): histogram normalised to integrate to 1 (numpy's density=True).

    ``values`` may have any shape; values outside ``range`` are not counted (their number is in
    the attr ``n_outside``). ``bins`` equal bins on ``range`` (default width 0.01), or explicit
    edges (then ``range`` is unused). Returns dim ``value`` (bin centres).
    """
    if isinstance(values, xr.DataArray):
        values = values.values
    flat = np.asarray(values).reshape(-1)
    if flat.size == 0:
        raise ValueError("values is empty")
    if flat.dtype.kind not in "biuf" or not np.isfinite(flat).all():
        raise ValueError(f"values must be finite real numbers (dtype {flat.dtype})")
    edges = _edges(bins, range)
    counts = np.zeros(edges.size - 1)
    for start in np.arange(0, flat.size, _BLOCK_PIXELS):
        b = _bin_index(np.asarray(flat[start:start + _BLOCK_PIXELS], dtype=np.float64), edges)
        counts += np.bincount(b[b >= 0], minlength=edges.size - 1)
    return xr.DataArray(_density(counts, edges), dims="value", coords={"value": _centres(edges)},
                        name="pdf", attrs={"definition": "density histogram of field values",
                                           "n_outside": int(flat.size - counts.sum()),
                                           "reference": f"{REFERENCE}: Fig. 11"})


def field_pdfs(y, yhat, bins=120, range=(-0.1, 1.1)) -> xr.Dataset:
    """PDFs of true and predicted values on common bins (Fig. 11): ``pdf_true``, ``pdf_pred``."""
    y, yhat = _pair(y, yhat)
    return xr.Dataset({"pdf_true": field_pdf(y, bins, range),
                       "pdf_pred": field_pdf(yhat, bins, range)},
                      attrs={"reference": f"{REFERENCE}: Fig. 11"})


def hist2d(y, yhat, bins=200, range=((0, 1.1), (0, 1.1))) -> xr.DataArray:
    """Pixel counts of (true, predicted) values on a 2-D grid: Fig. 8 without 3.75·10⁷ dots.

    ``bins``: an integer, or a pair (truth, prediction) of integers or edge arrays; ``range``:
    ((low, high) of truth, (low, high) of prediction). Pairs outside the range are not counted.
    Returns counts with dims (``true``, ``pred``) on bin centres.
    """
    y, yhat = _pair(y, yhat)
    if np.ndim(bins) == 0:
        bins = (bins, bins)
    ranges = (None, None) if range is None else range
    edges_t, edges_p = _edges(bins[0], ranges[0]), _edges(bins[1], ranges[1])
    nt, npred = edges_t.size - 1, edges_p.size - 1
    counts = np.zeros(nt * npred, dtype=np.int64)
    for yb, hb in _blocks(y, yhat):
        bt, bp = _bin_index(yb.ravel(), edges_t), _bin_index(hb.ravel(), edges_p)
        inside = (bt >= 0) & (bp >= 0)
        counts += np.bincount(bt[inside] * npred + bp[inside], minlength=nt * npred)
    return xr.DataArray(counts.reshape(nt, npred), dims=("true", "pred"), name="count",
                        coords={"true": _centres(edges_t), "pred": _centres(edges_p)},
                        attrs={"definition": "pixels per (y, yhat) bin",
                               "reference": f"{REFERENCE}: Fig. 8"})


# ---------------------------------------------------------------- beyond the preprint
def nrmse(y, yhat) -> xr.Dataset:
    """Per-sample relative L2 error ‖ŷ − y‖₂ / ‖y‖₂ and its mean (not in the preprint).

    The norms run over the pixels of one sample (PDEBench's nRMSE, neuraloperator's LpLoss
    with p = 2, relative). NaN for a sample with ‖y‖₂ = 0; then the mean is NaN too.
    Returns ``nrmse`` (sample) and ``mean_nrmse``.
    """
    y, yhat = _pair(y, yhat)
    err, norm = [], []
    for yb, hb in _blocks(y, yhat):
        err.append(np.sqrt(((hb - yb) ** 2).sum(axis=(1, 2))))
        norm.append(np.sqrt((yb ** 2).sum(axis=(1, 2))))
    err, norm = np.concatenate(err), np.concatenate(norm)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(norm > 0, err / norm, np.nan)
    return xr.Dataset(
        {"nrmse": ("sample", rel, {"definition": "||yhat - y||_2 / ||y||_2 per sample"}),
         "mean_nrmse": ((), rel.mean(), {"definition": "mean over samples of nrmse"})},
        coords={"sample": np.arange(rel.size)},
        attrs={"reference": "not in the preprint (PDEBench nRMSE)"})


def boundary_error(y, yhat, ring: int = 1) -> xr.Dataset:
    """Error on the ring of pixels within ``ring`` of the four walls (not in the preprint).

    The absorbing walls make y small there, which is where the relative residual of Fig. 6c
    blows up. With R the ring pixels of one sample, |R| = N_y·N_x − (N_y − 2·ring)(N_x − 2·ring):
    ``rmse_boundary`` = sqrt(mean_R (ŷ − y)²) and ``max_boundary`` = max_R |ŷ − y| per sample;
    ``rmse_boundary_all`` = sqrt of the mean over all samples' ring pixels,
    ``max_boundary_all`` the maximum.
    """
    y, yhat = _pair(y, yhat)
    _, ny, nx = y.shape
    if int(ring) != ring or ring < 1 or 2 * ring > min(ny, nx):
        raise ValueError(f"ring must be an integer from 1 to {min(ny, nx) // 2} for a {ny}×{nx} "
                         f"grid; got {ring}")
    on_ring = np.ones((ny, nx), dtype=bool)
    on_ring[ring:ny - ring, ring:nx - ring] = False
    mse, top = [], []
    for yb, hb in _blocks(y, yhat):
        err = (hb - yb)[:, on_ring]
        mse.append((err ** 2).mean(axis=1))
        top.append(np.abs(err).max(axis=1))
    mse, top = np.concatenate(mse), np.concatenate(top)
    return xr.Dataset(
        {"rmse_boundary": ("sample", np.sqrt(mse),
                           {"definition": "sqrt(mean over ring of (yhat - y)^2)"}),
         "max_boundary": ("sample", top, {"definition": "max over ring of |yhat - y|"}),
         "rmse_boundary_all": ((), np.sqrt(mse.mean()),
                               {"definition": "RMSE over all ring pixels"}),
         "max_boundary_all": ((), top.max(), {"definition": "max over all ring pixels"})},
        coords={"sample": np.arange(mse.size)},
        attrs={"ring": int(ring), "n_ring_pixels": int(on_ring.sum()),
               "reference": "not in the preprint"})


def fourier_band_errors(y, yhat, bands: int = 3) -> xr.Dataset:
    """RMSE of the error in radial wavenumber bands, absolute and relative (not in the preprint).

    After PDEBench's fRMSE. With E_k the unnormalised 2-D DFT (``numpy.fft.fft2``) of the error
    e = ŷ − y of one N_y × N_x sample and |k| = sqrt(k_y² + k_x²) in integer wavenumbers
    (−N/2 … N/2 − 1), the band b holds K·(b − 1)/n ≤ |k| < K·b/n, b = 1 … n, where
    K = min(N_y, N_x)/2 is the Nyquist radius; the last band also takes |k| ≥ K, the corner
    modes up to K·√2. For N = 100 and n = 3: low [0, 16.7), mid [16.7, 33.3), high [33.3, 70.7].
    The mean (k = 0) is in the low band.

    ``frmse`` = sqrt( mean over samples of Σ_{k in b} |E_k|² / (N_y N_x)² ), i.e. by Parseval
    the RMSE over pixels and samples of the band-pass-filtered error, so that Σ_b frmse_b² is
    the plain mean squared error. ``frmse_y`` is the same for y, ``frmse_rel`` = frmse / frmse_y.
    (PDEBench differs in detail: bands [0, 4], [5, 12], [13, N/2) and a mean over shells.)
    """
    y, yhat = _pair(y, yhat)
    n_samples, ny, nx = y.shape
    k_nyquist = min(ny, nx) / 2
    if int(bands) != bands or not 1 <= bands <= k_nyquist:
        raise ValueError(f"bands must be an integer from 1 to {int(k_nyquist)} (the Nyquist "
                         f"radius of a {ny}×{nx} grid); got {bands}")
    bands = int(bands)
    ky, kx = np.fft.fftfreq(ny, 1 / ny), np.fft.fftfreq(nx, 1 / nx)    # integer wavenumbers
    k = np.hypot(ky[:, None], kx[None, :])
    band = np.minimum(np.floor(k * bands / k_nyquist), bands - 1).astype(np.intp).ravel()

    def power(field):                       # Σ over samples of |DFT|², summed per band
        return np.bincount(band, (np.abs(np.fft.fft2(field)) ** 2).sum(axis=0).ravel(), bands)

    power_err, power_y = np.zeros(bands), np.zeros(bands)
    for yb, hb in _blocks(y, yhat):
        power_err += power(hb - yb)
        power_y += power(yb)
    frmse = np.sqrt(power_err / n_samples) / (ny * nx)
    frmse_y = np.sqrt(power_y / n_samples) / (ny * nx)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = frmse / frmse_y
    upper = k_nyquist * np.arange(1, bands + 1) / bands
    upper[-1] = k.max()
    return xr.Dataset(
        {"frmse": ("band", frmse, {"definition": "sqrt(mean over samples of sum over band "
                                                 "of |fft2(yhat - y)|^2) / (Ny Nx)"}),
         "frmse_y": ("band", frmse_y, {"definition": "sqrt(mean over samples of sum over band "
                                                     "of |fft2(y)|^2) / (Ny Nx)"}),
         "frmse_rel": ("band", rel, {"definition": "frmse / frmse_y"})},
        coords={"band": np.arange(1, bands + 1),
                "k_lower": ("band", k_nyquist * np.arange(bands) / bands),
                "k_upper": ("band", upper)},
        attrs={"reference": "not in the preprint (after PDEBench fRMSE)", "k_nyquist": k_nyquist})


def pde_residual(yhat, x, D: float = 1.0, gamma: float = 1 / 400) -> xr.Dataset:
    """How far ŷ is from the steady diffusion equation off the sources (not in the preprint).

    r = D·∇²ŷ − γ·ŷ with the 5-point Laplacian on the unit grid,
    ∇²ŷ_ij = ŷ_{i+1,j} + ŷ_{i−1,j} + ŷ_{i,j+1} + ŷ_{i,j−1} − 4ŷ_ij, and ŷ = 0 on ghost cells
    just outside the grid (the absorbing boundary; the edge pixels are unknowns). The exact
    solution has r = 0 at every pixel where x == 0 (non-source pixels), so only those count —
    for clamped sources (preprint) and for the authors' production term alike, since both
    equations are homogeneous off the sources:
    ``rms_pde`` = sqrt(mean |r|²) and ``max_pde`` = max |r| per sample (NaN for a sample that is
    all source), ``rms_pde_all`` and ``max_pde_all`` over all samples' non-source pixels.
    Defaults D = 1, γ = 1/400 (preprint Sec. 2, Fig. 1).
    """
    yhat, x = _pair(yhat, x, names=("yhat", "x"))
    sum_sq, top, n_off = [], [], []
    for hb, xb in _blocks(yhat, x):
        u = np.pad(hb, ((0, 0), (1, 1), (1, 1)))
        laplacian = u[:, :-2, 1:-1] + u[:, 2:, 1:-1] + u[:, 1:-1, :-2] + u[:, 1:-1, 2:] - 4 * hb
        r = np.where(xb == 0, np.abs(D * laplacian - gamma * hb), 0.0)
        sum_sq.append((r ** 2).sum(axis=(1, 2)))
        top.append(r.max(axis=(1, 2)))
        n_off.append((xb == 0).sum(axis=(1, 2)))
    sum_sq, top, n_off = np.concatenate(sum_sq), np.concatenate(top), np.concatenate(n_off)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt(sum_sq / n_off)
        rms_all = np.sqrt(sum_sq.sum() / n_off.sum())
    top = np.where(n_off > 0, top, np.nan)
    top_all = top[n_off > 0].max() if (n_off > 0).any() else np.nan
    return xr.Dataset(
        {"rms_pde": ("sample", rms,
                     {"definition": "sqrt(mean over x == 0 of (D lap(yhat) - gamma yhat)^2)"}),
         "max_pde": ("sample", top,
                     {"definition": "max over x == 0 of |D lap(yhat) - gamma yhat|"}),
         "rms_pde_all": ((), rms_all, {"definition": "RMS over all samples' non-source pixels"}),
         "max_pde_all": ((), top_all, {"definition": "max over all samples' non-source pixels"})},
        coords={"sample": np.arange(rms.size)},
        attrs={"D": D, "gamma": gamma, "stencil": "5-point, zero ghost cells",
               "reference": "not in the preprint"})
