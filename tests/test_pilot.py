"""The pilot's plateau criterion on curves whose answer is known."""

import numpy as np
import pytest

from diffsurr import pilot


def test_a_curve_still_falling_is_not_on_a_plateau():
    falling = 1.0 / np.arange(1, 21)                     # last 4 of 20: 1/16 -> 1/20, -20 %
    assert pilot.plateau_improvement(falling) == pytest.approx((1 / 16 - 1 / 20) / (1 / 16))
    assert not pilot.on_plateau(falling)


def test_a_flat_or_noisy_end_is_a_plateau():
    flat = np.r_[np.linspace(1, 0.1, 16), [0.1, 0.101, 0.099, 0.1005]]
    assert pilot.plateau_improvement(flat) == pytest.approx(0.01)
    assert pilot.on_plateau(flat)
    worse = np.r_[np.linspace(1, 0.1, 16), [0.2, 0.3, 0.25, 0.4]]
    assert pilot.plateau_improvement(worse) == 0.0 and pilot.on_plateau(worse)


def test_too_short_a_curve_is_refused():
    with pytest.raises(ValueError, match="at least 5 epochs"):
        pilot.plateau_improvement([1.0, 0.5, 0.4])


def test_the_pilot_runs_are_distinct_runs_of_the_pilot_profile():
    names = [r.name for r in pilot.RUNS]
    assert names == ["model_12", "model_12_lr-0.0003", "model_12_width-0.125"]
