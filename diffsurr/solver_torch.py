"""Batched torch version of the fast exact solver (diffsurr.solver.solve_fast, Sec. 2).

Runs on the inputs' device with no loop over samples: the rim of every sample is
listed and padded with tensor ops, the rim Green's matrices G_RR are built and solved
in float64, and A⁻¹ is applied as a product with the dense DST-I matrix in ``dtype``.
Host syncs: one per call for the finite-input check, one per chunk for the padded rim
width (clamped) or one for the normalisation check (production).
"""

import functools

import torch

from diffsurr import solver

CHUNK = 1024


@functools.lru_cache(maxsize=16)
def _sine(N, D, gamma, device, dtype):
    """solver.sine_tables (phi, lam) as tensors of ``dtype`` on ``device``."""
    return tuple(torch.as_tensor(t, dtype=dtype, device=device)
                 for t in solver.sine_tables(N, D, gamma))


@functools.lru_cache(maxsize=16)
def _green(N, D, gamma, device):
    """solver.green_tables (a, b) as float64 tensors on ``device``."""
    return tuple(torch.as_tensor(t, device=device) for t in solver.green_tables(N, D, gamma))


def solve_torch(inputs, mode="clamped", D=1.0, gamma=1 / 400, dtype=torch.float64,
                chunk=CHUNK):
    """Steady field for a (N, N) or (B, N, N) tensor of sources; see diffsurr.solver.solve.

    Returns a tensor of ``dtype`` on the inputs' device, same shape as ``inputs``.
    """
    if not isinstance(inputs, torch.Tensor):
        raise ValueError(f"inputs must be a torch.Tensor; got {type(inputs).__name__}")
    if not (isinstance(chunk, int) and chunk >= 1):
        raise ValueError(f"chunk must be an integer >= 1; got {chunk!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64; got {dtype}")
    solver.check_problem(inputs.shape, mode, D, gamma)
    if inputs.is_complex():
        raise ValueError("inputs are complex; the sources must be real numbers")
    D, gamma = solver.fast_scale(D, gamma)
    x = inputs.to(torch.float64).reshape((-1,) + inputs.shape[-2:])
    if not bool(torch.isfinite(x).all()):
        raise ValueError("inputs contain NaN or infinite values; all values must be finite")
    N = x.shape[-1]
    if mode == "production":
        phi, lam = _sine(N, D, gamma, x.device, dtype)
        u = phi @ ((phi @ x.to(dtype) @ phi) / lam) @ phi
        peak = u.amax(dim=(-2, -1), keepdim=True)
        if bool((peak <= 0).any()):
            raise ValueError(
                "production mode divides each field by its maximum, but some sample has "
                "a maximum <= 0 (an all-zero input?); production needs positive sources")
        return (u / peak).reshape(inputs.shape)
    u = torch.cat([_clamped(x[i:i + chunk], D, gamma, dtype)
                   for i in range(0, x.shape[0], chunk)])
    return u.reshape(inputs.shape)


def _clamped(x, D, gamma, dtype):
    """Capacitance solve (solver._clamped_chunk) for a float64 (B, N, N) chunk."""
    B, N, _ = x.shape
    phi, lam = _sine(N, D, gamma, x.device, torch.float64)
    a, b = _green(N, D, gamma, x.device)
    src = x != 0
    rim = solver.rim_mask(src).reshape(B, N * N)
    counts = rim.sum(dim=1)
    m = int(counts.max())
    if m == 0:
        return x.to(dtype)
    # Pixel indices of each sample's rim, in order, padded to m (pad -> dumped column m).
    slot = torch.where(rim, rim.cumsum(dim=1) - 1, m)
    pixels = torch.arange(N * N, device=x.device).expand(B, -1)
    idx = torch.zeros(B, m + 1, dtype=torch.long, device=x.device)
    idx = idx.scatter(1, slot, pixels)[:, :m]
    valid = torch.arange(m, device=x.device) < counts[:, None]
    X, Y = idx // N, idx % N
    PX = phi[X]
    M = (PX * a[Y]) @ (PX * b[Y]).transpose(1, 2)
    G = torch.where(Y[:, :, None] <= Y[:, None, :], M, M.transpose(1, 2))
    eye = torch.eye(m, dtype=torch.float64, device=x.device)
    G = torch.where(valid[:, :, None] & valid[:, None, :], G, eye)
    rhs = torch.where(valid, x.reshape(B, N * N).gather(1, idx), 0.0)
    f = torch.linalg.solve_ex(G, rhs[..., None])[0]
    f_hat = ((PX * f).transpose(1, 2) @ phi[Y]).to(dtype)
    phi_d, lam_d = _sine(N, D, gamma, x.device, dtype)
    return torch.where(src, x.to(dtype), phi_d @ (f_hat / lam_d) @ phi_d)
