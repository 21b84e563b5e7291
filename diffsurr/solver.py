"""Exact steady-state solvers for the screened diffusion problem of the preprint (Sec. 2).

The field u on an N x N grid (unit spacing, 5-point Laplacian L, u = 0 on the ghost
cells just outside the grid) is the steady state of D∇²u − γu = 0 away from the sources,
the non-zero pixels S of an input image x. With A = γI − D·L (symmetric positive
definite) there are two readings of "source":

* ``clamped`` (the preprint's text, Sec. 2 and Fig. 1): u = x on S and (A u)_i = 0
  on every other pixel i.
* ``production`` (the authors' genData.jl; the book's differences page): u = A⁻¹x, the
  steady state of du/dt = D∇²u − γu + x, divided by its maximum (per sample).

Three methods compute the same fields: ``sparse`` (scipy.sparse direct solve, the
reference), ``fast`` (DST-I fast Poisson solver plus a capacitance / Green's-function
solve on the source rim) and ``timestep`` (explicit Euler to convergence, time stepping
as the preprint's solver did; slow by design, a benchmark baseline).
"""

import functools
import warnings

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

MODES = ("clamped", "production")
METHODS = ("fast", "sparse", "timestep")
CHUNK = 256


def steady_operator(N, D=1.0, gamma=1 / 400):
    """Return A = γI − D·L as a scipy.sparse CSC matrix of size N² (row-major pixels)."""
    eye = sp.identity(N, format="csc")
    lap1 = sp.diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(N, N), format="csc")
    lap = sp.kron(lap1, eye) + sp.kron(eye, lap1)
    return (gamma * sp.identity(N * N) - D * lap).tocsc()


def solve(inputs, mode="clamped", D=1.0, gamma=1 / 400, method="fast"):
    """Steady field for source image(s) ``inputs`` of shape (N, N) or (B, N, N).

    Returns a float64 array of the same shape; see the module docstring for the modes.
    """
    x = validate_inputs(inputs, mode, D, gamma)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods are {METHODS}")
    impl = {"fast": solve_fast, "sparse": solve_sparse, "timestep": solve_timestep}[method]
    u = impl(x.reshape((-1,) + x.shape[-2:]), mode=mode, D=D, gamma=gamma)
    return u.reshape(x.shape)


def validate_inputs(inputs, mode, D, gamma, batched=False):
    """Check the arguments shared by all solvers; return the inputs as float64."""
    if np.iscomplexobj(inputs):
        raise ValueError("inputs are complex; the sources must be real numbers")
    x = np.asarray(inputs, dtype=np.float64)
    check_problem(x.shape, mode, D, gamma, batched)
    if not np.isfinite(x).all():
        raise ValueError("inputs contain NaN or infinite values; all values must be finite")
    return x


def check_problem(shape, mode, D, gamma, batched=False):
    """Raise ValueError unless shape is (B >= 1, N, N) [or (N, N) if not batched], N >= 3,
    and mode, D, gamma are valid."""
    ranks, form = ((3,), "(B, N, N)") if batched else ((2, 3), "(N, N) or (B, N, N)")
    if len(shape) not in ranks:
        raise ValueError(
            f"inputs must have shape {form}; got rank {len(shape)} {tuple(shape)}")
    if shape[-1] != shape[-2] or shape[-1] < 3:
        raise ValueError(
            f"the last two dimensions must be equal and at least 3 (N x N, N >= 3); "
            f"got {tuple(shape)}")
    if len(shape) == 3 and shape[0] == 0:
        raise ValueError("inputs hold an empty batch (B = 0); give at least one sample")
    if not (np.isfinite(D) and D > 0):
        raise ValueError(f"D must be a finite number > 0; got {D!r}")
    if not (np.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"gamma must be a finite number >= 0; got {gamma!r}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid modes are {MODES}")


MAX_GAMMA_OVER_D = 1e12
"""Largest γ/D the fast methods take (a decay length of 1e-6 pixel); their Green's tables lose
rank far beyond it (γ/D = 1e150 was singular), while method='sparse' handles any ratio."""


