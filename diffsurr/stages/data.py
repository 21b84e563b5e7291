"""Workflow rule ``data``: draw and solve the data set of a profile (:func:`data_stage`), and
load it back checked against the values and checksum a run expects (:func:`load_split`)."""

from __future__ import annotations

import math

from pathlib import Path

import numpy as np
import torch

from .. import data, io, manifest
from ..profiles import Profile, coerce_flag
from ..runid import data_path, data_values


def _data_identity(profile: Profile) -> dict:
    """What a data file must record: the profile's data values and the problem's constants."""
    return {**{f"profile_{k}": v for k, v in data_values(profile).items()}, **data.PROBLEM}


def data_stage(profile: Profile, force: bool = False) -> Path:
    """Generate the profile's data file (:func:`diffsurr.runid.data_path`) unless it exists
    and holds this profile's data values; ``force`` makes it anew."""
    force = coerce_flag("force", force)
    start = io.stage_start()
    path = data_path(profile)
    io.prepare_output_dir(path.parent, (path.name,))
    if path.exists() and not force:
        check_data(profile, io.read_netcdf(path, require=("input", "target", "split")), path)
        print(f"{path} exists with this profile's data values; nothing to do (force=True "
              "regenerates it)")
        return path
    ds = data.generate(profile.n_samples, seed=profile.data_seed, mode=profile.mode,
                       placement=profile.placement, stage=start, profile=profile.name,
                       **profile.as_attrs())
    idx = data.split(profile.n_samples, profile.test_fraction, profile.val_fraction,
                     profile.split_seed)
    ds["split"] = ("sample", np.full(profile.n_samples, "train", dtype="<U5"))
    for name in ("val", "test"):
        ds["split"][idx[name]] = name
    ds.attrs["data_sha256"] = checksum(ds)
    io.write_netcdf(ds, path)
    manifest.record_data(profile.name, path, ds.attrs["data_sha256"], start["git_commit"])
    print(f"wrote {path}: {profile.n_samples} samples in {ds.attrs['wall_time_s']:.1f} s, "
          f"sha256 {ds.attrs['data_sha256'][:12]}")
    return path


# The data stage's time per sample on the 2-core CPU: its notebooks for the reference study
# (results/reference/notebooks/data*.ipynb, 20,000 samples) took 42 s and 71 s to draw, solve,
# checksum and write; a loaded machine takes longer.
SECONDS_PER_SAMPLE = 0.0035


def ensure_data(profile: Profile, stage: str) -> Path:
    """The profile's data file; where it is missing, ``stage`` first makes it with
    :func:`data_stage` (the data stage's own function and seeds, so the same checksum) and
    says so."""
    path = data_path(profile)
    if not path.exists():
        print(f"{path} is missing: the {stage} first makes it as the data stage would "
              f"(notebooks/data.ipynb): {profile.n_samples:,} samples from data seed "
              f"{profile.data_seed}, about "
              f"{io.duration(profile.n_samples * SECONDS_PER_SAMPLE)} on a 2-core CPU", flush=True)
        data_stage(profile)
    return path


def checksum(ds) -> str:
    """Content checksum of a data set: inputs, targets and split."""
    return io.sha256_arrays(ds["input"].values, ds["target"].values, ds["split"].values)


def check_data(profile: Profile, ds, path: Path) -> None:
    """ValueError naming ``path`` and both values if ``ds`` was made with other data values
    than ``profile``'s, or holds non-finite values."""
    differ = [f"{k} = {ds.attrs.get(k)!r} in the file, {v!r} in this run"
              for k, v in _data_identity(profile).items() if not _same(ds.attrs.get(k), v)]
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


def load_split(profile: Profile) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], str]:
    """Inputs and targets of each split as (n, 1, N, N) float32 tensors, and the data's
    checksum; the file's stored data values and contents are checked first. The training
    part is its first ``profile.train_fraction`` (rounded up; the split is drawn at random, so
    this is a random subset, and a smaller share is part of every larger one)."""
    path = data_path(profile)
    ds = io.read_netcdf(path, require=("input", "target", "split"))
    check_data(profile, ds, path)
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
