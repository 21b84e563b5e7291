"""Reading the study's result files: the one place that opens them.

The stages load their inputs here (the data set, :func:`load_split`; a trained run,
:func:`load_trained`), and the book reads every number through the loaders here: the runs'
files (:func:`load_evals`, :func:`load_histories`, :func:`load_history`,
:func:`load_seed_evals`, :func:`load_optional`, :func:`load_attrs`, :func:`load_generalise`),
the data set (:func:`load_data`), the executed stage notebooks (:func:`load_notebook`), the
baselines' cost (:func:`load_baselines_cost`) and the measurements in ``results/benchmarks/``
(:func:`load_benchmark_files`, :func:`load_payoff_maps`, :func:`load_matched`). The checking
loaders refuse what does not fit: a data set against the values and checksum a run expects
(:func:`load_checked_data`), a model.pt against its run's identity, an eval.nc or history.nc
against the model it describes (:func:`diffsurr.ties.check_tie`);
:func:`diffsurr.manifest.verify` checks a whole results folder against its manifest before
the book is built.

Elsewhere only the reading machinery opens result files: :mod:`diffsurr.io`'s primitives
(and :func:`diffsurr.data.load` over them), :mod:`diffsurr.ties` and :mod:`diffsurr.manifest`
(which check files), the train stage's resume from what it wrote, and
:func:`diffsurr.slurm.compare_netcdf` (``tests/test_results_reader.py`` keeps it so).

The results root is ``$DIFFSURR_RESULTS`` or ``<repo>/results``
(:func:`diffsurr.runid.results_root`); which runs a study has is :mod:`diffsurr.study`'s.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
import xarray as xr

from . import data, io, matched, payoff
from .bench import benchmark_files
from .choices import NN1_VARIANT
from .nets import Surrogate, saved_config
from .profiles import Profile
from .registry import MODELS, table2_frame
from .runid import RunId, data_path, data_values, results_dir, results_root
from .statistics import output_std
from .study import baselines_path, build_model, generalise_path, milestone_file, study_runs
from .ties import check_tie


def data_identity(profile: Profile) -> dict:
    """What a data file must record: the profile's data values and the problem's constants."""
    return {**{f"profile_{k}": v for k, v in data_values(profile).items()}, **data.PROBLEM}


def checksum(ds) -> str:
    """Content checksum of a data set: inputs, targets and split."""
    return io.sha256_arrays(ds["input"].values, ds["target"].values, ds["split"].values)


def check_data(profile: Profile, ds, path: Path) -> None:
    """ValueError naming ``path`` and both values if ``ds`` was made with other data values
    than ``profile``'s, or holds non-finite values."""
    differ = [f"{k} = {ds.attrs.get(k)!r} in the file, {v!r} in this run"
              for k, v in data_identity(profile).items() if not _same(ds.attrs.get(k), v)]
    if differ:
        raise ValueError(f"{path} was made with other data values than this run uses: "
                         + "; ".join(differ) + ". Delete it or rerun the data stage with "
                         "force=True")
    for name in ("input", "target"):
        if not np.isfinite(ds[name].values).all():
            raise ValueError(f"{path}: variable {name!r} holds non-finite values; regenerate "
                             "it (data stage with force=True)")


def _same(stored, expected) -> bool:
    if stored is None or isinstance(expected, str):
        return stored == expected
    return bool(np.isclose(float(stored), float(expected), rtol=1e-12, atol=0))


def load_checked_data(profile: Profile) -> xr.Dataset:
    """The profile's data file in memory, its data values and contents checked
    (:func:`check_data`)."""
    path = data_path(profile)
    ds = io.read_netcdf(path, require=("input", "target", "split"))
    check_data(profile, ds, path)
    return ds


def load_split(profile: Profile) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], str]:
    """Inputs and targets of each split as (n, 1, N, N) float32 tensors, and the data's
    checksum; the file's stored data values and contents are checked first. The training
    part is its first ``profile.train_fraction`` (rounded up; the split is drawn at random, so
    this is a random subset, and a smaller share is part of every larger one)."""
    path = data_path(profile)
    ds = load_checked_data(profile)
    out = {}
    for name in ("train", "val", "test"):
        sel = ds.split.values == name
        if not sel.any():
            raise ValueError(f"{path}: the {name!r} split is empty")
        out[name] = tuple(torch.from_numpy(ds[v].values[sel]).unsqueeze(1)
                          for v in ("input", "target"))
    n_train = math.ceil(profile.train_fraction * len(out["train"][0]))
    out["train"] = tuple(t[:n_train] for t in out["train"])
    return out, checksum(ds)


