"""The probe that chooses how NN1 is kept alive in NN1 + NN2 models (the convergence profile).

At the reference settings (Adam lr 1e-3 for both networks) NN1's final ReLU dies in the first
epoch of every MAE NN1 + NN2 run: its output is a constant. The probe trains models 9 and 11
for 3 epochs in the ``probe`` profile with NN1's learning rate scaled down (:data:`SCALES`;
``nn1_lr_scale``, the smallest change to Table 1: the networks stay as they are). A scale is
fit when NN1's alive fraction stays above :data:`ALIVE_MIN` at every epoch of every run; of the
fit scales, the one with the lowest validation loss relative to the reference run of the same
model at the same epoch (the control: one learning rate, same seed) is chosen.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .runid import RunId

MODELS = (9, 11)
SCALES = (0.1, 0.005)
"""NN1 at lr 1e-4, and at 5e-6 (the preprint's learning rate)."""
ALIVE_MIN = 0.1
RUNS = tuple(RunId.make("probe", m, nn1_lr_scale=s) for s in SCALES for m in MODELS)


def kept(history: xr.Dataset, name: str) -> np.ndarray:
    """Per-epoch values of the final trajectory (roll-backs' rejected epochs removed)."""
    return history[name].values[history.kept.values == 1]


def assess(histories: dict[RunId, xr.Dataset], controls: dict[int, xr.Dataset]) -> dict:
    """Per scale: whether NN1 stayed alive in every run (``alive``, the lowest fraction seen)
    and the geometric mean over models of the last validation loss / the control's at that
    epoch (``val_ratio``); only scales with every run present."""
    out = {}
    for scale in SCALES:
        runs = [r for r in RUNS if dict(r.overrides)["nn1_lr_scale"] == scale]
        if not all(r in histories for r in runs):
            continue
        lowest, ratios = 1.0, []
        for r in runs:
            h = histories[r]
            lowest = min(lowest, float(np.min(kept(h, "alive_nn1"))))
            val = kept(h, "val_loss")
            ratios.append(val[-1] / kept(controls[r.model], "val_loss")[len(val) - 1])
        out[scale] = {"min_alive": lowest, "alive": lowest > ALIVE_MIN,
                      "val_ratio": float(np.exp(np.mean(np.log(ratios))))}
    return out


def choose(assessed: dict) -> float | None:
    """The fit scale with the lowest ``val_ratio``; None when no scale kept NN1 alive."""
    fit = {s: a["val_ratio"] for s, a in assessed.items() if a["alive"]}
    return min(fit, key=fit.get) if fit else None
