"""When a training has stopped improving: the convergence profile's stop rule.

The validation loss of these runs is noisy (single epochs jump several-fold and recover), so
the rule looks at a smoothed curve: the running median over :data:`SMOOTH` epochs. A run is on
its plateau after epoch n when the smoothed curve's lowest value over its last ``window``
epochs is no more than :data:`TOLERANCE` below its lowest value before them; the rule is not
checked before 2·``window`` epochs.
"""

from __future__ import annotations

import numpy as np

SMOOTH = 5
"""Epochs in the running median (trailing: epoch k uses epochs k − 4 … k)."""
TOLERANCE = 0.01
"""Smaller relative improvements over the last window count as none."""


def smoothed(val_loss) -> np.ndarray:
    """Trailing running median of ``val_loss`` over :data:`SMOOTH` epochs (fewer at the start)."""
    v = np.asarray(val_loss, dtype=float)
    return np.array([np.median(v[max(0, k - SMOOTH + 1):k + 1]) for k in range(v.size)])


def improvement(val_loss, window: int) -> float:
    """Relative improvement of the smoothed curve's minimum over its last ``window`` epochs."""
    s = smoothed(val_loss)
    before = float(np.min(s[:-window]))
    return (before - min(before, float(np.min(s[-window:])))) / before


def reached(val_loss, window: int) -> bool:
    """Whether a curve is on its plateau (False for ``window`` 0 or fewer than 2·window epochs)."""
    if window <= 0 or len(val_loss) < 2 * window:
        return False
    return improvement(val_loss, window) <= TOLERANCE