def load_trained(run: RunId, data_sha: str | None = None, milestone: int | None = None,
                 **execution) -> tuple[Surrogate, dict]:
    """The trained surrogate of ``run`` (eval mode) and the identity its model.pt (or its
    ``milestone`` file) records, with ``model_sha256``, the SHA-256 of the bytes loaded.
    Refused with both identities if the file belongs to another run; if its history.nc names
    another model (:mod:`diffsurr.ties`; model.pt only); given ``data_sha``, if it was trained
    on other data."""
    path = run.dir / ("model.pt" if milestone is None else milestone_file(milestone))
    saved, sha = io.load_checkpoint(path, with_sha=True)
    stored = {**saved.get("identity", {}), "model_sha256": sha}
    net = build_model(run.config(**execution), run.model)
    if stored.get("run") != run.as_dict() or saved_config(saved.get("config", {})) != net.config:
        raise ValueError(f"{path} belongs to another run: it holds {stored.get('run')} "
                         f"(network {saved.get('config')}), this run is {run.as_dict()} "
                         f"(network {net.config})")
    if data_sha is not None and stored.get("data_sha256") != data_sha:
        raise ValueError(f"{path} was trained on data with checksum "
                         f"{stored.get('data_sha256')}, but {data_path(run.config())} has "
                         f"{data_sha}: retrain the run on this data (retrain=True) or restore "
                         "its data")
    if milestone is None:
        check_tie(run.dir, sha, names=("history.nc",))
    try:
        net.load_state_dict(saved["state"])
    except RuntimeError as err:               # torch's second line names the tensor
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        raise ValueError(f"{path}: its tensors do not fit the network of {run} "
                         f"({lines[min(1, len(lines) - 1)][:200]}); delete it and train the run "
                         "again (retrain=True)") from None
    return net.eval(), stored


