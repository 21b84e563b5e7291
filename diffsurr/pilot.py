"""The pilot that chooses the reference profile's schedule (NN2 width, learning rate, epochs).

Short runs of Table 2 model 12 (NN2 alone, the cheapest model with NN2) on the reference data,
in the ``pilot`` profile, at two NN2 widths and two learning rates (:data:`RUNS`). A setting is
fit for the reference study only if its validation loss has reached a plateau: it improved by
less than :data:`PLATEAU_IMPROVEMENT` over the last :data:`PLATEAU_FRACTION` of its epochs.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .runid import RunId

MODEL = 12
RUNS = tuple(RunId.make("pilot", MODEL, **values)
             for values in ({}, {"lr": 3e-4}, {"width": 0.125}))
"""The pilot's runs: the probe's setting (width 1/4, lr 1e-3), a smaller lr, a smaller width."""
PLATEAU_IMPROVEMENT = 0.05
"""A curve is on a plateau when its validation loss improved by less than 5 % ..."""
PLATEAU_FRACTION = 0.2
"""... over the last fifth of its epochs (the reference schedule must reach one)."""


def kept_curve(history: xr.Dataset, name: str = "val_loss") -> np.ndarray:
    """Per-epoch values of the final trajectory (roll-backs' rejected epochs removed)."""
    return history[name].values[history.kept.values == 1]


def plateau_improvement(val_loss) -> float:
    """Relative improvement of the best validation loss over the last fifth of the epochs:
    (best before that window − best at the end) / best before it; needs 5 epochs or more."""
    v = np.asarray(val_loss, dtype=float)
    if v.size < 5:
        raise ValueError(f"a plateau needs at least 5 epochs, got {v.size}")
    start = v.size - max(1, int(round(PLATEAU_FRACTION * v.size)))
    before = np.min(v[:start])
    return float((before - min(before, np.min(v[start:]))) / before)


def on_plateau(val_loss) -> bool:
    """Whether the curve improved by less than :data:`PLATEAU_IMPROVEMENT` at its end."""
    return plateau_improvement(val_loss) < PLATEAU_IMPROVEMENT