def fast_scale(D, gamma):
    """(1, γ/D): the fast methods solve with these, which give the same fields (scaling A
    cancels in both modes); ValueError with the valid range where γ/D is too large."""
    ratio = gamma / D
    if not ratio <= MAX_GAMMA_OVER_D:
        raise ValueError(f"the fast solver handles gamma/D in [0, {MAX_GAMMA_OVER_D:g}]; got "
                         f"D = {D!r}, gamma = {gamma!r} (gamma/D = {ratio:g}); use "
                         "method='sparse'")
    return 1.0, ratio


def normalise(u):
    """Divide each field of a (B, N, N) batch by its maximum (production mode)."""
    peak = u.max(axis=(-2, -1), keepdims=True)
    bad = np.flatnonzero(peak.ravel() <= 0)
    if bad.size:
        raise ValueError(
            f"production mode divides each field by its maximum, but sample(s) "
            f"{bad[:10].tolist()} have a maximum <= 0 (an all-zero input?); production "
            f"needs an input with positive source values")
    return u / peak


def rim_mask(sources):
    """Source pixels with an in-grid 4-neighbour that is not a source (Sec. 2 clamp).

    ``sources`` is a boolean (..., N, N) numpy array or torch tensor.
    """
    outside = ~sources
    touches = sources & False  # all-False copy, numpy or torch alike
    touches[..., 1:, :] |= outside[..., :-1, :]
    touches[..., :-1, :] |= outside[..., 1:, :]
    touches[..., :, 1:] |= outside[..., :, :-1]
    touches[..., :, :-1] |= outside[..., :, 1:]
    return sources & touches


# --- sparse reference -----------------------------------------------------------------

def solve_sparse(x, mode="clamped", D=1.0, gamma=1 / 400):
    """Reference solve of a (B, N, N) batch with a sparse LU factorisation of A."""
    x = validate_inputs(x, mode, D, gamma, batched=True)
    B, N, _ = x.shape
    A = steady_operator(N, D, gamma)
    flat = x.reshape(B, N * N)
    if mode == "production":
        u = spla.splu(A).solve(np.ascontiguousarray(flat.T)).T
        return normalise(u.reshape(B, N, N))
    u = flat.copy()
    A = A.tocsr()
    for b in range(B):
        src = flat[b] != 0
        rows = A[~src]
        # Eliminate the clamped pixels: A_FF u_F = −A_FS x_S.
        rhs = -(rows[:, src] @ flat[b, src])
        u[b, ~src] = spla.splu(rows[:, ~src].tocsc()).solve(rhs)
    return u.reshape(B, N, N)


# --- fast exact path ------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def sine_tables(N, D, gamma):
    """Orthonormal DST-I matrix and the eigenvalues of A (preprint Sec. 2 operator).

    Returns (phi, lam): phi[i, k−1] = sqrt(2/(N+1)) sin(π k (i+1)/(N+1)) is symmetric
    and its own inverse; lam[k, l] = γ + D(2 − 2cos θ_k) + D(2 − 2cos θ_l), θ_k = πk/(N+1).
    """
    theta = np.pi * np.arange(1, N + 1) / (N + 1)
    phi = np.sqrt(2 / (N + 1)) * np.sin(np.outer(np.arange(1, N + 1), theta))
    d = D * (2 - 2 * np.cos(theta))
    return phi, gamma + d[:, None] + d[None, :]


LOG_MAX = 700.0
"""Largest natural log a Green's-table entry may reach (float64 overflows above ~709.78)."""


def _green_mu(N, D, gamma):
    """μ_k = arccosh(1 + (γ + D(2 − 2cos θ_k))/(2D)) and the Dirichlet denominator per mode k."""
    theta = np.pi * np.arange(1, N + 1) / (N + 1)
    mu = np.arccosh(1 + (gamma + D * (2 - 2 * np.cos(theta))) / (2 * D))
    denom = D * -np.expm1(-2 * mu) * -np.expm1(-2 * mu * (N + 1))
    return mu, denom


def _green_factors(N, mu, denom, centre):
    """Factors a(i), b(j) of the y-Green's function with exponentials centred on ``centre``."""
    i = np.arange(N)
    a = np.exp(np.outer(i - centre, mu)) * -np.expm1(-2 * np.outer(i + 1, mu))
    b = np.exp(np.outer(centre - i - 1, mu)) * -np.expm1(-2 * np.outer(N - i, mu)) / denom
    return a, b


