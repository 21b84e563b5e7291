"""Atomic file writes, provenance attributes and safe loading of results and checkpoints."""

from __future__ import annotations

import datetime as _dt
import errno
import fnmatch
import hashlib
import io as _io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import xarray as xr

REPO_ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def atomic_path(path: str | os.PathLike, needs_bytes: int = 0):
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    A reader never sees a half-written file: either the old file or the complete new one. A
    failed write leaves nothing behind and names ``path`` and the cause (a full disk as such,
    with ``needs_bytes``, the file's expected size).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise _write_error(path, err, needs_bytes, "cannot write") from err
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are for everyone to read
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # torch and netCDF report a full disk as RuntimeError
        raise _write_error(path, err, needs_bytes, "writing") from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _free_bytes(folder: Path) -> int:
    try:
        st = os.statvfs(folder)
    except OSError:
        return -1
    return st.f_bavail * st.f_frsize


def _write_error(path: Path, err: Exception, needs_bytes: int, what: str) -> Exception:
    """``err`` as an error that names ``path`` and says in words when the disk is full."""
    free = _free_bytes(path.parent)
    full = getattr(err, "errno", None) == errno.ENOSPC or 0 <= free < max(needs_bytes, 1 << 20)
    if full:
        return OSError(errno.ENOSPC, f"{what} {path} failed: no space left on device: needs "
                       f"about {_mb(needs_bytes)} MB, {_mb(max(free, 0))} MB free in "
                       f"{path.parent}; free some space or point $DIFFSURR_RESULTS at another "
                       "disk")
    cause = getattr(err, "strerror", None) or str(err)
    if isinstance(err, OSError):
        return OSError(err.errno, f"{what} {path} failed: {cause}")
    return RuntimeError(f"{what} {path} failed: {cause}")


def _mb(n: int) -> str:
    return f"{max(n, 1e5) / 1e6:.1f}" if n < 1e7 else f"{n / 1e6:.0f}"


def prepare_output_dir(folder: str | os.PathLike, names: tuple[str, ...]) -> Path:
    """Make ``folder``, check that it is writable (before any compute) and remove the
    temporary files that killed writes of ``names`` left there (see :func:`atomic_path`)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-check.", suffix=".tmp")
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise PermissionError(f"results folder {folder} is not writable ({err.strerror or err}); "
                              "fix its permissions or point $DIFFSURR_RESULTS elsewhere") from err
    for name in names:
        for stale in folder.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)
    return folder


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_arrays(*arrays: np.ndarray) -> str:
    """Hex SHA-256 of arrays' dtypes, shapes and bytes (a data set's content checksum)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes() if a.dtype.kind != "U" else "\n".join(a.ravel()).encode())
    return h.hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def git_commit() -> str:
    """The current git commit of the repository (with ``-dirty`` if it has local changes)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def versions() -> dict[str, str]:
    """Versions of the packages that shape the results."""
    import scipy
    import torch

    import diffsurr

    return {"python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "torch": torch.__version__, "xarray": xr.__version__,
            "diffsurr": diffsurr.__version__}


def stage_start() -> dict:
    """What a stage records as it starts: the commit it runs (with ``-dirty``), the time, and
    the machine's load; pass it to :func:`provenance` so a long stage records the code it
    started on, not the commit that is checked out when it ends."""
    return {"git_commit": git_commit(), "started": _now(),
            "load_average_start": list(os.getloadavg())}


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (resource.getrusage)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else 1024 * peak


def provenance(start: dict | None = None, **params) -> dict[str, str | int | float]:
    """Attributes recorded on every result: parameters, versions, git commit, host and date.

    ``start`` is the stage's :func:`stage_start` (its commit, start time and load); without
    it the commit is read now. netCDF attributes must be str or numbers: dicts, lists and
    ``None`` are stored as JSON strings.
    """
    start = start if start is not None else {"git_commit": git_commit()}
    attrs: dict = {"created": _now(), "host": platform.node(),
                   "versions": json.dumps(versions()), "load_average_end": list(os.getloadavg())}
    params = {**start, **params}
    for key, value in params.items():
        if isinstance(value, (bool, np.bool_)):
            attrs[key] = int(value)
        elif isinstance(value, (int, float, str, np.integer, np.floating)):
            attrs[key] = value
        else:
            attrs[key] = json.dumps(value, default=str)
    return attrs


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike, compress: bool = True) -> Path:
    """Write ``ds`` to ``path`` atomically, with zlib compression of the data variables."""
    encoding = {name: {"zlib": True, "complevel": 4} for name, var in ds.data_vars.items()
                if compress and var.dtype.kind in "fiub" and var.ndim > 0}
    with atomic_path(path, needs_bytes=ds.nbytes) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
    return Path(path)


def duration(seconds: float) -> str:
    """Seconds as a short duration string: 45 s, 12 min, 3.5 h, 21 d."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


