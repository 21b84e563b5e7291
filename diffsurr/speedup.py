"""When does a trained surrogate pay off? The break-even count of the preprint's Eq. 4 (Sec. 4).

N direct solves take t_direct = N·δ; the surrogate route takes t_neuro = M·δ + E + N·ε
(solve M training configurations, train for E seconds, then N surrogate calls of ε each).
Setting t_neuro = t_direct gives Eq. 4: N_min = (M + E/δ) / (1 − ε/δ) ≈ M + E/δ.
"""

from __future__ import annotations

import math
from numbers import Real

PREPRINT_DELTA_S = 1.16
"""δ: 20,000 Julia solves in about 6 h 30 min, "roughly 1.16 s each" (Sec. 4)."""
PREPRINT_TRAIN_S = 12 * 3600.0
"""E: "The NN training time was 12 hours on average" (Sec. 4)."""
PREPRINT_SPEEDUP = 1000.0
"""δ/ε ≈ 1000 on an NVIDIA Quadro RTX 6000 (Sec. 4)."""
PREPRINT_M = 20_000
"""M that reproduces the preprint's N_min ≈ 57,300: all 20,000 solved samples (see
preprint_break_even)."""
PREPRINT_N_MIN = 57_300
"""The preprint's result, "N_min ≈ 57300" (Sec. 4)."""


def _check(name: str, value, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def t_direct(N: float, delta: float) -> float:
    """Seconds for N direct solves of δ seconds each (Sec. 4)."""
    return _check("N", N) * _check("delta", delta, positive=True)


def t_neuro(N: float, delta: float, epsilon: float, M: float, E: float) -> float:
    """Seconds for the surrogate route (Sec. 4): M·δ to make the data, E to train, N·ε to run."""
    return (_check("M", M) * _check("delta", delta, positive=True) + _check("E", E)
            + _check("N", N) * _check("epsilon", epsilon))


def break_even(delta: float, epsilon: float, M: float, E: float) -> float:
    """Eq. 4: N_min = (M + E/δ) / (1 − ε/δ), the number of uses from which the surrogate is faster.

    delta (δ) is the time of one direct solve, epsilon (ε) the surrogate's time per sample,
    M the number of solves made to build the training data and E the training time (δ, ε, E
    in the same unit). Returns ``math.inf`` when ε ≥ δ: each surrogate call then costs at
    least a direct solve, so t_neuro − t_direct = M·δ + E + N·(ε − δ) never falls below zero
    and the surrogate never pays off. The result is a real number; round it up for a count.
    Negative or non-finite inputs and δ ≤ 0 raise ValueError.
    """
    delta = _check("delta", delta, positive=True)
    epsilon, M, E = _check("epsilon", epsilon), _check("M", M), _check("E", E)
    if epsilon >= delta:
        return math.inf
    return (M + E / delta) / (1.0 - epsilon / delta)


def preprint_break_even(M: float = PREPRINT_M, speedup: float = PREPRINT_SPEEDUP) -> float:
    """Eq. 4 with the preprint's own numbers: δ = 1.16 s, E = 12 h, ε = δ / speedup.

    With M = 20,000 this gives 57,298.6, the preprint's "N_min ≈ 57300" (and M + E/δ =
    57,241). The preprint calls M "the number of replicas in the training set", yet its
    training set has 16,000 samples (80 % of 20,000); M = 16,000 would give 53,294.6. So the
    preprint counted all 20,000 solved samples, test set included, which is also the data
    generation cost its t_neuro charges.
    """
    speedup = _check("speedup", speedup, positive=True)
    return break_even(PREPRINT_DELTA_S, PREPRINT_DELTA_S / speedup, M, PREPRINT_TRAIN_S)
