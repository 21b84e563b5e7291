"""The problem chapter: the data set, the two readings of a source, and the exact-solver checks.

Numbers and sentences for ``book/problem.md``. Every sentence that states a conclusion is
chosen from the computed value against a named tolerance below; :func:`k0_fit` is the single
K₀ fit of one disk that the page and ``tests/test_solver.py`` share.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.optimize import brentq
from scipy.special import k0

from .. import solver
from .report import fmt

L_D = 20.0
"""Diffusion length l_D = √(D/γ) with D = 1, γ = 1/400 (preprint Sec. 2)."""
RADIUS = 5
"""Source radius R in pixels (preprint Sec. 2)."""
ROUNDING_TOL = 1e-10
"""Largest pixel difference between two exact solutions (or a clamped field and its source
value) still called "exact to rounding error"; float64 round-off here is about 1e-15."""
TIMESTEP_TOL = 1e-6
"""Largest pixel difference between the converged time stepper and the direct solve for them
to "agree" (the bound of ``tests/test_solver.py``; the networks' mean residuals are ≳ 1e-3)."""
MODE_DIFFERENCE = 1e-2
"""Largest pixel difference between the clamped and production targets above which the two
readings of a source count as different targets (the networks' mean residuals are ≳ 1e-3)."""
NEAR_ONE = 0.9
"""Target value from which a pixel counts as "near 1" (high values, weighted up by Eq. 1)."""
RARE = 0.05
"""Fraction of target pixels near 1 below which high values are called rare."""
FIT_WINDOW = (15.0, 30.0)
"""Distances from the disk centre where the K₀ amplitude (hence R_eff) is fitted."""
FIT_BAND = (8.0, 60.0)
"""Distances where the lattice field is compared with the fitted K₀ profile."""
R_EFF_RANGE = (float(np.sqrt(20)), float(np.sqrt(81 / np.pi)))
"""Where the fitted effective radius must lie: the innermost rim distance √20 and the
equal-area radius √(81/π) of the 81-pixel disk."""
DISK_TOL = 0.02
"""Largest relative deviation from the K₀ profile on :data:`FIT_BAND` expected from the
pixelated rim, the 5-point stencil and the walls (``tests/test_solver.py`` bounds it below 2 %)."""
TIMES = (125, 250, 500, 1000, 2000, 4000)
"""Simulated times at which the time stepper is stopped."""
T_AUTHORS = 3000.0
"""Where the authors' code stopped its time integration."""


# ---------------------------------------------------------------- the data
def first_test(data: xr.Dataset) -> int:
    """Index of the data set's first test configuration (the one of Fig. 1)."""
    return int(np.flatnonzero(data["split"].values == "test")[0])


def sample(data: xr.Dataset, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Input and target of configuration ``k`` as float arrays."""
    return (data["input"].values[k].astype(float), data["target"].values[k].astype(float))


def data_mode(data: xr.Dataset, default: str = "clamped") -> str:
    """The source mode the data were made in."""
    return str(data.attrs.get("mode", default))


def data_text(data: xr.Dataset) -> str:
    """Size, solve time, source pixels per input and the fraction of pixels near 1, against
    the preprint's estimate 2πR²/L²."""
    targets, inputs = data["target"].values, data["input"].values
    near = float((targets >= NEAR_ONE).mean())
    source_px = float((inputs > 0).sum(axis=(1, 2)).mean())
    estimate = 2 * np.pi * RADIUS ** 2 / targets.shape[1] ** 2
    rare = ("High values are rare, which is why Eq. 1 weights them up." if near < RARE else
            f"High values are not rare here (at least {100 * RARE:g} % of the pixels).")
    return (f"The data set holds {targets.shape[0]:,} configurations of {targets.shape[1]} × "
            f"{targets.shape[2]} pixels, solved in "
            f"{float(data.attrs.get('wall_time_s', np.nan)):.1f} s "
            f"with `{data.attrs.get('solver', 'diffsurr.solver')}`. On average "
            f"{source_px:.0f} pixels per input are source pixels (two disks of 81 pixels, fewer "
            f"when a disk touches the other), and {100 * near:.2f} % of all target pixels have a "
            f"value of at least {NEAR_ONE:g}; the preprint estimates the fraction of pixels near 1 "
            f"as 2πR²/L² ≈ {100 * estimate:.1f} %. " + rare)


# ---------------------------------------------------------------- the two readings of a source
@dataclass
class Modes:
    """One input solved in both readings of a source."""

    x: np.ndarray
    clamped: np.ndarray
    production: np.ndarray
    centres: np.ndarray
    values: np.ndarray
    row: int
    """The row through the weaker source (dashed in the figure)."""


def source_modes(data: xr.Dataset, k: int) -> Modes:
    """Configuration ``k`` solved clamped and production with :func:`diffsurr.solver.solve`."""
    x, _ = sample(data, k)
    centres = data["centre"].values[k]
    values = data["value"].values[k].astype(float)
    return Modes(x, solver.solve(x, mode="clamped"), solver.solve(x, mode="production"),
                 centres, values, int(centres[np.argmin(values), 0]))


def modes_text(m: Modes, mode: str) -> str:
    """The field at each source centre in both readings, and how far the two fields differ."""
    weak, strong = int(np.argmin(m.values)), int(np.argmax(m.values))
    at = {name: [float(u[c[0], c[1]]) for c in m.centres]
          for name, u in (("clamped", m.clamped), ("production", m.production))}
    diff = np.abs(m.clamped - m.production)
    held = abs(at["clamped"][weak] - m.values[weak]) <= ROUNDING_TOL
    clamp = ("Clamped, the field at its centre is exactly that" if held else
             f"Clamped, the field at its centre is {at['clamped'][weak]:.3f}, not that value")
    differ = ("the choice changes the targets, so results from the two modes are not "
              "comparable" if diff.max() > MODE_DIFFERENCE else
              f"below {fmt(MODE_DIFFERENCE)}, so the choice hardly changes the targets")
    return (f"For this input the weaker source has value {m.values[weak]:.3f}. {clamp}; in the "
            f"production reading it is {at['production'][weak]:.3f} (the stronger source: "
            f"{at['clamped'][strong]:.3f} clamped, {at['production'][strong]:.3f} production). "
            f"The two fields differ by up to {diff.max():.3f} (mean {diff.mean():.4f}) — "
            f"{differ}; the data of this book were made in mode `{mode}`.")


# ---------------------------------------------------------------- fast vs sparse
def solver_agreement(batch: np.ndarray) -> dict[str, np.ndarray]:
    """Per source mode, max |fast − sparse| per input of ``batch``."""
    return {mode: np.abs(solver.solve(batch, mode=mode, method="fast")
                         - solver.solve(batch, mode=mode, method="sparse")).max(axis=(1, 2))
            for mode in solver.MODES}


def check_batch(data: xr.Dataset, n: int = 5) -> np.ndarray:
    """The first ``n`` test inputs, as floats."""
    idx = np.flatnonzero(data["split"].values == "test")[:n]
    return data["input"].values[idx].astype(float)


def agreement_text(agreement: dict[str, np.ndarray]) -> str:
    """The largest fast − sparse difference, against :data:`ROUNDING_TOL`."""
    worst = max(float(np.max(d)) for d in agreement.values())
    verdict = ("the fast solver is exact to rounding error" if worst <= ROUNDING_TOL else
               f"more than rounding error ({fmt(ROUNDING_TOL)}): the fast solver is not exact")
    return f"The largest difference over these inputs is {fmt(worst)} — {verdict}."


# ---------------------------------------------------------------- time stepping
@dataclass
class Timestep:
    """Explicit time stepping of one input against the exact clamped field."""

    times: np.ndarray
    err: np.ndarray
    """max |u(t) − u_exact| at each of :attr:`times`."""
    converged: float
    """max |u − u_exact| of the time stepper run to its default tolerance."""


def timestep_check(x: np.ndarray, times=TIMES) -> Timestep:
    """Time-step ``x`` (clamped) to each of ``times`` and to the default tolerance."""
    exact = solver.solve(x[None], mode="clamped")
    err = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # stopped at t_max on purpose
        for t_max in times:
            u_t = solver.solve_timestep(x[None], mode="clamped", tol=1e-300,
                                        t_max=float(t_max), check_every=1)
            err.append(float(np.abs(u_t - exact).max()))
    conv = float(np.abs(solver.solve_timestep(x[None], mode="clamped") - exact).max())
    return Timestep(np.asarray(times, float), np.asarray(err), conv)


def timestep_text(ts: Timestep) -> str:
    """Decay rate of the error, its value at t = 3000, and whether the converged time stepper
    agrees with the direct solve (:data:`TIMESTEP_TOL`)."""
    t, err = ts.times, ts.err
    rate = -np.polyfit(t[-3:], np.log(err[-3:]), 1)[0]
    at_authors = float(np.exp(np.interp(T_AUTHORS, t, np.log(err))))
    falls = ("The error falls exponentially" if np.all(np.diff(err) < 0) and rate > 0 else
             "The error does not fall steadily; its late-time decay rate is")
    agree = ("Time stepping and the direct solve agree; the direct solve is what makes 20,000 "
             "exact targets cheap." if ts.converged <= TIMESTEP_TOL else
             f"That is more than {fmt(TIMESTEP_TOL)}: time stepping and the direct solve do "
             "not agree.")
    return (f"{falls}, at a rate of {rate:.4f} per unit time (e-folding time {1 / rate:.0f}), "
            f"from {fmt(err[0])} at t = {t[0]:g} to {fmt(err[-1])} at t = {t[-1]:g}; "
            f"extrapolated to t = {T_AUTHORS:g} it is {fmt(at_authors)}. Run to its default "
            f"tolerance the time stepper ends {fmt(ts.converged)} from the exact field. {agree}")


# ---------------------------------------------------------------- one disk against K₀
def k0_fit(u: np.ndarray, r: np.ndarray, l_D: float = L_D, window=FIT_WINDOW,
           band=FIT_BAND) -> tuple[float, float, np.ndarray]:
    """Fit of u ≈ A·K₀(r/l_D) outside one disk: A from the geometric mean of u/K₀(r/l_D) on
    ``window``, the effective radius R_eff from A·K₀(R_eff/l_D) = 1, and the relative
    deviation u/(A·K₀) − 1 at the pixels with r in ``band`` (in array order)."""
    w = (r >= window[0]) & (r <= window[1])
    amp = float(np.exp(np.mean(np.log(u[w] / k0(r[w] / l_D)))))
    r_eff = float(brentq(lambda q: amp * k0(q / l_D) - 1, 1, 20))
    b = (r >= band[0]) & (r <= band[1])
    return amp, r_eff, u[b] / (amp * k0(r[b] / l_D)) - 1


def disk_grid(N: int = 201) -> np.ndarray:
    """Distance of every pixel of an N × N grid from its centre pixel."""
    i, j = np.mgrid[:N, :N]
    return np.hypot(i - N // 2, j - N // 2)


@dataclass
class SingleDisk:
    """One clamped disk (c = 1, R = 5) at the centre of an N × N grid, fitted by :func:`k0_fit`."""

    N: int
    r_out: np.ndarray
    """Distances of the pixels outside the disk within 80 of its centre."""
    u_out: np.ndarray
    r_band: np.ndarray
    rel: np.ndarray
    """Relative deviation from the fitted K₀ profile at :attr:`r_band`."""
    r_eff: float
    amp: float

    def curve(self, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
        """The fitted profile A·K₀(r/l_D) from R_eff to 95."""
        rc = np.linspace(self.r_eff, 95, n)
        return rc, self.amp * k0(rc / L_D)


def single_disk(N: int = 201, gamma: float = 1 / 400) -> SingleDisk:
    """Solve one clamped disk of radius :data:`RADIUS` and fit it with :func:`k0_fit`."""
    r = disk_grid(N)
    u = solver.solve((r <= RADIUS).astype(float), mode="clamped", gamma=gamma)
    amp, r_eff, rel = k0_fit(u, r)
    b = (r >= FIT_BAND[0]) & (r <= FIT_BAND[1])
    out = (r > RADIUS) & (r <= 80)
    return SingleDisk(N, r[out], u[out], r[b], rel, r_eff, amp)


def disk_text(sd: SingleDisk) -> str:
    """R_eff against :data:`R_EFF_RANGE` and the deviation against :data:`DISK_TOL`."""
    lo, hi = R_EFF_RANGE
    where = "between" if lo <= sd.r_eff <= hi else "outside the range"
    dev = float(np.abs(sd.rel).max())
    ok = lo <= sd.r_eff <= hi and dev <= DISK_TOL
    verdict = ("the size expected from the pixelated rim, the 5-point stencil and the distant "
               f"walls (below {100 * DISK_TOL:g} %, the bound in `tests/test_solver.py`): the "
               "discrete operator and its boundary condition are the intended ones." if ok else
               f"outside what the pixelated rim, the 5-point stencil and the walls explain "
               f"(radius in [{lo:.2f}, {hi:.2f}], deviation below {100 * DISK_TOL:g} %): the "
               "discrete operator or its boundary condition is not the intended one.")
    return (f"The fitted effective radius is {sd.r_eff:.3f}, {where} √20 ≈ {lo:.2f} and "
            f"√(81/π) ≈ {hi:.2f}. For {FIT_BAND[0]:g} ≤ r ≤ {FIT_BAND[1]:g} the lattice field "
            f"deviates from the continuum profile by at most {100 * dev:.2f} % (median "
            f"{100 * np.median(np.abs(sd.rel)):.2f} %), {verdict}")
