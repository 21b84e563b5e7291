"""A profile's data set file: drawn and solved once (:func:`data_stage`, the workflow rule
``data``), or first made by a later stage that finds it missing (:func:`ensure_data`).

It is read back, checked against the values and checksum a run expects, by
:func:`diffsurr.results.load_split`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import data, io, manifest
from .profiles import Profile, coerce_flag
from .results import checksum, load_checked_data
from .runid import data_path


def data_stage(profile: Profile, force: bool = False) -> Path:
    """Generate the profile's data file (:func:`diffsurr.runid.data_path`) unless it exists
    and holds this profile's data values; ``force`` makes it anew."""
    force = coerce_flag("force", force)
    start = io.stage_start()
    path = data_path(profile)
    io.prepare_output_dir(path.parent, (path.name,))
    if path.exists() and not force:
        load_checked_data(profile)
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