@functools.lru_cache(maxsize=16)
def green_tables(N, D, gamma):
    """Semi-separable factors a, b of the Green's function G = A⁻¹.

    G(p, q) = Σ_k phi[p_x, k] phi[q_x, k] a[p_y, k] b[q_y, k] whenever p_y <= q_y.
    In sine mode k the y-operator is D·tridiag(−1, 2cosh μ_k, −1), 2cosh μ_k =
    2 + γ/D + 2 − 2cos θ_k; its Dirichlet Green's function for i <= j is
    sinh(μ(i+1)) sinh(μ(N−j)) / (D sinh μ sinh(μ(N+1))) = a(i) b(j), written with
    exponentials centred on the grid so that every product a(i) b(j) stays finite.
    Raises for grids where the discarded products overflow (N ≳ 398 at the study's γ);
    :func:`green_bands` splits the grid into bands that never do.
    """
    mu, denom = _green_mu(N, D, gamma)
    # |a(i) b(j)| <= e^{μ(N−2)}/denom for i > j, the triangle that is discarded.
    log_big = np.max(mu * (N - 2) - np.log(denom)) + np.log(2)
    if log_big > LOG_MAX:
        raise ValueError(
            f"the fast clamped method's Green's-function tables overflow float64 for "
            f"N={N}, D={D:g}, gamma={gamma:g} (log of largest entry {log_big:.0f} > 700); "
            f"use method='sparse' or a smaller grid")
    return _green_factors(N, mu, denom, (N - 1) / 2)


def band_width(N, D, gamma):
    """Widest band of rows W whose discarded products e^{μ(W−2)}/denom stay below e^LOG_MAX."""
    mu, denom = _green_mu(N, D, gamma)
    width = int(np.floor(np.min((LOG_MAX - np.log(2) + np.log(denom)) / mu))) + 2
    if width < 1:
        raise ValueError(
            f"the fast clamped method's Green's-function tables overflow float64 for "
            f"N={N}, D={D:g}, gamma={gamma:g} even one row at a time; use method='sparse'")
    return min(width, N)


