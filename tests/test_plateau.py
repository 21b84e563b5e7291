"""The convergence profile's stop rule looks at a smoothed validation curve."""

import numpy as np

from diffsurr import plateau


def test_running_median_ignores_one_epoch_spikes():
    v = np.array([5.0, 4.0, 3.0, 30.0, 2.5, 2.4])
    assert plateau.smoothed(v)[3] == 4.5 and plateau.smoothed(v)[5] == 3.0


def test_plateau_only_when_the_smoothed_curve_stopped_improving():
    falling = 1.0 / np.arange(1, 21)
    assert not plateau.reached(falling, 5)
    flat = np.r_[falling[:10], np.full(10, falling[9] * 1.001)]
    assert plateau.reached(flat, 5)
    spiky = flat.copy()
    spiky[-1] = falling[9] * 0.5             # one good epoch is not an improvement
    assert plateau.reached(spiky, 5)
    assert not plateau.reached(flat[:9], 5) and not plateau.reached(flat, 0)
