"""The probe that chooses how NN1 is kept alive in NN1 + NN2 models (the convergence profile).

At the reference settings (Adam lr 1e-3 for both networks) NN1's final ReLU dies in the first
epoch of every MAE NN1 + NN2 run: its output is a constant. The probe trains models 9 and 11
for 3 epochs in the ``probe`` profile with one change each (:data:`VARIANTS`): NN1's learning
rate scaled down (``nn1_lr_scale``: the networks stay as in Table 1), NN1's final ReLU made
leaky (``nn1_head``) or NN1 trained alone first (``nn1_warmup``). A variant is fit when
NN1's alive fraction stays at or above :data:`ALIVE_SHARE` of the lowest one that a working
NN1 shows (model 6, NN1 alone, of the reference study: its output lives, yet only the pixels
near the two sources are positive, a small share of the field) at every epoch of every run; of the
fit variants, the one with the lowest
validation loss relative to the reference run of the same model at the same epoch (the
control: Table 1, one learning rate, same seed) is chosen.

Three epochs could not see the chosen variant's NN1 switch off after about ten (the
convergence runs of models 9 and 11). The longer probe (:data:`LONG_RUNS`) trains models 9 and
11 in the ``convergence`` profile with NN1's head changed as well, judged by the same rule
against the convergence runs of Table 1's head.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import xarray as xr

from .pilot import kept_curve
from .profiles import PROFILES
from .runid import RunId
from .study import eval_name

MODELS = (9, 11)
VARIANTS = {"NN1 lr × 0.1": {"nn1_lr_scale": 0.1},
            "NN1 lr × 0.005": {"nn1_lr_scale": 0.005},
            "NN1 leaky head": {"nn1_head": "leaky"},
            "NN1 warm-up": {"nn1_warmup": 1}}
"""NN1 at lr 1e-4; NN1 at 5e-6 (the preprint's learning rate); Table 1's NN1 with its final
ReLU made a LeakyReLU (slope 0.01), which cannot die, at the common lr; Table 1's networks
with NN1 trained alone in the first epoch (as model 6, whose NN1 lives), then the sum."""
ALIVE_SHARE = 0.5
"""A run's NN1 counts as alive while its alive fraction is at least this share of the
working NN1's lowest (:func:`alive_threshold`)."""
WORKING_MODEL = 6
"""Table 2's NN1-alone model, whose NN1 works: the yardstick of :func:`alive_threshold`."""
RUNS = {(label, m): RunId.make("probe", m, **values)
        for label, values in VARIANTS.items() for m in MODELS}
LONG_VARIANTS = {"NN1 without its last BatchNorm": {"nn1_head": "relu"}}
"""Table 1's NN1 ending in its ReLU, as the reference NN2 ends (the pilot's choice for NN2):
Table 1's last BatchNorm normalises an output that is positive on a few pixels near the
sources and so multiplies it (the book's "Where the sums err" shows by how much)."""
LONG_PROFILE = "convergence"
LONG_RUNS = {(label, m): RunId.make(LONG_PROFILE, m, **values)
             for label, values in LONG_VARIANTS.items() for m in MODELS}


def alive_threshold(working: xr.Dataset) -> float:
    """The alive fraction below which NN1 counts as dead: :data:`ALIVE_SHARE` of the lowest
    alive fraction of the working NN1's history (``working``, model 6's history.nc)."""
    return ALIVE_SHARE * float(np.min(kept_curve(working, "alive_nn1")))


def assess(histories: dict[RunId, xr.Dataset], controls: dict[int, xr.Dataset],
           working: xr.Dataset, runs: dict = RUNS) -> dict:
    """Per variant of ``runs`` ((label, model) -> run): the kept epochs of its shortest run
    (``epochs``), the lowest NN1 alive fraction seen in any of its runs (``min_alive``), its
    last epoch's lowest over the runs (``last_alive``), whether it stayed at or above
    :func:`alive_threshold` of ``working`` at every epoch (``alive``), and the geometric mean
    over models of the last validation loss / the control's at that epoch (``val_ratio``);
    only variants with every run present."""
    threshold, out = alive_threshold(working), {}
    for label in dict.fromkeys(label for label, _ in runs):
        runs_of = [runs[(label, m)] for m in MODELS]
        if not all(r in histories for r in runs_of):
            continue
        curves = [kept_curve(histories[r], "alive_nn1") for r in runs_of]
        lowest = min(float(np.min(c)) for c in curves)
        ratios = []
        for r in runs_of:
            val = kept_curve(histories[r])
            ratios.append(val[-1] / kept_curve(controls[r.model])[len(val) - 1])
        out[label] = {"epochs": min(c.size for c in curves), "min_alive": lowest,
                      "last_alive": min(float(c[-1]) for c in curves),
                      "alive": lowest >= threshold,
                      "val_ratio": float(np.exp(np.mean(np.log(ratios))))}
    return out


def choose(assessed: dict) -> str | None:
    """The variant that kept NN1 alive with the lowest ``val_ratio``; None if none did."""
    fit = {k: a["val_ratio"] for k, a in assessed.items() if a["alive"]}
    return min(fit, key=fit.get) if fit else None


def targets(profile: str) -> list[str]:
    """The files ``make nn1-probe`` asks Snakemake for in ``profile`` (``probe`` or
    :data:`LONG_PROFILE`): each probe run's history, and its evaluation at each of the
    profile's milestones and at the end where it has milestones."""
    runs = {"probe": RUNS, LONG_PROFILE: LONG_RUNS}.get(profile)
    if runs is None:
        raise ValueError(f"the NN1 probe trains in profiles 'probe' and {LONG_PROFILE!r}, "
                         f"not {profile!r}")
    milestones = [m for m in PROFILES[profile].milestones if m < PROFILES[profile].epochs]
    names = ["history.nc"] + ([eval_name(m) for m in milestones] + [eval_name()]
                              if milestones else [])
    return [os.path.relpath(run.dir / name) for run in runs.values() for name in names]


def main(argv: list[str]) -> int:
    """``python -m diffsurr.nn1_probe PROFILE``: print :func:`targets`."""
    try:
        print(" ".join(targets(argv[0] if argv else "")))
    except ValueError as e:
        print(f"diffsurr.nn1_probe: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
