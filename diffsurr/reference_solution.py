"""An independent steady solution to check the solvers against (the benchmark's rule of exactness).

Conjugate gradients (scipy) on a matrix-free 5-point operator written here, apart from
:mod:`diffsurr.solver`'s code, with a certified bound on its error: a solver is trusted because
it agrees with a solution that shares none of its code, not with itself.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

from .data import PROBLEM


def _apply_operator(u, D, gamma):
    """A u = γu − D·(5-point Laplacian of u, zero outside the grid) for one (N, N) field.

    Written here on purpose, apart from diffsurr.solver.steady_operator, so that the reference
    shares no code with the solvers it checks."""
    lap = -4.0 * u
    lap[1:, :] += u[:-1, :]
    lap[:-1, :] += u[1:, :]
    lap[:, 1:] += u[:, :-1]
    lap[:, :-1] += u[:, 1:]
    return gamma * u - D * lap


def reference_solve(inputs, mode="clamped", D=PROBLEM["D"], gamma=PROBLEM["gamma"],
                    refinements=2):
    """Independent steady fields of a (B, N, N) batch and a certified bound on their error.

    Conjugate gradients (scipy) on the matrix-free operator of :func:`_apply_operator`:
    clamped, on the free pixels with u = x on the sources; production, A u = x, then divided
    by its maximum. ``refinements`` rounds of iterative refinement on the true residual r.
    The smallest eigenvalue of A (and, by interlacing, of its free-pixel block) is
    λ_min = γ + 2D(2 − 2cos(π/(N+1))), so max |u − u*| <= ‖r‖₂ / λ_min: the returned bound
    (per sample; for production, before normalisation, divided by the field's maximum).
    """
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] != x.shape[2]:
        raise ValueError(f"inputs must have shape (B, N, N); got {x.shape}")
    N = x.shape[-1]
    lam_min = gamma + 2 * D * (2 - 2 * np.cos(np.pi / (N + 1)))
    out, bound = np.empty_like(x), np.empty(len(x))
    for k, xs in enumerate(x):
        free = np.ones((N, N), bool) if mode == "production" else xs == 0
        n_free = int(free.sum())

        def matvec(v, free=free):
            u = np.zeros((N, N))
            u[free] = np.ravel(v)
            return _apply_operator(u, D, gamma)[free]
        op = spla.LinearOperator((n_free, n_free), matvec=matvec, dtype=np.float64)
        b = (xs.ravel() if mode == "production"
             else -_apply_operator(np.where(free, 0.0, xs), D, gamma)[free])
        v = np.zeros(n_free)
        for _ in range(refinements):
            dv, info = spla.cg(op, b - op.matvec(v), rtol=1e-14, atol=0.0, maxiter=20 * N * N)
            v = v + dv
        err = np.linalg.norm(b - op.matvec(v)) / lam_min
        u = xs.copy()
        u[free] = v
        if mode == "production":
            peak = u.max()
            u, err = u / peak, err / peak
        out[k], bound[k] = u, err
    return out, bound
