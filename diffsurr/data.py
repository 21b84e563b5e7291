"""Source configurations and their steady fields (preprint Sec. 2, Fig. 1).

Placements:

- ``"preprint"`` (default): disks of radius ``radius`` at integer centres drawn uniformly so
  that each disk lies fully inside the grid, redrawn until no two disks share a pixel.
- ``"code"``: the authors' genData.jl (the book's differences page): integer centres
  uniform in 5..95 (1-based, i.e. ``radius-1 .. N-radius-1`` here), disks clipped at the
  grid, no overlap check; overlapping values add and the input is divided by its maximum.
- ``"wall"``: like ``"preprint"``, but every disk touches one of the four walls (its rim lies
  on the edge row or column); for the generalisation study (not in the preprint).

One source has value 1, the others are uniform in (0, 1] (preprint Sec. 2).
A pixel (i, j) belongs to a disk centred at (yc, xc) when (i−yc)² + (j−xc)² ≤ radius².
"""

from __future__ import annotations

import time

import numpy as np
import xarray as xr
from tqdm import tqdm

from . import io, solver

PLACEMENTS = ("preprint", "code", "wall")
PROBLEM = {"n_sources": 2, "radius": 5, "size": 100, "D": 1.0, "gamma": 1 / 400}
"""The preprint's problem (Sec. 2): two disks of radius 5 on a 100×100 grid, D = 1, γ = 1/400."""


def disk_offsets(radius: int) -> np.ndarray:
    """Integer offsets (dy, dx) of the pixels of a disk: dy² + dx² ≤ radius² (81 for radius 5)."""
    r = np.arange(-radius, radius + 1)
    dy, dx = np.meshgrid(r, r, indexing="ij")
    inside = dy**2 + dx**2 <= radius**2
    return np.stack([dy[inside], dx[inside]], axis=1)


def _check(n_sources: int, radius: int, size: int, placement: str) -> None:
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    if not (isinstance(n_sources, (int, np.integer)) and n_sources >= 1):
        raise ValueError(f"n_sources must be an integer >= 1, got {n_sources!r}")
    if not (isinstance(radius, (int, np.integer)) and radius >= 0):
        raise ValueError(f"radius must be an integer >= 0, got {radius!r}")
    if not (isinstance(size, (int, np.integer)) and size > 2 * radius + 1):
        raise ValueError(f"size must be an integer > 2*radius+1 = {2 * radius + 1}, got {size!r}")
    if placement != "code" and n_sources * len(disk_offsets(radius)) > size**2 // 2:
        raise ValueError(f"{n_sources} disjoint disks of radius {radius} cannot be placed at "
                         f"random on a {size}x{size} grid; use fewer or smaller sources")


def _centres(rng: np.random.Generator, n_sources: int, radius: int, size: int,
             placement: str, max_tries: int = 10_000) -> np.ndarray:
    """Draw ``n_sources`` integer centres (row, col) for one configuration."""
    if placement == "code":
        return rng.integers(radius - 1, size - radius, size=(n_sources, 2))
    lo, hi = radius, size - 1 - radius
    offsets = disk_offsets(radius)
    taken = np.zeros((size, size), bool)
    centres = []
    for _ in range(max_tries):
        c = rng.integers(lo, hi + 1, size=2)
        if placement == "wall":  # pin one coordinate to a wall
            axis, side = rng.integers(0, 2), rng.integers(0, 2)
            c[axis] = lo if side == 0 else hi
        pix = c + offsets
        if taken[pix[:, 0], pix[:, 1]].any():
            continue
        taken[pix[:, 0], pix[:, 1]] = True
        centres.append(c)
        if len(centres) == n_sources:
            return np.array(centres)
    raise ValueError(f"could not place {n_sources} non-overlapping disks of radius {radius} "
                     f"on a {size}x{size} grid in {max_tries} draws; use fewer or smaller sources")