# The stage that writes each results file, by file name (the book's reproduce page lists them).
WRITERS = (("data*.nc", "the data stage (notebooks/data.ipynb)"),
           ("model.pt", "the train stage (notebooks/train.ipynb)"),
           ("history.nc", "the train stage (notebooks/train.ipynb)"),
           ("checkpoint.pt", "the train stage (notebooks/train.ipynb)"),
           ("milestone-*.pt", "the train stage (notebooks/train.ipynb; milestone weights are "
                              "not committed, so only a run trained here has them)"),
           ("eval.nc", "the evaluate stage (notebooks/evaluate.ipynb)"),
           ("generalise.nc", "the generalise stage (notebooks/generalise.ipynb)"),
           ("baselines.nc", "the baselines stage (notebooks/baselines.ipynb)"),
           ("payoff-*.nc", "the pay-off stage (notebooks/payoff.ipynb)"),
           ("benchmark-*.nc", "the benchmark stage (notebooks/benchmark.ipynb)"))


def missing_file(path: Path, what: str = "results file") -> FileNotFoundError:
    """The error for a missing results file, naming the stage that writes it."""
    stage = next((w for pattern, w in WRITERS if fnmatch.fnmatch(path.name, pattern)),
                 "the stage that writes it")
    return FileNotFoundError(f"no {what} at {path}: {stage} writes it; run that first")


def read_netcdf(path: str | os.PathLike, require: tuple[str, ...] = ()) -> xr.Dataset:
    """Load a netCDF file fully into memory, with a clear error if it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise missing_file(path)
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            ds = ds.load()
    except Exception as err:  # netCDF4 raises OSError, ValueError or RuntimeError on bad files
        raise ValueError(f"{path} is not a readable netCDF file ({err}); delete it and rerun "
                         "the stage that writes it") from err
    missing = [name for name in require if name not in ds.variables]
    if missing:
        raise ValueError(f"{path} lacks variables {missing}; it holds {sorted(ds.variables)}")
    return ds


def save_checkpoint(state: dict, path: str | os.PathLike) -> str:
    """``torch.save`` through a temporary file, so a kill mid-write leaves the old checkpoint;
    returns the SHA-256 of the bytes written."""
    import torch

    buffer = _io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getbuffer()
    with atomic_path(path, needs_bytes=len(data)) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def load_checkpoint(path: str | os.PathLike, with_sha: bool = False):
    """Load a checkpoint with ``weights_only=True`` (no arbitrary code from pickles); with
    ``with_sha`` also the SHA-256 of the very bytes loaded."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise missing_file(path, "checkpoint")
    try:
        data = path.read_bytes()
        state = torch.load(_io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"checkpoint {path} cannot be loaded safely ({err}); delete it to "
                         "start over") from err
    return (state, hashlib.sha256(data).hexdigest()) if with_sha else state


def dict_diff(stored: dict | None, current: dict, ignore=(), limit: int = 6) -> list[str]:
    """The keys (dotted paths) where two nested dicts differ, each with both values; keys whose
    last part is in ``ignore`` are left out. At most ``limit`` lines, then a count."""
    a, b = _flat(stored or {}), _flat(current)
    keys = [k for k in sorted(set(a) | set(b)) if k.rsplit(".", 1)[-1] not in ignore
            and a.get(k, _ABSENT) != b.get(k, _ABSENT)]
    lines = [f"{k}: {a.get(k, _ABSENT)!r} stored, {b.get(k, _ABSENT)!r} here" for k in keys]
    return lines[:limit] + ([f"and {len(lines) - limit} more"] if len(lines) > limit else [])


_ABSENT = "(absent)"


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
