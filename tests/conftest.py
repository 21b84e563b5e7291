"""Shared builders of small synthetic result sets for the book layer's tests."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from diffsurr.profiles import get_profile
from diffsurr.registry import MODELS, spec


@pytest.fixture(scope="module")
def smoke():
    return get_profile("smoke")[0]


@pytest.fixture(scope="module")
def results(tmp_path_factory, smoke):
    """A results root, set as $DIFFSURR_RESULTS, with synthetic eval.nc and history.nc of every
    model of the smoke profile (the builders of tests/test_report.py)."""
    from test_report import write_results
    root = tmp_path_factory.mktemp("results")
    mp = pytest.MonkeyPatch()
    mp.setenv("DIFFSURR_RESULTS", str(root))
    write_results(root, smoke)
    yield root
    mp.undo()

VALUES = np.linspace(-0.1, 1.1, 121)


def seeds_ds(mean_res: dict[int, list[float]],
             gap: dict[int, list[float]] | None = None, dead: tuple[int, ...] = ()) -> xr.Dataset:
    """A load_seed_evals-like Dataset: per (model, seed) test mean residual as given (99-P 10
    and max 100 times it), training residual = test − gap (per seed; 0 where not given),
    identical PDFs of prediction and truth, and NN1's output constant in the ``dead`` models
    (out_std_nn1 1e-10; 0.1 elsewhere, NaN where NN1 is off)."""
    models = sorted(mean_res)
    n_seed = max(len(v) for v in mean_res.values())
    test = np.full((len(models), n_seed), np.nan)
    for i, m in enumerate(models):
        test[i, :len(mean_res[m])] = mean_res[m]
    gaps = np.zeros_like(test)
    for i, m in enumerate(models):
        gaps[i, :len((gap or {}).get(m, []))] = (gap or {}).get(m, [])
    res = xr.DataArray(np.stack([test, test - gaps]), dims=("set", "model", "seed"),
                       coords={"set": ["test", "train"], "model": models,
                               "seed": np.arange(n_seed)})
    pdf = np.exp(-((VALUES - 0.2) / 0.2) ** 2)
    pdf = xr.DataArray(np.broadcast_to(pdf, (2, len(models), n_seed, VALUES.size)).copy(),
                       dims=("set", "model", "seed", "value"),
                       coords={**res.coords, "value": VALUES}).where(res.notnull())
    std_nn1 = np.where([[m in dead] for m in models], 1e-10, 0.1) * np.isfinite(test)
    std_nn1[[spec(m).p1 == 0 for m in models]] = np.nan
    return xr.Dataset({"mean_res": res, "p99_res": 10 * res, "max_res": 100 * res,
                       "pdf_true": pdf, "pdf_pred": pdf,
                       "out_std_nn1": (("model", "seed"), np.where(np.isfinite(test), std_nn1,
                                                                   np.nan)),
                       "n_seeds": ("model", [len(mean_res[m]) for m in models])},
                      coords={"model": models, "seed": np.arange(n_seed)})


def base(changes: dict[int, list[float]] | None = None) -> dict[int, list[float]]:
    """Every model one seed at 2e-3 (model 6 at 80e-3); models 5, 9, 11, 12 three seeds."""
    runs = {m: [80e-3] if m in (6, 7) else [2e-3] for m in MODELS}
    runs.update({m: [2e-3, 2.1e-3, 1.9e-3] for m in (5, 9, 11, 12)})
    runs.update(changes or {})
    return runs


TINY = {"n_samples": 60, "epochs": 1}
"""A smoke run small enough to train in a second."""


@pytest.fixture()
def tmp_results(tmp_path, monkeypatch):
    """An empty results root, set as $DIFFSURR_RESULTS."""
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    return tmp_path


def tiny_run(model: int = 6, evaluated: bool = False):
    """A :data:`TINY` smoke run of ``model``, trained (and evaluated) in the current root."""
    from diffsurr.runid import RunId
    from diffsurr.stages import data as stage_data, evaluate, train as stage_train

    run = RunId.make("smoke", model, **TINY)
    stage_data.data_stage(run.config())
    stage_train.train_stage(run, progress=False)
    if evaluated:
        evaluate.evaluate_stage(run)
    return run
