"""The stage notebooks through papermill, at the tiny `smoke` profile, in a temporary results
folder: they run from the repository root, refuse bad parameters at once, resume after a kill
and leave no half-finished file behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parent.parent
PAPERMILL = [sys.executable, "-m", "papermill", "--cwd", str(ROOT), "--no-progress-bar",
             "-k", "python3"]


def _papermill(nb, out, env, *params, check=True, **kwargs):
    args = [*PAPERMILL, str(ROOT / "notebooks" / f"{nb}.ipynb"), str(out)]
    for key, value in params:
        args += ["-p", key, str(value)]
    return subprocess.run(args, env=env, capture_output=True, text=True, check=check, cwd=ROOT,
                          **kwargs)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    env = {**os.environ, "DIFFSURR_RESULTS": str(root), "OMP_NUM_THREADS": "2"}
    _papermill("data", root / "data.ipynb", env, ("profile", "smoke"))
    return env


def _root(env):
    return Path(env["DIFFSURR_RESULTS"]) / "smoke"


# The notebooks hand their parameters to diffsurr.params (tests/test_params.py has every case);
# these check the wiring through papermill.
@pytest.mark.parametrize("nb, params, message", [
    ("train", (("model", 15),), "1–14"),
    ("train", (("model", 9), ("epoch", 12)), "unknown parameter(s) ['epoch'] for the train "
                                             "notebook; valid: ['profile', 'model'"),
    ("train", (("model", 9), ("lr", "inf")), "lr must be a finite number > 0, got inf"),
    ("evaluate", (("model", 9), ("epoch", 12)), "unknown parameter(s) ['epoch']"),
    ("data", (("force", "no way"),), "force must be a boolean"),
    ("generalise", (("models", "1,2"),), "unknown parameter(s) ['models']"),
    ("generalise", (("model", 9), ("force", "no way")), "force must be a boolean"),
])
def test_bad_parameters_fail_at_once_with_the_valid_values(env, tmp_path, nb, params, message):
    start = time.perf_counter()
    res = _papermill(nb, tmp_path / "out.ipynb", env, ("profile", "smoke"), *params,
                     check=False)
    assert res.returncode != 0
    assert message in res.stderr + res.stdout
    assert time.perf_counter() - start < 60
    assert sorted(p.name for p in _root(env).iterdir() if not p.name.startswith(".")) == [
        "data.nc", "manifest.json"], "nothing computed"


def test_train_evaluate_and_rerun_does_nothing(env, tmp_path):
    _papermill("train", tmp_path / "t.ipynb", env, ("profile", "smoke"), ("model", 12))
    out = _root(env) / "model_12"
    assert (out / "model.pt").exists() and not (out / "checkpoint.pt").exists()
    hist = xr.open_dataset(out / "history.nc")
    for key in ("git_commit", "versions", "profile_name", "wall_time_s", "profile_epochs"):
        assert key in hist.attrs, key
    assert int(hist.kept.sum()) == 3
    before = (out / "model.pt").stat().st_mtime_ns
    res = _papermill("train", tmp_path / "t2.ipynb", env, ("profile", "smoke"), ("model", 12),
                     ("retrain", "no"))
    assert "already trained" in (tmp_path / "t2.ipynb").read_text()
    assert (out / "model.pt").stat().st_mtime_ns == before
    # a typo'd value names another run: refused, not "already trained" nor a rewrite of eval.nc
    res = _papermill("evaluate", tmp_path / "e0.ipynb", env, ("profile", "smoke"),
                     ("model", 12), ("epochs", 12), check=False)
    assert res.returncode != 0 and "no checkpoint at" in res.stderr + res.stdout
    assert "model_12_epochs-12" in res.stderr + res.stdout
    _papermill("evaluate", tmp_path / "e.ipynb", env, ("profile", "smoke"), ("model", 12))
    ev = xr.open_dataset(out / "eval.nc")
    assert set(ev.set.values) == {"test", "train"} and ev.mean_res.sel(set="test") > 0
    assert ev.attrs["profile_name"] == "smoke" and "git_commit" in ev.attrs


def test_generalise_one_run_and_rerun_does_nothing(env, tmp_path):
    _papermill("train", tmp_path / "t.ipynb", env, ("profile", "smoke"), ("model", 12))
    out = _root(env) / "model_12"
    _papermill("generalise", tmp_path / "g.ipynb", env, ("profile", "smoke"),
               ("run", "model_12"))
    gen = xr.open_dataset(out / "generalise.nc")
    assert list(gen.model.values) == [12] and gen.sizes["layout"] == 7
    assert gen.attrs["run_name"] == "model_12" and len(gen.attrs["model_sha256"]) == 64
    before = (out / "generalise.nc").stat().st_mtime_ns
    _papermill("generalise", tmp_path / "g2.ipynb", env, ("profile", "smoke"), ("model", 12))
    assert "nothing to do" in (tmp_path / "g2.ipynb").read_text()
    assert (out / "generalise.nc").stat().st_mtime_ns == before


def test_killed_training_resumes_and_leaves_no_final_file(env, tmp_path):
    out = _root(env) / "model_05_epochs-6"
    args = [*PAPERMILL, str(ROOT / "notebooks" / "train.ipynb"), str(tmp_path / "k.ipynb"),
            "-p", "profile", "smoke", "-p", "model", "5", "-p", "epochs", "6"]
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert (out / "checkpoint.pt").exists(), "no checkpoint written"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "model.pt").exists() and not (out / "history.nc").exists()
    _papermill("train", tmp_path / "k2.ipynb", env, ("profile", "smoke"), ("model", 5),
               ("epochs", 6))
    hist = xr.open_dataset(out / "history.nc")
    assert int(hist.kept.sum()) == 6 and (out / "model.pt").exists()


def _snakemake_dry_run(target):
    return subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-n", "-p", "--cores",
                           "1", "--config", "profile=smoke", "--", target],
                          capture_output=True, text=True, cwd=ROOT,
                          env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
                          | {"PATH": "/usr/bin:/bin"})


def test_snakemake_targets_are_parsed_by_the_run_identity():
    res = _snakemake_dry_run("results/smoke/model_02_width-0.5/eval.nc")
    assert res.returncode == 0, res.stderr
    assert "-m papermill" in res.stdout and "-p run model_02_width-0.5" in res.stdout
    res = _snakemake_dry_run("results/smoke/model_02_width-0.5/generalise.nc")
    assert res.returncode == 0, res.stderr
    assert ("notebooks/generalise.ipynb results/smoke/notebooks/generalise_model_02_width-0.5"
            ".ipynb") in res.stdout and "-p run model_02_width-0.5" in res.stdout
    res = _snakemake_dry_run("results/smoke/model_09_seed-1/eval.nc")
    assert res.returncode != 0 and "cannot read it as _key-value pairs" in res.stdout + res.stderr