def display_path(path: str | os.PathLike) -> str:
    """``path`` relative to the repository when it lies inside it, else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(io.REPO_ROOT.resolve()))
    except ValueError:
        return str(path)


RESULTS_ENV = "DIFFSURR_RESULTS"


def run_dir(profile: Profile, model: int, **overrides) -> Path:
    """Folder of ``model`` for ``profile`` with profile values overridden (e.g. rollback="none")."""
    return RunId.of(profile.replace(**overrides) if overrides else profile, model).dir


def evaluated_runs(profile: Profile) -> list[RunId]:
    """Every run of ``profile`` (any seed or overridden values) that has an ``eval.nc``."""
    root = results_dir(profile)
    runs = []
    for d in sorted(root.iterdir()) if root.is_dir() else ():
        try:
            runs.append(RunId.parse(profile.name, d.name))
        except ValueError:                      # data files, notebooks, other folders
            continue
    return [run for run in runs if (run.dir / "eval.nc").exists()]


def _need(paths: Iterable[Path]) -> None:
    missing = [p for p in paths if not p.exists()]
    if missing:
        shown = ", ".join(display_path(p) for p in missing[:6])
        more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        raise FileNotFoundError(
            f"results missing: {shown}{more}. Run the study for this profile first "
            "(`make study PROFILE=<name>` or `snakemake --cores 2 --config profile=<name>`), "
            f"or point ${RESULTS_ENV} at a results root that has them.")


def load_data(profile: Profile, variables: Sequence[str] | None = None) -> xr.Dataset:
    """The profile's data file loaded into memory (inputs, targets, split, attrs), or only its
    ``variables`` and attrs (e.g. ``("split",)``: the inputs and targets are not read)."""
    path = data_path(profile)
    _need([path])
    with xr.open_dataset(path) as ds:
        return (ds if variables is None else ds[list(variables)]).load()


def load_attrs(path: Path) -> dict:
    """The attributes of a result file (data file, history.nc, eval.nc, ...); its arrays are
    not read."""
    with xr.open_dataset(path) as ds:
        return dict(ds.attrs)


def stored_model_sha(path: Path) -> str | None:
    """The ``model_sha256`` attribute of a results file (eval.nc, generalise.nc); None if the
    file does not exist or does not record one."""
    return load_attrs(path).get("model_sha256") if path.exists() else None


def load_optional(path: Path) -> xr.Dataset | None:
    """A run's result file (history.nc, eval.nc, a milestone's eval-NNN.nc) loaded into
    memory, or None where it is not in yet."""
    return io.read_netcdf(path) if path.exists() else None


def load_notebook(path: Path) -> dict:
    """An executed stage notebook (``results/<profile>/notebooks/*.ipynb``) as its JSON."""
    return json.loads(Path(path).read_text())


def load_generalise(run: RunId) -> xr.Dataset:
    """The run's generalise.nc in memory, its layout names as str."""
    ds = io.read_netcdf(generalise_path(run))
    ds["layout"] = [str(v) for v in ds["layout"].values]
    return ds


def load_baselines_cost(profile: Profile) -> xr.Dataset | None:
    """The baselines' cost file (:func:`diffsurr.study.baselines_path`) in memory; None until
    it is made."""
    path = baselines_path(profile)
    return xr.load_dataset(path) if path.exists() else None


def _spec_vars(models: Sequence[int]) -> dict:
    t2 = table2_frame().sel(model=list(models))
    return {name: t2[name] for name in ("w", "p1", "p2", "D1", "D2", "D3", "D4", "loss")}


def load_evals(profile: Profile, models: Sequence[int] = MODELS, **overrides) -> xr.Dataset:
    """Every model's ``eval.nc`` in one Dataset with a leading ``model`` dim.

    The residual histogram of Supplement A has its own bins per model, so its dim ``xprime``
    becomes ``xbin`` and the bin centres/edges ``xprime``, ``xprime_lower``, ``xprime_upper``
    are variables over (model, xbin). Per-model attributes that are numbers (``n_test``,
    ``predict_s_per_sample``, ...) become variables over ``model``; Table 2's hyperparameters
    (``w``, ``p1``, ``p2``, ``D1``–``D4``, ``loss``) are added as variables too. The attrs keep
    the profile values and ``paths`` (the files read). An eval.nc of another model than its
    run's history.nc or model.pt is refused (:func:`diffsurr.ties.check_tie`), here and in
    the other loaders.
    """
    models = [int(m) for m in models]
    paths = [run_dir(profile, m, **overrides) / "eval.nc" for m in models]
    _need(paths)
    parts, scalars = [], {}
    for m, path in zip(models, paths):
        check_tie(path.parent)
        with xr.open_dataset(path) as ds:
            ds = ds.load()
        if "xprime" in ds.dims:
            centres = ds["xprime"].values
            ds = ds.reset_coords([c for c in ("xprime_lower", "xprime_upper") if c in ds.coords])
            ds = ds.drop_vars("xprime").rename_dims({"xprime": "xbin"})
            ds["xprime"] = ("xbin", centres)
        for key in ("n_test", "n_train_evaluated", "predict_s_per_sample", "wall_time_s"):
            scalars.setdefault(key, []).append(ds.attrs.get(key, np.nan))
        parts.append(ds)
    out = xr.concat(parts, dim=pd.Index(models, name="model"), coords="minimal",
                    compat="override", combine_attrs="drop_conflicts", join="outer")
    for key, values in scalars.items():
        out[key] = ("model", np.asarray(values, dtype=float))
    for name, var in _spec_vars(models).items():
        out[name] = var
    out.attrs = {k: v for k, v in out.attrs.items() if k.startswith("profile_")}
    out.attrs["paths"] = [display_path(p) for p in paths]
    return out


def evaluated_models(profile: Profile, models: Sequence[int] = MODELS, **overrides) -> list[int]:
    """Those of ``models`` whose run (the profile's seed and values) has an ``eval.nc``."""
    return [int(m) for m in models if (run_dir(profile, m, **overrides) / "eval.nc").exists()]


def load_study_evals(profile: Profile, **overrides) -> xr.Dataset:
    """:func:`load_evals` of the Table 2 models evaluated so far (a study under way shows the
    runs that are in; :func:`study_progress` says which are not); the attr ``missing`` lists
    the others. FileNotFoundError, as :func:`load_evals`, if none is."""
    models = evaluated_models(profile, **overrides)
    out = load_evals(profile, models or MODELS, **overrides)
    out.attrs["missing"] = [m for m in MODELS if m not in models]
    return out


def study_progress(profile: Profile) -> tuple[list[str], list[str]]:
    """Names of the study's runs (:func:`diffsurr.study.study_runs`) that are
    evaluated, and of those that are not."""

    runs = study_runs(profile)
    done = [r.name for r in runs if (r.dir / "eval.nc").exists()]
    return done, [r.name for r in runs if r.name not in done]


def history_summaries(profile: Profile) -> pd.DataFrame:
    """Per study run with a history.nc (index: run name): roll-backs, best epoch and the
    number of accepted epochs of its final trajectory."""

    rows = {}
    for run in study_runs(profile):
        path = run.dir / "history.nc"
        if path.exists():
            with xr.open_dataset(path) as h:
                rows[run.name] = {"n_rollbacks": int(h.attrs["n_rollbacks"]),
                                  "best_epoch": int(h.attrs["best_epoch"]),
                                  "n_epochs": int((h["kept"] == 1).sum())}
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["n_rollbacks", "best_epoch", "n_epochs"])


def load_nn1_variant(profile: Profile) -> xr.Dataset | None:
    """The evaluations of the profile's ``nn1_variant_models`` trained with NN1's
    :data:`~diffsurr.choices.NN1_VARIANT` head (those evaluated so far); None where there are
    none."""
    models = evaluated_models(profile, profile.nn1_variant_models, nn1_head=NN1_VARIANT)
    return load_evals(profile, models, nn1_head=NN1_VARIANT) if models else None


def load_history(profile: Profile, model: int, **overrides) -> xr.Dataset:
    """``history.nc`` of one run (``overrides`` pick a variant, e.g. rollback="none")."""
    path = run_dir(profile, model, **overrides) / "history.nc"
    _need([path])
    check_tie(path.parent)
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    ds.attrs["path"] = display_path(path)
    return ds


def load_histories(profile: Profile, models: Sequence[int] = MODELS, **overrides) -> xr.Dataset:
    """Every model's ``history.nc`` with a ``model`` dim; shorter runs are padded with NaN along
    ``step``. The attrs ``n_rollbacks``, ``best_epoch``, ``best_val_loss``, ``wall_time_s``
    become variables over ``model``."""
    models = [int(m) for m in models]
    hists = [load_history(profile, m, **overrides) for m in models]
    scalars = {k: [h.attrs.get(k, np.nan) for h in hists]
               for k in ("n_rollbacks", "best_epoch", "best_val_loss", "wall_time_s")}
    hists = [h.reset_coords("epoch").astype(float) for h in hists]
    out = xr.concat(hists, dim=pd.Index(models, name="model"), join="outer",
                    combine_attrs="drop_conflicts", fill_value=np.nan)
    for key, values in scalars.items():
        out[f"run_{key}" if key == "wall_time_s" else key] = ("model", np.asarray(values, float))
    for name, var in _spec_vars(models).items():
        out[name] = var
    out.attrs = {k: v for k, v in out.attrs.items() if k.startswith("profile_")}
    return out


# Variables of eval.nc that the seeds page compares (small; the rest of eval.nc is not read).
SEED_VARS = ("mean_res", "p99_res", "max_res", "mean_nrmse", "count", "mean_xprime",
             "std_xprime", "pdf_true", "pdf_pred")


def seed_runs(profile: Profile, models: Sequence[int] = MODELS,
              **overrides) -> dict[int, list[int]]:
    """Training seeds of each model whose results the seeds page reads.

    The profile's own seed (folder ``model_NN``) always; for the profile's ``seed_models`` also
    its ``extra_seeds`` (these must exist: :func:`load_seed_evals` raises if they are missing);
    and any other ``model_NN_seedS`` folder with an ``eval.nc`` (e.g. seeds asked for on the
    Snakemake command line).
    """
    p = profile.replace(**overrides) if overrides else profile
    same = RunId.of(p, 9).overrides
    found: dict[int, set[int]] = {}
    for run in evaluated_runs(p):
        if run.overrides == same:
            found.setdefault(run.model, set()).add(run.seed)
    out = {}
    for m in (int(m) for m in models):
        seeds = {p.seed} | found.get(m, set())
        if m in p.seed_models:
            seeds |= set(p.extra_seeds)
        out[m] = sorted(seeds)
    return out


def load_seed_evals(profile: Profile, models: Sequence[int] = MODELS,
                    variables: Sequence[str] = SEED_VARS, partial: bool = False,
                    name: str = "eval.nc", **overrides) -> xr.Dataset:
    """``variables`` of every (model, seed) ``eval.nc`` in one Dataset with dims ``model`` and
    ``seed`` (NaN where a model was not trained with that seed; ``name``: another evaluation
    file of the runs, e.g. a milestone's ``eval-008.nc``), plus ``n_seeds`` over
    ``model`` and, over (model, seed), the attributes ``n_test``, ``n_train_evaluated`` and
    each network's :func:`output_std` (``out_std_nn1``, ``out_std_nn2``); the
    seeds are those of :func:`seed_runs`. The attrs keep ``paths`` and ``missing`` (the runs
    of :func:`seed_runs` without an ``eval.nc``): they raise FileNotFoundError unless
    ``partial`` (a study under way), which leaves them out."""
    p = profile.replace(**overrides) if overrides else profile
    runs = seed_runs(p, models)
    paths = {(m, s): RunId.of(p, m, s).dir / name for m, seeds in runs.items() for s in seeds}
    missing = [path for path in paths.values() if not path.exists()]
    if partial:
        paths = {k: path for k, path in paths.items() if path.exists()}
        runs = {m: [s for s in seeds if (m, s) in paths] for m, seeds in runs.items()}
        runs = {m: seeds for m, seeds in runs.items() if seeds}
    _need(paths.values() or missing)
    all_seeds = sorted({s for seeds in runs.values() for s in seeds})
    rows = []
    for m, seeds in runs.items():
        parts, parts_attrs = [], []
        for s in seeds:
            check_tie(paths[(m, s)].parent)
            with xr.open_dataset(paths[(m, s)]) as ds:
                keep = [v for v in variables if v in ds]
                parts.append(ds[keep].load().reset_coords(drop=True))
                parts_attrs.append({**ds.attrs, **{f"out_std_{n}": output_std(ds, n)
                                                   for n in ("nn1", "nn2")}})
        row = xr.concat(parts, dim=pd.Index(seeds, name="seed"), join="outer",
                        combine_attrs="drop")
        for key in ("n_test", "n_train_evaluated", "out_std_nn1", "out_std_nn2"):
            row[key] = ("seed", np.array([float(part.get(key, np.nan))
                                          for part in parts_attrs]))
        rows.append(row.reindex(seed=all_seeds))
    out = xr.concat(rows, dim=pd.Index(list(runs), name="model"), join="outer",
                    combine_attrs="drop")
    out["n_seeds"] = ("model", np.array([len(runs[m]) for m in runs]))
    for name, var in _spec_vars(list(runs)).items():
        out[name] = var
    out.attrs = {"paths": [display_path(path) for path in paths.values()],
                 "missing": [display_path(path) for path in missing]}
    return out


def load_benchmark_files(folder=None) -> dict[str, xr.Dataset]:
    """{file name: dataset} of every ``bench all`` file in ``folder`` (default
    results/benchmarks; :func:`diffsurr.bench.benchmark_files`)."""
    return {path.name: io.read_netcdf(path) for path in benchmark_files(folder)}


def _full_or_quick(full, profile: Profile, prefix: str,
                   root=None) -> tuple[dict[str, xr.Dataset], str]:
    if full:
        return {p.name: io.read_netcdf(p) for p in full}, "full"
    root = Path(root) if root else results_root()
    quick = sorted((root / profile.name).glob(f"{prefix}-*.nc"))
    return {p.name: io.read_netcdf(p) for p in quick}, "quick"


def load_payoff_maps(profile: Profile, folder=None,
                     root=None) -> tuple[dict[str, xr.Dataset], str]:
    """({file: dataset}, "full" or "quick"): every full pay-off map in ``folder`` (default
    results/benchmarks/payoff-*.nc, one per device); where there is none, the profile's quick
    run(s) ``payoff-*.nc`` in ``<root>/<profile>/`` (default results/)."""
    return _full_or_quick(payoff.payoff_files(folder), profile, "payoff", root)


def load_matched(profile: Profile, folder=None,
                 root=None) -> tuple[dict[str, xr.Dataset], str]:
    """({file: dataset}, "full" or "quick"): the full error-matched runs in ``folder``
    (default results/benchmarks/matched-*.nc), else the profile's quick run(s) under
    ``root``."""
    return _full_or_quick(matched.matched_files(folder), profile, "matched", root)
