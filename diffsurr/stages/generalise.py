"""Does a surrogate trained on two sources generalise? (the preprint's open question, Sec. 5)

A trained run is evaluated, without retraining, on test sets that the exact solver makes with
other source layouts: 1, 3 or 4 sources, radii 3 and 8, and disks touching a wall. One run at
a time, into its own folder (``results/<profile>/<run>/generalise.nc``), so that a study whose
trainings run on several machines needs only each run's own weights on the machine that
trains it.

Every run of a profile draws the same test sets (same seeds, ``profile.n_generalise`` samples
per layout), recorded by their checksum ``layouts_sha256``. The file records the SHA-256 of the
model.pt it used (``model_sha256``), as eval.nc does: a generalise.nc whose model differs from
the one the run's eval.nc describes is stale (the run was retrained) and is redone here and
left out by the book (:mod:`diffsurr.book.generalisation`).
"""

from __future__ import annotations

import time

import numpy as np
import torch
import xarray as xr

from .. import data, io, manifest, metrics
from ..nets import predict
from ..profiles import Profile, coerce_flag
from ..results import load_generalise, load_trained, stored_model_sha
from ..runid import RunId
from ..runlock import run_lock
from ..study import GENERALISE_FILE

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
N_EXAMPLES = 4
"""Example predictions kept per layout (for the book's figure)."""


def layout_sets(profile: Profile, n: int, seed: int = 10_000) -> dict[str, xr.Dataset]:
    """One test set of ``n`` samples per layout, from seeds the training data never used."""
    return {name: data.generate(n, seed=seed + k, mode=profile.mode, progress=False,
                                **{"placement": profile.placement, **kw})
            for k, (name, kw) in enumerate(LAYOUTS.items())}


def layouts_checksum(sets: dict[str, xr.Dataset]) -> str:
    """SHA-256 of the layout names, inputs and targets of the test sets."""
    names = np.array(list(sets), dtype=str)
    return io.sha256_arrays(names, *(a for ds in sets.values()
                                     for a in (ds.input.values, ds.target.values)))


def generalise_stage(run: RunId, force: bool = False, n: int | None = None,
                     n_examples: int = N_EXAMPLES, **execution) -> xr.Dataset:
    """Residual statistics and nRMSE of the trained ``run`` on each layout of :data:`LAYOUTS`
    (``n`` samples each, default ``profile.n_generalise``), and the first ``n_examples``
    predictions per layout for the figure; written to the run's generalise.nc.

    Refused before any compute if model.pt belongs to another run, or if the run's eval.nc
    describes another model.pt (evaluate the run again first). Nothing is done when
    generalise.nc exists for this very model.pt (same ``model_sha256``) and size, unless
    ``force``; a generalise.nc of an earlier model.pt is replaced. The run folder is locked
    (:mod:`diffsurr.runlock`) throughout.
    """
    force = coerce_flag("force", force)
    t0, start = time.perf_counter(), io.stage_start()
    profile = run.config(**execution)
    n = int(profile.n_generalise if n is None else n)
    out = io.prepare_output_dir(run.dir, (GENERALISE_FILE,))
    with run_lock(out, "generalise", str(run)):
        return _generalise(run, profile, n, n_examples, force, execution, t0, start)


def _generalise(run, profile, n, n_examples, force, execution, t0, start) -> xr.Dataset:
    device = profile.resolved_device()
    path = run.dir / GENERALISE_FILE
    net, stored = load_trained(run, **execution)
    model_sha = stored["model_sha256"]
    eval_sha = stored_model_sha(run.dir / "eval.nc")
    if eval_sha is not None and eval_sha != model_sha:
        raise ValueError(f"{run.dir / 'eval.nc'} describes a model.pt with SHA-256 {eval_sha}, "
                         f"but {run.dir / 'model.pt'} has {model_sha}: the run was retrained "
                         "or its weights replaced; evaluate it again (evaluate stage) before "
                         "generalising, so that both files describe the same model")
    if path.exists() and not force:
        old = load_generalise(run)
        if (old.attrs.get("model_sha256") == model_sha
                and int(old.attrs.get("n_per_layout", -1)) == n):
            print(f"{path} exists for this model.pt (sha256 {model_sha[:12]}, {n} samples per "
                  "layout); nothing to do (force=True computes it again)")
            return old
        print(f"{path} was made with another model.pt (sha256 "
              f"{str(old.attrs.get('model_sha256'))[:12]}) or size; computing it again")
    net = net.to(device)
    sets = layout_sets(profile, n)
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
    result = xr.concat(per_layout, dim="layout").expand_dims(model=[run.model])
    for var in ("input", "target"):
        result[f"example_{var}"] = xr.concat(
            [xr.DataArray(ds[var].values[:n_examples], dims=("example", "y", "x"))
             for ds in sets.values()], dim="layout")
    result.attrs = io.provenance(start, **{
        **profile.as_attrs(), **net.config, **run.attrs(), "n_per_layout": n,
        "layouts": dict(LAYOUTS), "layouts_sha256": layouts_checksum(sets),
        "model_sha256": model_sha, "data_sha256": stored.get("data_sha256"),
        "device": device, "wall_time_s": time.perf_counter() - t0})
    result["layout"] = np.array(list(sets), dtype=object)
    io.write_netcdf(result, path)
    manifest.record(run.profile, path, start["git_commit"], run, model_sha256=model_sha,
                    data_sha256=stored.get("data_sha256"))
    print(f"wrote {path}: {len(sets)} layouts x {n} samples in "
          f"{result.attrs['wall_time_s']:.1f} s (model.pt sha256 {model_sha[:12]})")
    return result
