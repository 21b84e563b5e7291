"""Workflow rule ``baselines``: the study's baseline networks next to models 9 and
12, their size and cost measured side by side in one run.

For each compared run (:func:`compared_runs`) the trained weights are loaded and timed on the
profile's test inputs: one training step (forward, the run's Eq. 1 loss, backward, Adam; as
:func:`diffsurr.payoff.train_step_s`) and a forward pass (as the benchmark's surrogate call),
each per sample. Writes ``results/<profile>/baselines.nc``; the accuracy of each run comes
from its own ``eval.nc`` and ``generalise.nc`` (the book's baselines page puts them together).
"""

from __future__ import annotations

import time

import numpy as np
import torch
import xarray as xr

from .. import io, manifest, timing
from ..nets import count_parameters
from ..payoff import train_step_s
from ..profiles import Profile
from ..results import load_split, load_trained
from ..runid import results_dir
from ..study import BASELINES_FILE, compared_runs

INFER_BATCH = 100
"""Batch of the timed forward pass (as the evaluation stage's)."""


def _timing(min_s: float) -> timing.TimingRule:
    return timing.TimingRule(batches=(INFER_BATCH,), warmup=1, min_s=min_s, max_calls=20,
                              min_calls=3)


def baselines_stage(profile: Profile, steps: int = 5, min_s: float = 2.0) -> xr.Dataset:
    """Parameters, training-step and forward-pass seconds per sample of every compared run,
    measured in this one run on the profile's device; written to :func:`baselines_path`.
    FileNotFoundError before any compute if a run is not trained yet, ValueError if the
    profile has no baselines or a run was trained on other data."""
    if not profile.baselines:
        raise ValueError(f"profile {profile.name!r} trains no baselines (its value "
                         "'baselines' is empty)")
    runs = compared_runs(profile)
    missing = [str(run.dir / "model.pt") for run in runs if not (run.dir / "model.pt").exists()]
    if missing:
        raise FileNotFoundError(f"train these runs first: {', '.join(missing)}")
    t0, start = time.perf_counter(), io.stage_start()
    out = io.prepare_output_dir(results_dir(profile), (BASELINES_FILE,))
    split, data_sha = load_split(profile)
    device = torch.device(profile.resolved_device())
    x, y = (t[:max(INFER_BATCH, profile.batch_size)] for t in split["test"])
    xb, yb = x[:profile.batch_size].to(device), y[:profile.batch_size].to(device)
    rows = []
    for run in runs:
        net, stored = load_trained(run, data_sha)
        net = net.to(device)
        infer = timing.time_per_sample(timing.surrogate_call(net, device),
                                      x[:INFER_BATCH, 0].numpy().astype(np.float64),
                                      _timing(min_s))[0]
        rows.append({"parameters": count_parameters(net), "infer_s": infer,
                     "train_step_s": train_step_s(net, xb, yb, profile.lr, steps, run.model),
                     "model_sha256": stored["model_sha256"]})
    names = [run.name for run in runs]
    ds = xr.Dataset(
        {key: ("run", np.array([row[key] for row in rows])) for key in
         ("parameters", "infer_s", "train_step_s", "model_sha256")},
        coords={"run": names,
                "arch": ("run", [run.config().arch for run in runs]),
                "model": ("run", [run.model for run in runs])})
    ds["infer_s"].attrs["units"] = ds["train_step_s"].attrs["units"] = "s per sample"
    ds.attrs = io.provenance(start, **profile.as_attrs(), device=str(device),
                             device_name=timing.device_name(device), data_sha256=data_sha,
                             torch_threads=torch.get_num_threads(), train_steps=steps,
                             infer_batch=INFER_BATCH, wall_time_s=time.perf_counter() - t0)
    io.write_netcdf(ds, out / BASELINES_FILE)
    manifest.record(profile.name, out / BASELINES_FILE, start["git_commit"], data_sha256=data_sha)
    return ds
