"""The model a run's files describe. model.pt is named by the SHA-256 of its bytes; the
history.nc that produced it and the eval.nc computed from it record that SHA-256
(``model_sha256``). Files of one run that name different models are a stale evaluation or a
training stopped between its writes; results written before the history recorded it are not
checked (their manifest entries are)."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from . import io

TIED = ("history.nc", "eval.nc")


def recorded_model(path: Path) -> str | None:
    """The ``model_sha256`` a results file records (None where it records none); ValueError
    naming the file if it cannot be read."""
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            sha = ds.attrs.get("model_sha256")
    except Exception as err:  # netCDF4 raises OSError, ValueError or RuntimeError
        raise ValueError(f"{path} is not a readable netCDF file ({err}); delete it and rerun "
                         "the stage that writes it") from err
    return None if sha is None else str(sha)


def model_shas(folder: Path, model_sha: str | None = None, names=TIED) -> dict[str, str]:
    """The model each present file of run folder ``folder`` (model.pt and ``names``) names;
    ``model_sha`` stands for model.pt (the bytes as loaded), else model.pt is hashed where
    present."""
    folder = Path(folder)
    out = {}
    if model_sha is None and (folder / "model.pt").is_file():
        model_sha = io.sha256_file(folder / "model.pt")
    if model_sha is not None:
        out["model.pt"] = model_sha
    for name in names:
        if (folder / name).is_file() and (sha := recorded_model(folder / name)) is not None:
            out[name] = sha
    return out


def tie_problem(folder: Path, model_sha: str | None = None, names=TIED) -> str | None:
    """What is wrong where the files of run folder ``folder`` name different models; None if
    they agree."""
    shas = model_shas(folder, model_sha, names)
    if len(set(shas.values())) <= 1:
        return None
    named = ", ".join(f"{name} names model {sha[:12]}" for name, sha in shas.items())
    produced, weights = shas.get("history.nc"), shas.get("model.pt")
    if produced and weights and produced != weights:
        advice = ("a training stopped between writing model.pt and history.nc: run train "
                  "again, which repairs it")
    else:
        advice = ("eval.nc describes another model (the run was retrained after it): "
                  "evaluate the run again")
    return f"{folder}: {named}; {advice}"


def check_tie(folder: Path, model_sha: str | None = None, names=TIED) -> None:
    """ValueError with :func:`tie_problem` where the run's files name different models."""
    problem = tie_problem(folder, model_sha, names)
    if problem:
        raise ValueError(problem)
