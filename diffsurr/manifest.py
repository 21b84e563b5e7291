"""The manifest of a profile's results, ``results/<profile>/manifest.json``, committed with them.

Every result file a stage writes is recorded with its SHA-256, its run and the commit the
stage started on; each data set with the content checksum it was made with (data files are
never committed and regenerate with other bytes). The book is built only from files that
match (:func:`verify`); a recorded file that is absent is simply not in yet.

``python -m diffsurr.manifest adopt PROFILE`` records the committed files of a profile made
before stages kept a manifest (their commit: the file's last git commit);
``python -m diffsurr.manifest verify PROFILE`` checks a results folder as the book does.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fcntl
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import xarray as xr

from . import io
from .runid import RunId, data_path, results_dir
from .ties import recorded_model, tie_problem

FILENAME = "manifest.json"
RUN_FILES = ("model.pt", "history.nc", "eval.nc", "generalise.nc")
MILESTONE_FILES = ("eval-[0-9][0-9][0-9].nc", "history-[0-9][0-9][0-9].nc")
"""A milestone's evaluation and the history up to it (a profile with ``milestones``)."""
PROFILE_FILES = ("baselines.nc",)
STAGE_START = "the commit the stage started on"
ADOPTED = "the file's last git commit (adopted: the stage's own commit was not recorded)"
ADOPTED_DATA = "the last git commit of a history.nc that records this checksum (adopted)"


def manifest_path(profile: str) -> Path:
    return results_dir(profile) / FILENAME


def _key(profile: str, path: Path) -> str:
    return Path(path).resolve().relative_to(results_dir(profile).resolve()).as_posix()


def load(profile: str) -> dict:
    """The manifest of ``profile`` (an empty one where there is none)."""
    path = manifest_path(profile)
    if not path.exists():
        return {"files": {}, "data": {}}
    try:
        manifest = json.loads(path.read_text())
        manifest["files"], manifest["data"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a readable manifest ({err}); restore it from git "
                         f"(git checkout -- {path})") from err
    return manifest


@contextmanager
def _editing(profile: str):
    """The manifest, for changing under an exclusive lock; written back atomically."""
    folder = results_dir(profile)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".manifest.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)          # edits take milliseconds: wait for the other
        manifest = load(profile)
        yield manifest
        text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
        with io.atomic_path(manifest_path(profile), needs_bytes=len(text)) as tmp:
            tmp.write_text(text)
    finally:
        os.close(fd)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def record(profile: str, path: Path, commit: str, run: RunId | None = None,
           commit_is: str = STAGE_START, **checksums) -> None:
    """Record result file ``path`` of ``profile`` as written now (``checksums``: the
    ``model_sha256`` or ``data_sha256`` the file names)."""
    entry = {"sha256": io.sha256_file(path), "bytes": Path(path).stat().st_size,
             "run": run.as_dict() if run else None, "commit": commit, "commit_is": commit_is,
             "recorded": _now(), **{k: v for k, v in checksums.items() if v}}
    with _editing(profile) as manifest:
        manifest["files"][_key(profile, path)] = entry


def record_data(profile: str, path: Path, data_sha: str, commit: str,
                commit_is: str = STAGE_START) -> None:
    """Record the content checksum of data file ``path`` (kept as it is where the same
    checksum is recorded: a data set drawn again from its seed is the same data)."""
    if load(profile)["data"].get(_key(profile, path), {}).get("data_sha256") == data_sha:
        return
    with _editing(profile) as manifest:
        manifest["data"][_key(profile, path)] = {"data_sha256": data_sha, "commit": commit,
                                                 "commit_is": commit_is, "recorded": _now()}


def forget(profile: str, path: Path) -> None:
    """Drop the entry of a result file a stage removed."""
    with _editing(profile) as manifest:
        manifest["files"].pop(_key(profile, path), None)


def result_files(profile: str) -> list[Path]:
    """The result files of ``profile`` on disk that the manifest covers."""
    root = results_dir(profile)
    found = [root / name for name in PROFILE_FILES if (root / name).is_file()]
    for folder in sorted(root.iterdir()) if root.is_dir() else ():
        if folder.is_dir() and _is_run(profile, folder.name):
            found += [folder / name for name in RUN_FILES if (folder / name).is_file()]
            found += sorted(p for pattern in MILESTONE_FILES for p in folder.glob(pattern))
    return found


def _is_run(profile: str, name: str) -> bool:
    try:
        RunId.parse(profile, name)
    except ValueError:
        return False
    return True