def draw_inputs(n: int, seed: int, n_sources: int = 2, radius: int = 5, size: int = 100,
                placement: str = "preprint") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n`` input images; returns (inputs (n,N,N), centres (n,S,2), values (n,S)).

    Deterministic: the same arguments give the same arrays.
    """
    _check(n_sources, radius, size, placement)
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    offsets = disk_offsets(radius)
    inputs = np.zeros((n, size, size), np.float64)
    centres = np.zeros((n, n_sources, 2), np.int32)
    values = np.zeros((n, n_sources), np.float64)
    for k in range(n):
        c = _centres(rng, n_sources, radius, size, placement)
        v = np.concatenate([[1.0], 1.0 - rng.random(n_sources - 1)])  # (0, 1]
        rng.shuffle(v)
        for centre, value in zip(c, v):
            pix = centre + offsets
            ok = (pix >= 0).all(1) & (pix < size).all(1)
            np.add.at(inputs[k], (pix[ok, 0], pix[ok, 1]), value)
        inputs[k] /= inputs[k].max()
        centres[k], values[k] = c, v
    return inputs, centres, values


def generate(n: int, seed: int, n_sources: int = PROBLEM["n_sources"],
             radius: int = PROBLEM["radius"], size: int = PROBLEM["size"],
             placement: str = "preprint", mode: str = "clamped", D: float = PROBLEM["D"],
             gamma: float = PROBLEM["gamma"], chunk: int = 500, progress: bool = True,
             stage: dict | None = None, **extra_attrs) -> xr.Dataset:
    """Draw ``n`` configurations and solve each exactly (preprint Sec. 2, Fig. 1).

    Returns an ``xarray.Dataset`` with float32 ``input`` and ``target`` of dims
    (sample, y, x), the disk ``centre`` and ``value`` per source, and attributes recording
    every parameter, the solver, versions, git commit (``stage``: the calling stage's
    :func:`diffsurr.io.stage_start`) and wall time.
    """
    t0 = time.perf_counter()
    inputs, centres, values = draw_inputs(n, seed, n_sources, radius, size, placement)
    targets = np.empty_like(inputs)
    for start in tqdm(range(0, n, chunk), desc="solving", disable=not progress):
        targets[start:start + chunk] = solver.solve(inputs[start:start + chunk], mode=mode,
                                                    D=D, gamma=gamma)
    wall = time.perf_counter() - t0
    dims = ("sample", "y", "x")
    attrs = io.provenance(stage, n=n, seed=seed, n_sources=n_sources, radius=radius, size=size,
                          placement=placement, mode=mode, D=D, gamma=gamma,
                          solver="diffsurr.solver.solve(method='fast')", wall_time_s=wall,
                          **extra_attrs)
    return xr.Dataset(
        {"input": (dims, inputs.astype(np.float32)),
         "target": (dims, targets.astype(np.float32)),
         "centre": (("sample", "source", "coord"), centres),
         "value": (("sample", "source"), values.astype(np.float32))},
        coords={"sample": np.arange(n), "coord": ["y", "x"]}, attrs=attrs)


def split(n: int, test_fraction: float, val_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Deterministic train/validation/test indices.

    The test set is ``test_fraction`` of all samples (preprint: 20 %); the validation set,
    used only for model selection, is ``val_fraction`` of the remaining training part.
    """
    for name, f in (("test_fraction", test_fraction), ("val_fraction", val_fraction)):
        if not 0 < f < 1:
            raise ValueError(f"{name} must lie in (0, 1), got {f}")
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(test_fraction * n))
    n_val = int(round(val_fraction * (n - n_test)))
    if n_test == 0 or n_val == 0 or n - n_test - n_val == 0:
        raise ValueError(f"{n} samples are too few for test_fraction={test_fraction} and "
                         f"val_fraction={val_fraction}: a split would be empty")
    test, val, train = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def load(path) -> xr.Dataset:
    """Read a dataset written by :func:`generate`, checking that it has inputs and targets."""
    return io.read_netcdf(path, require=("input", "target"))
