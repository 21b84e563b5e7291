"""The study's design: which runs it has and which files each run produces.

The Snakefile, the stages and the book ask this module, never a stage, which runs exist
(:func:`study_runs`, :func:`baseline_runs`, :func:`generalised_runs`, :func:`compared_runs`),
which network a run trains (:func:`build_model`) and how its files are named.

Layout of ``results/<profile>/``::

    data.nc                 inputs, targets and the train/val/test split (data_k-v.nc for
                            other data values)
    model_09/model.pt       best weights (validation loss), the run's identity and settings
    model_09/history.nc     per-epoch losses, roll-backs, alive fractions, wall time
    model_09/eval.nc        metrics, figure samples, histograms (diffsurr.stages.evaluate)
    model_09/generalise.nc  the same model on other source layouts (diffsurr.stages.generalise)
    model_09_seed1/ ...     the same model trained with another seed
    model_09_rollback-none/ the same model with a profile value overridden (here: no roll-back)
    baselines.nc            the baselines next to models 9 and 12 (diffsurr.stages.baselines)
"""

from __future__ import annotations

from pathlib import Path

from .baselines import BASELINE_MODEL, Baseline, baseline_profile
from .choices import NN1_VARIANT
from .nets import Surrogate
from .profiles import Profile, baseline_archs
from .registry import MODELS, spec
from .runid import RunId, results_dir

TRAIN_OUTPUTS = ("model.pt", "history.nc", "checkpoint.pt")
"""The files the training stage writes in a run folder (checkpoint.pt: its resume point)."""
GENERALISE_FILE = "generalise.nc"
BASELINES_FILE = "baselines.nc"
COMPARED = (9, 12)
"""The Table 1 models the baselines stand next to (the best with NN1 + NN2 and with NN2
alone in Table 2)."""


def study_runs(profile: Profile, models=None) -> list[RunId]:
    """Every training run of a study, in order: Table 2's ``models``; the profile's
    ``seed_models`` with each of its ``extra_seeds`` (error bars); model 9 without roll-back
    (Fig. 4a) where the rule can fire at all (more epochs than its window m); model 12 with
    the other NN2 head if ``head_variant``; the profile's ``nn1_variant_models`` with NN1's
    :data:`NN1_VARIANT` head; where the profile reads sources as the authors' code did
    (production), models 5, 9 and 12 with the preprint's text (clamped sources, preprint
    placement); and the profile's ``baselines`` with model 12's loss (the first one with every
    extra seed too, for its spread). A profile that names its ``models`` trains only those,
    with their extra seeds and, for each of its ``train_divisors``, on that share of the
    training data (:func:`data_size_values`)."""
    if profile.models:
        models = models or profile.models
        return list(dict.fromkeys(
            [RunId.of(profile, m) for m in models]
            + [RunId.of(profile, m, s) for m in profile.seed_models for s in profile.extra_seeds]
            + [RunId.of(profile.replace(**values), m) for values in data_size_values(profile)
               for m in models]))
    models = models if models is not None else MODELS
    no_nn1 = [m for m in profile.nn1_variant_models if spec(m).p1 == 0]
    if no_nn1:
        raise ValueError(f"nn1_variant_models {no_nn1} do not use NN1 (p1 = 0 in Table 2)")
    runs = [RunId.of(profile, m) for m in models]
    runs += [RunId.of(profile, m, s) for m in profile.seed_models for s in profile.extra_seeds]
    variants = []
    if profile.epochs > profile.m:
        variants.append((9, {"rollback": "none"}))
    if profile.head_variant:
        variants.append((12, {"head": "relu" if profile.head == "table1" else "table1"}))
    variants += [(m, {"nn1_head": NN1_VARIANT}) for m in profile.nn1_variant_models]
    if profile.mode == "production":
        variants += [(m, {"mode": "clamped", "placement": "preprint"}) for m in (5, 9, 12)]
    runs += [RunId.of(profile.replace(**values), m) for m, values in variants]
    runs += baseline_runs(profile)
    return list(dict.fromkeys(runs))


def data_size_values(profile: Profile) -> list[dict]:
    """The profile values of its data-size runs: for each of ``train_divisors`` d, 1/d of the
    training part at the profile's epochs (equal epochs) and at d times as many (equal
    optimiser steps)."""
    return [values for d in profile.train_divisors
            for values in ({"train_fraction": 1 / d},
                           {"train_fraction": 1 / d, "epochs": profile.epochs * d})]


def baseline_runs(profile: Profile) -> list[RunId]:
    """The runs of the profile's ``baselines``, trained with model 12's loss and their share
    of the epochs (:func:`diffsurr.baselines.baseline_profile`): each with the profile's
    seed, then the first one with every extra seed."""
    archs = baseline_archs(profile.baselines)
    runs = [RunId.of(baseline_profile(profile, arch), BASELINE_MODEL) for arch in archs]
    if archs:
        first = baseline_profile(profile, archs[0])
        runs += [RunId.of(first, BASELINE_MODEL, s) for s in profile.extra_seeds]
    return runs


def generalised_runs(profile: Profile, models=MODELS) -> list[RunId]:
    """The runs the generalisation stage tests: Table 2's ``models`` and each baseline, with
    the profile's seed; none for a profile that names its ``models`` (a study of training,
    such as ``convergence``)."""
    if profile.models:
        return []
    return ([RunId.of(profile, m) for m in models]
            + [run for run in baseline_runs(profile) if run.seed == profile.seed])


def compared_runs(profile: Profile) -> list[RunId]:
    """Models :data:`COMPARED` and each of the profile's baselines, with the profile's seed."""
    return ([RunId.of(profile, m) for m in COMPARED]
            + [run for run in baseline_runs(profile) if run.seed == profile.seed])


def build_model(profile: Profile, model: int) -> Surrogate | Baseline:
    """Table 2's ``model`` with the profile's networks, or the profile's baseline ``arch``
    (trained with that model's loss)."""
    if profile.arch != "table1":
        return Baseline(profile.arch, model)
    return Surrogate.from_table2(model, width=profile.width, head=profile.head,
                                 nn1_head=profile.nn1_head)


def milestone_file(epoch: int) -> str:
    """The weights kept after ``epoch`` accepted epochs (the profile's ``milestones``)."""
    return f"milestone-{epoch:03d}.pt"


def history_name(milestone: int) -> str:
    """The history so far when milestone ``milestone`` was reached."""
    return f"history-{int(milestone):03d}.nc"


def eval_name(milestone: int | None = None) -> str:
    """``eval.nc`` for the final model, ``eval-EEE.nc`` for the best model after EEE epochs."""
    return "eval.nc" if milestone is None else f"eval-{int(milestone):03d}.nc"


def generalise_path(run: RunId) -> Path:
    """``results/<profile>/<run>/generalise.nc``."""
    return run.dir / GENERALISE_FILE


def baselines_path(profile: Profile) -> Path:
    """``results/<profile>/baselines.nc``."""
    return results_dir(profile) / BASELINES_FILE
