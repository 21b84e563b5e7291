"""Does a surrogate trained on two sources generalise? (the preprint's open question, Sec. 5)

Trained models are evaluated, without retraining, on test sets that the exact solver makes
with other source layouts: 1, 3 or 4 sources, radii 3 and 8, and disks touching a wall.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import xarray as xr

from . import data, io, metrics
from .evaluate import predict
from .profiles import Profile
from .runid import RunId, generalisation_path
from .study import load_trained

# name -> arguments of diffsurr.data.generate; "training" is the training distribution
LAYOUTS = {
    "training": {},
    "1 source": {"n_sources": 1},
    "3 sources": {"n_sources": 3},
    "4 sources": {"n_sources": 4},
    "radius 3": {"radius": 3},
    "radius 8": {"radius": 8},
    "wall contact": {"placement": "wall"},
}


def layout_sets(profile: Profile, n: int, seed: int = 10_000) -> dict[str, xr.Dataset]:
    """One test set of ``n`` samples per layout, from seeds the training data never used."""
    return {name: data.generate(n, seed=seed + k, mode=profile.mode, progress=False,
                                **{"placement": profile.placement, **kw})
            for k, (name, kw) in enumerate(LAYOUTS.items())}


def generalisation_stage(profile: Profile, models, n: int = 200, n_examples: int = 4,
                         device: str | None = None) -> xr.Dataset:
    """Residual statistics and nRMSE of each trained model on each layout; also a few example
    predictions per layout and model for the figure. Writes generalisation.nc."""
    t0, start = time.perf_counter(), io.stage_start()
    device = device or profile.resolved_device()
    runs = [RunId.of(profile, model) for model in models]
    path = generalisation_path(profile)
    io.prepare_output_dir(path.parent, (path.name,))
    nets = [load_trained(run)[0].to(device) for run in runs]   # all found before any compute
    sets = layout_sets(profile, n)
    rows = []
    for model, net in zip(models, nets):
        per_layout = []
        for name, ds in sets.items():
            x, y = ds.input.values, ds.target.values
            yhat = predict(net, torch.from_numpy(x).unsqueeze(1))
            stats = xr.merge([metrics.residual_stats(y, yhat),
                              metrics.nrmse(y, yhat)[["mean_nrmse"]],
                              metrics.pde_residual(yhat, x)[["rms_pde_all"]]],
                             combine_attrs="drop")
            stats["example_pred"] = (("example", "y", "x"), yhat[:n_examples])
            per_layout.append(stats.expand_dims(layout=[name]))
        rows.append(xr.concat(per_layout, dim="layout").expand_dims(model=[model]))
    out = xr.concat(rows, dim="model")
    out["example_input"] = xr.concat(
        [xr.DataArray(ds.input.values[:n_examples], dims=("example", "y", "x"))
         for ds in sets.values()], dim="layout")
    out["example_target"] = xr.concat(
        [xr.DataArray(ds.target.values[:n_examples], dims=("example", "y", "x"))
         for ds in sets.values()], dim="layout")
    out.attrs = io.provenance(start, **{**profile.as_attrs(), "n_per_layout": n,
                                 "layouts": {k: v for k, v in LAYOUTS.items()},
                                 "wall_time_s": time.perf_counter() - t0, "device": device})
    out["layout"] = np.array(list(sets), dtype=object)
    io.write_netcdf(out, path)
    return out
