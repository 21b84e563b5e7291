"""The manifest of results: stages record what they write, the book is built only from files
that match it, and the committed studies' manifests cover their files (smoke profile)."""

import json
import multiprocessing
import subprocess

import pytest
import xarray as xr

from conftest import TINY, tiny_run
from diffsurr import io, manifest
from diffsurr.book import build
from diffsurr.runid import RunId

def _evaluated(model=6):
    return tiny_run(model, evaluated=True)



def test_stages_record_each_file_with_its_sha_run_and_start_commit(tmp_results, monkeypatch):
    monkeypatch.setattr(io, "git_commit", lambda: "started-on")
    run = _evaluated()
    files = manifest.load("smoke")["files"]
    for name in ("model.pt", "history.nc", "eval.nc"):
        entry = files[f"{run.name}/{name}"]
        assert entry["sha256"] == io.sha256_file(run.dir / name)
        assert entry["run"] == run.as_dict() and entry["commit"] == "started-on"
        assert entry["commit_is"] == manifest.STAGE_START
    model_sha = io.sha256_file(run.dir / "model.pt")
    assert files[f"{run.name}/eval.nc"]["model_sha256"] == model_sha
    assert files[f"{run.name}/history.nc"]["model_sha256"] == model_sha
    data = manifest.load("smoke")["data"]["data_n_samples-60.nc"]
    stored = io.read_netcdf(tmp_results / "smoke" / "data_n_samples-60.nc").attrs["data_sha256"]
    assert data["data_sha256"] == stored
    assert manifest.problems("smoke") == []
    (tmp_results / "smoke" / "data_n_samples-60.nc").write_bytes(b"not netCDF")
    assert "data_n_samples-60.nc: unreadable" in manifest.problems("smoke")[0]


def test_the_book_refuses_an_edited_or_truncated_file_before_any_page(tmp_results, monkeypatch):
    """Before, the book rendered a halved mean residual as real (exit 0)."""
    run = _evaluated()
    pages = []
    monkeypatch.setattr(build.subprocess, "run", lambda *a, **k: pages.append(a))
    ds = io.read_netcdf(run.dir / "eval.nc")
    ds["mean_res"] = ds["mean_res"] / 2
    io.write_netcdf(ds, run.dir / "eval.nc")
    history = run.dir / "history.nc"
    history.write_bytes(history.read_bytes()[:1000])
    with pytest.raises(ValueError) as err:
        build.build("smoke")
    assert not pages, "no page may execute"
    message = str(err.value)
    assert f"{run.dir / 'eval.nc'}: differs from" in message
    assert f"{history}: differs from" in message and "restore it (git checkout)" in message


def test_a_missing_file_is_not_in_yet_and_an_unrecorded_one_is_refused(tmp_results):
    run = _evaluated()
    (run.dir / "eval.nc").unlink()
    assert manifest.problems("smoke") == []
    other = RunId.make("smoke", 6, 1, **TINY)
    other.dir.mkdir()
    (other.dir / "eval.nc").write_bytes((run.dir / "history.nc").read_bytes())
    assert manifest.problems("smoke") == [f"{other.dir / 'eval.nc'}: not in "
                                          f"{manifest.manifest_path('smoke')} (no stage "
                                          "recorded it); rerun its stage"]


def _record_many(root, start):
    import os
    os.environ["DIFFSURR_RESULTS"] = str(root)
    for i in range(start, start + 25):
        path = root / "smoke" / f"f{i}.nc"
        path.write_bytes(b"x")
        manifest.record("smoke", path, "c")


def test_two_processes_recording_at_once_lose_no_entry(tmp_results):
    (tmp_results / "smoke").mkdir()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_record_many, args=(tmp_results, k * 100)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    files = json.loads(manifest.manifest_path("smoke").read_text())["files"]
    assert len(files) == 50


def test_committed_studies_match_their_manifests(monkeypatch):
    monkeypatch.delenv("DIFFSURR_RESULTS", raising=False)
    for profile in ("reference", "pilot"):
        assert manifest.problems(profile) == []
        files = manifest.load(profile)["files"]
        tracked = subprocess.run(["git", "ls-files", f"results/{profile}"], cwd=io.REPO_ROOT,
                                 capture_output=True, text=True, check=True).stdout.split()
        covered = [p for p in tracked if p.rsplit("/", 1)[-1] in
                   (*manifest.RUN_FILES, *manifest.PROFILE_FILES)]
        assert sorted(f"results/{profile}/{k}" for k in files) == sorted(covered)
        assert all(e["commit_is"] == manifest.ADOPTED for e in files.values())


def test_an_eval_of_another_model_is_refused_by_the_loaders(tmp_results):
    """A stale eval.nc (the run was retrained after it) is refused by the book's loaders."""
    from diffsurr import results as result_files
    from diffsurr.profiles import get_profile

    run = _evaluated()
    ds = io.read_netcdf(run.dir / "eval.nc")
    ds.attrs["model_sha256"] = "0" * 64
    io.write_netcdf(ds, run.dir / "eval.nc")
    profile = get_profile("smoke", **TINY)[0]
    with pytest.raises(ValueError, match="eval.nc describes another model .* evaluate the run"):
        result_files.load_evals(profile, [6])
    assert any("eval.nc names model 000000000000" in p for p in manifest.problems("smoke"))
    with xr.open_dataset(run.dir / "history.nc") as h:
        assert h.attrs["model_sha256"] == io.sha256_file(run.dir / "model.pt")
