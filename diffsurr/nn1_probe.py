"""The probe that chooses how NN1 is kept alive in NN1 + NN2 models (the convergence profile).

At the reference settings (Adam lr 1e-3 for both networks) NN1's final ReLU dies in the first
epoch of every MAE NN1 + NN2 run: its output is a constant. The probe trains models 9 and 11
for 3 epochs in the ``probe`` profile with one change each (:data:`VARIANTS`): NN1's learning
rate scaled down (``nn1_lr_scale``: the networks stay as in Table 1), NN1's final ReLU made
leaky (``nn1_head``) or NN1 trained alone first (``nn1_warmup``). A variant is fit when NN1's alive fraction stays above :data:`ALIVE_MIN`
at every epoch of every run; of the fit variants, the one with the lowest validation loss
relative to the reference run of the same model at the same epoch (the control: Table 1, one
learning rate, same seed) is chosen.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .pilot import kept_curve
from .runid import RunId

MODELS = (9, 11)
VARIANTS = {"NN1 lr × 0.1": {"nn1_lr_scale": 0.1},
            "NN1 lr × 0.005": {"nn1_lr_scale": 0.005},
            "NN1 leaky head": {"nn1_head": "leaky"},
            "NN1 warm-up": {"nn1_warmup": 1}}
"""NN1 at lr 1e-4; NN1 at 5e-6 (the preprint's learning rate); Table 1's NN1 with its final
ReLU made a LeakyReLU (slope 0.01), which cannot die, at the common lr; Table 1's networks
with NN1 trained alone in the first epoch (as model 6, whose NN1 lives), then the sum."""
ALIVE_MIN = 0.1
RUNS = {(label, m): RunId.make("probe", m, **values)
        for label, values in VARIANTS.items() for m in MODELS}


def assess(histories: dict[RunId, xr.Dataset], controls: dict[int, xr.Dataset]) -> dict:
    """Per variant: the lowest NN1 alive fraction seen in any of its runs (``min_alive``),
    whether it stayed above :data:`ALIVE_MIN` at every epoch (``alive``), and the geometric
    mean over models of the last validation loss / the control's at that epoch
    (``val_ratio``); only variants with every run present."""
    out = {}
    for label in VARIANTS:
        runs = [RUNS[(label, m)] for m in MODELS]
        if not all(r in histories for r in runs):
            continue
        lowest, ratios = 1.0, []
        for r in runs:
            h = histories[r]
            lowest = min(lowest, float(np.min(kept_curve(h, "alive_nn1"))))
            val = kept_curve(h)
            ratios.append(val[-1] / kept_curve(controls[r.model])[len(val) - 1])
        out[label] = {"min_alive": lowest, "alive": lowest > ALIVE_MIN,
                      "val_ratio": float(np.exp(np.mean(np.log(ratios))))}
    return out


def choose(assessed: dict) -> str | None:
    """The variant that kept NN1 alive with the lowest ``val_ratio``; None if none did."""
    fit = {k: a["val_ratio"] for k, a in assessed.items() if a["alive"]}
    return min(fit, key=fit.get) if fit else None