@functools.lru_cache(maxsize=16)
def green_bands(N, D, gamma):
    """The factors of :func:`green_tables`, rescaled per band of rows so that none overflows.

    Rows are split into equal bands of at most :func:`band_width` rows. Band I = [lo, hi)
    has its own centre r_I, with a_I(i) = 0 outside the band and b_I(j) = 0 for j < lo, so
    Σ_I a_I(p_y) b_I(q_y) = a(p_y) b(q_y) for p_y <= q_y (only the band of p_y contributes,
    rescaled by e^{±μ r_I}, which cancels), and every discarded product (p_y > q_y) is 0 or
    at most e^{μ(W−2)}/denom. One band (N <= W: the study's N = 100) returns green_tables'
    own (a, b), so its results are unchanged to the bit.
    """
    if band_width(N, D, gamma) >= N:
        return (green_tables(N, D, gamma),)
    mu, denom = _green_mu(N, D, gamma)
    n_bands = -(-N // band_width(N, D, gamma))
    edges = np.linspace(0, N, n_bands + 1).round().astype(int)
    rows = np.arange(N)[:, None]
    bands = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        with np.errstate(over="ignore"):   # entries outside their band are zeroed here
            a, b = _green_factors(N, mu, denom, (lo + hi - 1) / 2)
            bands.append((np.where((rows >= lo) & (rows < hi), a, 0.0),
                          np.where(rows >= lo, b, 0.0)))
    return tuple(bands)


def apply_inverse(f, D=1.0, gamma=1 / 400):
    """u = A⁻¹ f for a (B, N, N) batch: sine transform, divide by λ, transform back.

    The DST-I is a product with the dense sine matrix: for this study's N = 100,
    N + 1 = 101 is prime and scipy.fft.dstn (FFT length 202) was about 5x slower here.
    """
    phi, lam = sine_tables(f.shape[-1], D, gamma)
    return phi @ ((phi @ f @ phi) / lam) @ phi


def solve_fast(x, mode="clamped", D=1.0, gamma=1 / 400, chunk=CHUNK):
    """Exact solve of a (B, N, N) batch: DST-I (production) or capacitance method (clamped).

    Clamped: only the rim R of the sources couples to the exterior, so u = A⁻¹f with f
    supported on R and G_RR f_R = x_R gives the clamped field outside S; then u = x on S.
    It solves with D = 1 and γ/D (:func:`fast_scale`).
    """
    x = validate_inputs(x, mode, D, gamma, batched=True)
    if not (isinstance(chunk, (int, np.integer)) and chunk >= 1):
        raise ValueError(f"chunk must be an integer >= 1; got {chunk!r}")
    D, gamma = fast_scale(D, gamma)
    if mode == "production":
        return normalise(apply_inverse(x, D, gamma))
    return np.concatenate(
        [_clamped_chunk(x[i:i + chunk], D, gamma) for i in range(0, len(x), chunk)])


def _clamped_chunk(x, D, gamma):
    """Capacitance solve for one chunk; rim lists are padded to equal length."""
    B, N, _ = x.shape
    phi, lam = sine_tables(N, D, gamma)
    bands = green_bands(N, D, gamma)
    src = x != 0
    bi, px, py = np.nonzero(rim_mask(src))
    counts = np.bincount(bi, minlength=B)
    m = counts.max(initial=0)
    if m == 0:  # no source pixel borders a free one: u = x everywhere
        return x.copy()
    slot = np.arange(bi.size) - np.repeat(np.cumsum(counts) - counts, counts)
    valid = np.zeros((B, m), bool)
    valid[bi, slot] = True
    X = np.zeros((B, m), np.intp)
    Y = np.zeros((B, m), np.intp)
    X[bi, slot], Y[bi, slot] = px, py
    rhs = np.zeros((B, m))
    rhs[bi, slot] = x[bi, px, py]
    PX = phi[X]
    a, b = bands[0]
    M = (PX * a[Y]) @ (PX * b[Y]).transpose(0, 2, 1)
    for a, b in bands[1:]:  # grids too large for one band (green_bands)
        M += (PX * a[Y]) @ (PX * b[Y]).transpose(0, 2, 1)
    G = np.where(Y[:, :, None] <= Y[:, None, :], M, M.transpose(0, 2, 1))
    pair = valid[:, :, None] & valid[:, None, :]
    G = np.where(pair, G, np.eye(m))
    f = np.linalg.solve(G, rhs[..., None])
    # Sine transform of the rim charges f (zero on padding), then A⁻¹ as in apply_inverse.
    f_hat = (PX * f).transpose(0, 2, 1) @ phi[Y]
    return np.where(src, x, phi @ (f_hat / lam) @ phi)


# --- time stepping baseline -----------------------------------------------------------

def solve_timestep(x, mode="clamped", D=1.0, gamma=1 / 400, tol=1e-10, t_max=1e5,
                   check_every=50):
    """Explicit Euler of du/dt = D∇²u − γu (+ x in production) until steady.

    dt = 0.9 · 2/(8D + γ) (stability limit). Clamped resets u = x on the sources every
    step. Stops when max|Δu|/Δt <= tol · max|u| for every sample, or at t = t_max
    (RuntimeWarning). The preprint's Julia solver also time-stepped (Sec. 2; the
    authors' code ran ROCK2 to t = 3000: the book's differences page).
    """
    x = validate_inputs(x, mode, D, gamma, batched=True)
    if not (tol > 0 and t_max > 0 and check_every >= 1):
        raise ValueError(f"need tol > 0, t_max > 0, check_every >= 1; got {tol!r}, "
                         f"{t_max!r}, {check_every!r}")
    dt = 0.9 * 2 / (8 * D + gamma)
    src = x != 0
    u = x.copy()
    drive = x if mode == "production" else 0.0
    frozen = src if mode == "clamped" else np.zeros_like(src)
    pad = np.zeros((x.shape[0], x.shape[1] + 2, x.shape[2] + 2))
    steps = 0
    while True:
        pad[:, 1:-1, 1:-1] = u
        lap = (pad[:, :-2, 1:-1] + pad[:, 2:, 1:-1] + pad[:, 1:-1, :-2] + pad[:, 1:-1, 2:]
               - 4 * u)
        du = dt * (D * lap - gamma * u + drive)
        du[frozen] = 0.0
        u = u + du
        steps += 1
        if steps % check_every == 0:
            rate = np.abs(du).max(axis=(1, 2)) / dt
            if (rate <= tol * np.abs(u).max(axis=(1, 2))).all():
                break
            if steps * dt >= t_max:
                warnings.warn(f"time stepping stopped at t_max={t_max} before reaching "
                              f"tol={tol}", RuntimeWarning, stacklevel=2)
                break
    return normalise(u) if mode == "production" else u