def problems(profile: str) -> list[str]:
    """Each result file of ``profile`` that is not as its manifest records, is unreadable or
    is not recorded; each run whose files name different models; each data file whose
    checksum differs. Files the manifest records but that are absent are not in yet."""
    root, path = results_dir(profile), manifest_path(profile)
    files = result_files(profile)
    if not files:
        return []
    if not path.exists():
        return [f"{path} is missing, so {len(files)} result files cannot be checked; record "
                f"committed results with `python -m diffsurr.manifest adopt {profile}`"]
    manifest, out = load(profile), []
    for file in files:
        entry = manifest["files"].get(_key(profile, file))
        try:
            sha = io.sha256_file(file)
        except OSError as err:
            out.append(f"{file}: unreadable ({err.strerror or err})")
            continue
        if entry is None:
            out.append(f"{file}: not in {path} (no stage recorded it); rerun its stage")
        elif sha != entry["sha256"]:
            out.append(f"{file}: differs from {path} (sha256 {sha[:12]}, recorded "
                       f"{entry['sha256'][:12]}): edited, truncated or replaced; restore it "
                       "(git checkout) or rerun its stage")
    for folder in sorted({f.parent for f in files} - {root}):
        try:
            problem = tie_problem(folder)
        except ValueError:
            continue                            # an unreadable file, named above
        if problem:
            out.append(problem)
    for name, entry in manifest["data"].items():
        if (root / name).is_file():
            try:
                with xr.open_dataset(root / name) as ds:
                    sha = str(ds.attrs.get("data_sha256"))
            except Exception as err:  # netCDF4 raises OSError, ValueError or RuntimeError
                out.append(f"{root / name}: unreadable ({err}); delete it to draw it again")
                continue
            if sha != entry["data_sha256"]:
                out.append(f"{root / name}: data checksum {sha[:12]}, the manifest records "
                           f"{entry['data_sha256'][:12]}")
    return out


def verify(profile: str) -> None:
    """ValueError listing :func:`problems`, if any."""
    found = problems(profile)
    if found:
        raise ValueError(f"{len(found)} result file(s) of profile {profile!r} fail the check "
                         "against the manifest:\n  - " + "\n  - ".join(found))


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=io.REPO_ROOT, capture_output=True, text=True,
                          check=True).stdout


def adopt(profile: str) -> list[str]:
    """Record the committed, unmodified result files of ``profile`` that have no entry, and
    the data checksum their histories record; return what was not adopted and why."""
    manifest, skipped, data = load(profile), [], {}
    for file in result_files(profile):
        key, rel = _key(profile, file), file.resolve().relative_to(io.REPO_ROOT).as_posix()
        if not _git("ls-files", "--", rel) or _git("status", "--porcelain", "--", rel):
            skipped.append(f"{file}: not committed, or changed since")
            continue
        if key in manifest["files"]:
            if manifest["files"][key]["sha256"] != io.sha256_file(file):
                skipped.append(f"{file}: differs from its entry")
            continue
        top = file.parent == results_dir(profile)
        run = None if top else RunId.parse(profile, file.parent.name)
        checksums = _stored_checksums(file)
        commit = _git("log", "-1", "--format=%H", "--", rel).strip()
        if run is not None and file.name == "history.nc" and checksums.get("data_sha256"):
            data.setdefault(data_path(run.config()), {})[checksums["data_sha256"]] = commit
        record(profile, file, commit, run, ADOPTED, **checksums)
    for path, shas in data.items():
        if len(shas) > 1:
            skipped.append(f"{path}: the runs record {len(shas)} data checksums")
        elif _key(profile, path) not in manifest["data"]:
            record_data(profile, path, *shas.popitem(), commit_is=ADOPTED_DATA)
    return skipped


def _stored_checksums(file: Path) -> dict:
    if file.suffix != ".nc":
        return {}
    with xr.open_dataset(file) as ds:
        return {"model_sha256": recorded_model(file), "data_sha256": ds.attrs.get("data_sha256")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("adopt", "verify"))
    parser.add_argument("profile")
    args = parser.parse_args(argv)
    if args.action == "adopt":
        for line in adopt(args.profile):
            print(f"not adopted: {line}")
        print(f"{manifest_path(args.profile)}: {len(load(args.profile)['files'])} files")
        return 0
    found = problems(args.profile)
    print("\n".join(found) or f"every result file of {args.profile!r} matches its manifest")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
