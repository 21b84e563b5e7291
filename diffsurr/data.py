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


POLYLINE = {"segments": 4, "segment_length": 10.0, "thickness": 3.0, "max_turn": np.pi / 4}
"""Vessel-like sources (not in the preprint; the pay-off map's second shape family): random
polylines of 4 segments of 10 px, turning by at most 45° per joint, 3 px thick: about 40 px
long and 120 px in area, next to a radius-5 disk's 81 px, with a longer rim."""


def polyline_mask(vertices: np.ndarray, size: int, thickness: float) -> np.ndarray:
    """Pixels (i, j) within ``thickness``/2 of a polyline through ``vertices`` (V, 2) (row, col)."""
    mask = np.zeros((size, size), bool)
    r = thickness / 2
    for a, b in zip(vertices[:-1], vertices[1:]):
        lo = np.maximum(np.floor(np.minimum(a, b) - r), 0).astype(int)
        hi = np.minimum(np.ceil(np.maximum(a, b) + r), size - 1).astype(int) + 1
        i, j = np.mgrid[lo[0]:hi[0], lo[1]:hi[1]]
        p = np.stack([i, j], axis=-1).astype(np.float64)
        d = b - a
        t = np.clip(((p - a) @ d) / max(d @ d, 1e-12), 0.0, 1.0)
        mask[lo[0]:hi[0], lo[1]:hi[1]] |= np.linalg.norm(p - (a + t[..., None] * d),
                                                         axis=-1) <= r
    return mask


def _polyline(rng: np.random.Generator, size: int, segments: int, length: float,
              max_turn: float, margin: float) -> np.ndarray:
    """Vertices of one random polyline: a random start and heading, each joint turning by a
    uniform angle in [−max_turn, max_turn]; vertices are clipped to stay ``margin`` inside."""
    start = rng.uniform(margin, size - 1 - margin, size=2)
    heading = rng.uniform(0, 2 * np.pi)
    turns = np.concatenate([[heading], rng.uniform(-max_turn, max_turn, segments - 1)])
    angles = np.cumsum(turns)
    steps = length * np.stack([np.sin(angles), np.cos(angles)], axis=1)
    vertices = start + np.concatenate([[[0.0, 0.0]], np.cumsum(steps, axis=0)])
    return np.clip(vertices, margin, size - 1 - margin)


def draw_polylines(n: int, seed: int, n_sources: int = 2, size: int = 100,
                   segments: int = POLYLINE["segments"],
                   segment_length: float = POLYLINE["segment_length"],
                   thickness: float = POLYLINE["thickness"],
                   max_turn: float = POLYLINE["max_turn"]) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray]:
    """Draw ``n`` images of ``n_sources`` vessel-like polylines (:data:`POLYLINE`).

    Returns (inputs (n, N, N), vertices (n, S, segments + 1, 2), values (n, S)). Values as
    for disks (one source 1, the others uniform in (0, 1]); where polylines cross, a pixel
    keeps the largest value. Deterministic in its arguments. Not in the preprint.
    """
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not (isinstance(n_sources, (int, np.integer)) and n_sources >= 1):
        raise ValueError(f"n_sources must be an integer >= 1, got {n_sources!r}")
    if not (isinstance(segments, (int, np.integer)) and segments >= 1):
        raise ValueError(f"segments must be an integer >= 1, got {segments!r}")
    if not (thickness > 0 and segment_length > 0 and size > 2 * thickness + 2):
        raise ValueError(f"need thickness > 0, segment_length > 0 and size > 2*thickness+2; "
                         f"got {thickness!r}, {segment_length!r}, {size!r}")
    rng = np.random.default_rng(seed)
    inputs = np.zeros((n, size, size), np.float64)
    vertices = np.zeros((n, n_sources, segments + 1, 2), np.float64)
    values = np.zeros((n, n_sources), np.float64)
    for k in range(n):
        v = np.concatenate([[1.0], 1.0 - rng.random(n_sources - 1)])  # (0, 1]
        rng.shuffle(v)
        for s in range(n_sources):
            vertices[k, s] = _polyline(rng, size, segments, segment_length, max_turn, thickness)
            mask = polyline_mask(vertices[k, s], size, thickness)
            inputs[k][mask] = np.maximum(inputs[k][mask], v[s])
        values[k] = v
    return inputs, vertices, values
