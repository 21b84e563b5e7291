"""Evaluation of one trained model: everything the book draws (preprint Sec. 3, Figs. 5–11,
Table 2, Supplement A) and the metrics beyond the preprint, in one ``eval.nc``."""

from __future__ import annotations

from contextlib import nullcontext

import time

import xarray as xr

from .. import io, manifest, metrics
from ..dataset import ensure_data
from ..nets import predict
from ..results import load_split, load_trained
from ..runid import RunId
from ..runlock import run_lock
from ..study import eval_name, milestone_file


def _per_set(name: str, x, y, yhat) -> xr.Dataset:
    """The metrics of one set (test or train), every variable prefixed by nothing, dim-free
    scalars plus slice and band dimensions; combined over ``set`` by :func:`evaluate`."""
    slices = metrics.slice_stats(y, yhat, width=0.1)
    parts = [metrics.residual_stats(y, yhat), slices, metrics.slice_summary(slices),
             metrics.nrmse(y, yhat)[["mean_nrmse"]],
             metrics.boundary_error(y, yhat)[["rmse_boundary_all", "max_boundary_all"]],
             metrics.fourier_band_errors(y, yhat),
             metrics.pde_residual(yhat, x)[["rms_pde_all", "max_pde_all"]]]
    ds = xr.merge(parts, compat="override", combine_attrs="drop")
    return ds.expand_dims(set=[name])


def evaluate_stage(run: RunId, milestone: int | None = None, **execution) -> xr.Dataset:
    """Evaluate the trained ``run`` (or its ``milestone``: the best model after that many
    epochs) on the test set and on (part of) the training set; write its eval.nc
    (eval-EEE.nc), which records the SHA-256 of the weights as loaded. Refused if they belong
    to another run, were trained on other data or (model.pt) are not the model its history.nc
    records. Missing weights are refused before anything else; a missing data set is first
    made as the data stage would (:func:`diffsurr.dataset.ensure_data`). The run folder is
    locked (:mod:`diffsurr.runlock`) throughout, except for a milestone: its file is written
    once by the training, which may go on meanwhile, and nothing is written where it changed
    during the evaluation."""
    t0, start = time.perf_counter(), io.stage_start()
    profile = run.config(**execution)
    if milestone is not None and int(milestone) not in profile.milestones:
        raise ValueError(f"milestone {milestone} is not one of profile {profile.name!r}'s "
                         f"milestones {profile.milestones}")
    name = eval_name(milestone)
    weights = "model.pt" if milestone is None else milestone_file(int(milestone))
    out = io.prepare_output_dir(run.dir, (name,))
    if not (out / weights).is_file():
        raise io.missing_file(out / weights, "checkpoint")
    ensure_data(profile, "evaluate stage")
    with run_lock(out, "evaluate", str(run)) if milestone is None else nullcontext():
        ds = _evaluate(run, profile, execution, t0, start, milestone)
        if io.sha256_file(out / weights) != ds.attrs["model_sha256"]:
            raise RuntimeError(f"{out / weights} changed while {run} was evaluated; "
                               f"{name} is not written: evaluate the run again")
        io.write_netcdf(ds, out / name)
        manifest.record(run.profile, out / name, start["git_commit"], run,
                        model_sha256=ds.attrs["model_sha256"], data_sha256=ds.attrs["data_sha256"])
    return ds


def _evaluate(run: RunId, profile, execution: dict, t0: float, start: dict,
              milestone: int | None) -> xr.Dataset:
    device = profile.resolved_device()
    split, data_sha = load_split(profile)
    net, stored = load_trained(run, data_sha, milestone=milestone, **execution)
    net = net.to(device)
    x_test, y_test = (t[:, 0].numpy() for t in split["test"])
    n_train = min(profile.max_eval_train, len(split["train"][0]))
    x_train, y_train = (t[:n_train, 0].numpy() for t in split["train"])
    t_pred = time.perf_counter()
    yhat_test, nn1_test, nn2_test = predict(net, split["test"][0], parts=True)
    t_pred = time.perf_counter() - t_pred
    yhat_train = predict(net, split["train"][0][:n_train])

    sets = xr.concat([_per_set("test", x_test, y_test, yhat_test),
                      _per_set("train", x_train, y_train, yhat_train)], dim="set")
    k = min(profile.n_figure_samples, len(x_test))
    fig = xr.Dataset(
        {"fig_input": (("fig_sample", "y", "x"), x_test[:k]),
         "fig_target": (("fig_sample", "y", "x"), y_test[:k]),
         "fig_pred": (("fig_sample", "y", "x"), yhat_test[:k]),
         "fig_nn1": (("fig_sample", "y", "x"), nn1_test[:k]),
         "fig_nn2": (("fig_sample", "y", "x"), nn2_test[:k])})
    spdf = metrics.slice_pdfs(y_test, yhat_test, width=0.05).rename(
        {"slice": "slice20", "lower": "lower20", "upper": "upper20", "count": "count20",
         "mean_xprime": "mean_xprime20", "std_xprime": "std_xprime20"})
    fpdf = metrics.field_pdfs(y_test, yhat_test)
    h_test = metrics.hist2d(y_test, yhat_test).rename("hist2d_test")
    h_train = metrics.hist2d(y_train, yhat_train).rename("hist2d_train")
    ds = xr.merge([sets, fig, spdf, fpdf, h_test, h_train], compat="override",
                  combine_attrs="drop")
    ds.attrs = io.provenance(start, **{
        **profile.as_attrs(), **net.config, **run.attrs(), "device": device,
        "data_sha256": data_sha, "model_sha256": stored["model_sha256"],
        "milestone": -1 if milestone is None else int(milestone),
        "n_test": len(x_test), "n_train_evaluated": n_train,
        "predict_s_per_sample": t_pred / len(x_test), "wall_time_s": time.perf_counter() - t0})
    return ds
