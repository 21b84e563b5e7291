"""Eq. 4 of the preprint (Sec. 4): hand-computed values, the preprint's 57,300, ε ≥ δ, bad input."""

import math

import pytest

from diffsurr import speedup
from diffsurr.speedup import break_even, preprint_break_even, t_direct, t_neuro


def test_hand_computed():
    # (M + E/δ) / (1 − ε/δ) = (10 + 20/2) / (1 − 1/2) = 40
    assert break_even(delta=2.0, epsilon=1.0, M=10, E=20.0) == pytest.approx(40.0)
    # ε = 0: N_min = M + E/δ exactly
    assert break_even(delta=4.0, epsilon=0.0, M=100, E=8.0) == pytest.approx(102.0)
    # nothing to pay back: N_min = 0
    assert break_even(delta=1.0, epsilon=0.5, M=0, E=0.0) == 0.0


@pytest.mark.parametrize("delta, epsilon, M, E", [(2.0, 1.0, 10, 20.0), (1.16, 1.16e-3, 20_000,
                                                   43_200.0), (0.3, 0.29, 5, 1.0)])
def test_break_even_equates_the_two_times(delta, epsilon, M, E):
    n = break_even(delta, epsilon, M, E)
    assert t_neuro(n, delta, epsilon, M, E) == pytest.approx(t_direct(n, delta), rel=1e-12)
    assert t_neuro(1.01 * n, delta, epsilon, M, E) < t_direct(1.01 * n, delta)
    assert t_neuro(0.99 * n, delta, epsilon, M, E) > t_direct(0.99 * n, delta)


def test_preprint_numbers():
    n = preprint_break_even()
    assert n == pytest.approx(57_298.68, abs=0.01)
    assert round(n, -2) == speedup.PREPRINT_N_MIN
    assert speedup.PREPRINT_M + speedup.PREPRINT_TRAIN_S / speedup.PREPRINT_DELTA_S == \
        pytest.approx(57_241.38, abs=0.01)
    # the 16,000 training samples alone would not give the preprint's number
    assert preprint_break_even(M=16_000) == pytest.approx(53_294.67, abs=0.01)
    # a faster surrogate moves N_min towards M + E/δ, a slower one away from it
    assert preprint_break_even(speedup=1e9) < n < preprint_break_even(speedup=10)


@pytest.mark.parametrize("epsilon", [1.0, 1.5, 100.0])
def test_surrogate_slower_than_solver_never_pays_off(epsilon):
    assert break_even(delta=1.0, epsilon=epsilon, M=10, E=5.0) == math.inf


@pytest.mark.parametrize("kwargs, message", [
    ({"delta": -1.0}, "delta must be > 0"),
    ({"delta": 0.0}, "delta must be > 0"),
    ({"epsilon": -1e-3}, "epsilon must be >= 0"),
    ({"M": -1}, "M must be >= 0"),
    ({"E": -5.0}, "E must be >= 0"),
    ({"E": math.nan}, "E must be a finite number"),
    ({"delta": math.inf}, "delta must be a finite number"),
    ({"M": True}, "M must be a finite number"),
    ({"epsilon": "0.1"}, "epsilon must be a finite number"),
])
def test_bad_inputs_raise(kwargs, message):
    args = {"delta": 1.0, "epsilon": 0.1, "M": 10, "E": 5.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        break_even(**args)


def test_bad_inputs_raise_in_the_times():
    with pytest.raises(ValueError, match="N must be >= 0"):
        t_direct(-1, 1.0)
    with pytest.raises(ValueError, match="epsilon must be >= 0"):
        t_neuro(1, 1.0, -0.1, 1, 1.0)
    with pytest.raises(ValueError, match="speedup must be > 0"):
        preprint_break_even(speedup=0)
