"""The stages never run, evaluate or overwrite the wrong thing: data, checkpoint and model
identity, retrain, unwritable folders, leftovers of killed writes (smoke profile, tiny runs)."""

import errno
import json
import os
import shutil

import numpy as np
import pytest
import torch
import xarray as xr

from diffsurr import data, io
from diffsurr import results as result_files
from diffsurr.stages import data as stage_data, evaluate, train as stage_train
from diffsurr.runid import RunId, data_path

TINY = {"n_samples": 60, "epochs": 1}


@pytest.fixture()
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    return tmp_path


def _trained(model=6, seed=None, **values):
    run = RunId.make("smoke", model, seed, **{**TINY, **values})
    stage_data.data_stage(run.config())
    stage_train.train_stage(run, progress=False)
    return run


def test_data_files_are_named_by_their_values_and_checked(results):
    run = RunId.make("smoke", 6, **TINY)
    path = stage_data.data_stage(run.config())
    assert path == data_path(run.config()) and path.name == "data_n_samples-60.nc"
    ds = io.read_netcdf(path)
    assert ds.attrs["data_sha256"] == result_files.checksum(ds)
    # a file whose stored values differ from the run's is refused, naming both values
    other = RunId.make("smoke", 6, mode="production", **TINY).config()
    shutil.copy(path, data_path(other))
    with pytest.raises(ValueError, match=r"data_n_samples-60_mode-production.nc was made with"):
        result_files.load_split(other)
    with pytest.raises(ValueError,
                       match="profile_mode = 'clamped' in the file, 'production' in this run"):
        stage_data.data_stage(other)


def test_non_finite_data_and_a_missing_split_are_refused_before_training(results, monkeypatch):
    run = RunId.make("smoke", 6, **TINY)
    path = stage_data.data_stage(run.config())
    ds = io.read_netcdf(path)
    ds["target"][0, 0, 0] = np.nan
    io.write_netcdf(ds, path)
    monkeypatch.setattr(stage_train, "train", lambda *a, **k: pytest.fail("trained on bad data"))
    with pytest.raises(ValueError, match="'target' holds non-finite values"):
        stage_train.train_stage(run, progress=False)
    io.write_netcdf(ds.drop_vars("split"), path)
    with pytest.raises(ValueError, match=r"data_n_samples-60.nc lacks variables \['split'\]"):
        stage_train.train_stage(run, progress=False)


def test_a_model_of_another_run_is_refused_with_both_identities(results):
    a = _trained()
    b = RunId.make("smoke", 6, 1, **TINY)
    b.dir.mkdir(parents=True)
    for name in ("model.pt", "history.nc"):
        shutil.copy(a.dir / name, b.dir / name)
    with pytest.raises(ValueError, match=r"belongs to another run: it holds .*'seed': 0.*"
                                         r"this run is .*'seed': 1"):
        stage_train.train_stage(b, progress=False)
    with pytest.raises(ValueError, match="belongs to another run"):
        evaluate.evaluate_stage(b)
    assert not (b.dir / "eval.nc").exists()


def test_a_model_trained_on_other_data_is_not_evaluated(results):
    run = _trained()
    ds = io.read_netcdf(data_path(run.config()))
    ds["target"][:] = ds["target"] * 0.5
    ds.attrs["data_sha256"] = result_files.checksum(ds)
    io.write_netcdf(ds, data_path(run.config()))
    with pytest.raises(ValueError, match="was trained on data with checksum"):
        evaluate.evaluate_stage(run)


def test_already_trained_is_checked_not_assumed(results):
    run = _trained()
    (run.dir / "history.nc").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="history.nc is not a readable netCDF"):
        stage_train.train_stage(run, progress=False)


class Killed(Exception):
    pass


def test_retrain_keeps_the_old_model_until_the_new_one_is_complete(results, monkeypatch):
    run = _trained()
    evaluate.evaluate_stage(run)
    before = {n: (run.dir / n).read_bytes() for n in ("model.pt", "history.nc", "eval.nc")}
    real_train = stage_train.train

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(stage_train, "train", killed)
    with pytest.raises(Killed):
        stage_train.train_stage(run, retrain="yes", progress=False)
    assert {n: (run.dir / n).read_bytes() for n in before} == before
    monkeypatch.setattr(stage_train, "train", real_train)
    stage_train.train_stage(run, retrain=True, progress=False)
    assert (run.dir / "model.pt").read_bytes() != before["model.pt"]
    assert not (run.dir / "eval.nc").exists(), "the old model's eval.nc must go with it"


@pytest.mark.parametrize("flag", ["no", "False", "0", False])
def test_retrain_no_means_no(results, flag):
    run = _trained()
    mtime = (run.dir / "model.pt").stat().st_mtime_ns
    stage_train.train_stage(run, retrain=flag, progress=False)
    assert (run.dir / "model.pt").stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match="retrain must be a boolean"):
        stage_train.train_stage(run, retrain="maybe", progress=False)


def test_unwritable_results_fail_before_any_compute(results, monkeypatch):
    run = RunId.make("smoke", 6, **TINY)
    stage_data.data_stage(run.config())

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(io.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(stage_train, "load_split", lambda *a: pytest.fail("computed first"))
    with pytest.raises(PermissionError, match=f"results folder {run.dir} is not writable"):
        stage_train.train_stage(run, progress=False)


def test_leftovers_of_killed_writes_are_removed(results):
    run = RunId.make("smoke", 6, **TINY)
    run.dir.mkdir(parents=True)
    stale = [run.dir / ".checkpoint.pt.abc123.tmp", run.dir / ".model.pt.x.tmp"]
    for p in stale:
        p.write_bytes(b"half a checkpoint")
    stage_data.data_stage(run.config())
    stage_train.train_stage(run, progress=False)
    assert not any(p.exists() for p in stale)


def test_disk_full_names_the_file(tmp_path, monkeypatch):
    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "replace", full)
    with pytest.raises(OSError,
                       match=r"writing .*x.nc failed: no space left on device: needs about"):
        io.write_netcdf(xr.Dataset({"a": ("s", np.zeros(3))}), tmp_path / "x.nc")
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_bad_devices_are_refused_before_compute(results):
    run = RunId.make("smoke", 6, **TINY)
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        stage_train.train_stage(run, device="gpu")
    import torch
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            stage_train.train_stage(run, device="cuda")


def test_stages_record_the_commit_they_started_on(results, monkeypatch):
    """A commit made while a stage runs must not be recorded as the code it ran."""
    head = {"commit": "started-on"}
    monkeypatch.setattr(io, "git_commit", lambda: head["commit"])

    def commit_meanwhile(stage_step):
        def step(*args, **kwargs):
            head["commit"] = "checked-out-later"
            return stage_step(*args, **kwargs)
        return step

    monkeypatch.setattr(data, "draw_inputs", commit_meanwhile(data.draw_inputs))
    monkeypatch.setattr(stage_train, "train", commit_meanwhile(stage_train.train))
    monkeypatch.setattr(evaluate, "predict", commit_meanwhile(evaluate.predict))
    run = RunId.make("smoke", 6, **TINY)
    stage_data.data_stage(run.config())
    head["commit"] = "started-on"
    stage_train.train_stage(run, progress=False)
    assert io.read_netcdf(data_path(run.config())).attrs["git_commit"] == "started-on"
    head["commit"] = "started-on"
    history = io.read_netcdf(run.dir / "history.nc")
    assert history.attrs["git_commit"] == "started-on"
    assert history.attrs["peak_rss_bytes"] > 10e6 and history.attrs["torch_threads"] >= 1
    assert len(json.loads(history.attrs["load_average_start"])) == 3
    assert evaluate.evaluate_stage(run).attrs["git_commit"] == "started-on"


def test_milestones_are_written_and_evaluated_each_from_its_own_weights(results, monkeypatch):
    from diffsurr.profiles import PROFILES
    monkeypatch.setitem(PROFILES, "smoke", PROFILES["smoke"].replace(milestones=(1, 2)))
    run = _trained(epochs=2)
    assert (run.dir / "milestone-001.pt").exists() and (run.dir / "milestone-002.pt").exists()
    first = evaluate.evaluate_stage(run, milestone=1)
    assert (run.dir / "eval-001.nc").exists() and not (run.dir / "eval.nc").exists()
    assert first.attrs["milestone"] == 1
    assert first.attrs["model_sha256"] == io.sha256_file(run.dir / "milestone-001.pt")
    with pytest.raises(ValueError, match="not one of profile 'smoke'"):
        evaluate.evaluate_stage(run, milestone=3)


def test_a_milestone_is_kept_while_its_run_trains_on(results, monkeypatch):
    """Each milestone's history so far is written, in the manifest, as the run reaches it,
    and the milestone can be evaluated while the run still trains (no run lock); the
    finished training keeps that evaluation, drops one of an earlier training's milestone
    and the milestone histories (history.nc holds them)."""
    from diffsurr import manifest
    from diffsurr.profiles import PROFILES
    monkeypatch.setitem(PROFILES, "smoke", PROFILES["smoke"].replace(milestones=(1, 2)))
    run = _trained(epochs=2)
    evaluate.evaluate_stage(run, milestone=2)           # of the first training's weights
    seen, record = {}, manifest.record

    def spy(profile, path, *args, **kwargs):
        record(profile, path, *args, **kwargs)
        if path.name == "history-001.nc":               # the retrain is at its milestone 1
            seen["history"] = io.read_netcdf(path)
            seen["listed"] = str(manifest.result_files(profile))
            seen["eval"] = evaluate.evaluate_stage(run, milestone=1)   # the lock is held
    monkeypatch.setattr(manifest, "record", spy)
    stage_train.train_stage(run, retrain=True, progress=False)
    early = seen["history"]
    assert early.attrs["n_epochs"] == 1 and early.attrs["stopped"] == "running"
    assert "history-001.nc" in seen["listed"]
    assert early.attrs["model_sha256"] == seen["eval"].attrs["model_sha256"] == io.sha256_file(
        run.dir / "milestone-001.pt")
    assert (run.dir / "eval-001.nc").exists() and not (run.dir / "eval-002.nc").exists()
    assert not list(run.dir.glob("history-*.nc"))
    monkeypatch.undo()
    monkeypatch.setenv("DIFFSURR_RESULTS", str(results))
    manifest.verify("smoke")


def test_a_training_without_its_data_makes_it_first_as_the_data_stage(results, monkeypatch,
                                                                      capsys, tmp_path_factory):
    """It trains nothing here: training is stopped where it would begin."""
    run = RunId.make("smoke", 6, **TINY)
    path = data_path(run.config())

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(stage_train, "train", stop)
    with pytest.raises(KeyboardInterrupt):
        stage_train.train_stage(run, progress=False)
    out = capsys.readouterr().out
    said = out.index(f"{path} is missing: the train stage first makes it as the data stage "
                     "would (notebooks/data.ipynb): 60 samples from data seed 0, about ")
    assert out.index("estimated training time on cpu: about ") < said
    made = io.read_netcdf(path).attrs["data_sha256"]
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path_factory.mktemp("other")))
    assert io.read_netcdf(stage_data.data_stage(run.config())).attrs["data_sha256"] == made


def test_the_training_estimate_says_how_it_is_made_and_warns_over_an_hour(monkeypatch):
    from diffsurr.profiles import get_profile

    paper = get_profile("paper", device="cpu")[0]
    seconds, text = stage_train.training_estimate(paper, 9)
    assert seconds > 7 * 86400 and "over an hour" in text
    assert "800 epochs × 16,000 samples × about 139 ms, the reference runs' time" in text
    seconds, text = stage_train.training_estimate(get_profile("ci", device="cpu")[0], 9)
    assert seconds < 3600 and "over an hour" not in text
    monkeypatch.setattr(stage_train.torch.cuda, "is_available", lambda: True)
    seconds, text = stage_train.training_estimate(get_profile("paper", device="cuda")[0], 9)
    assert seconds == pytest.approx(12 * 3600) and "on cuda" in text and "preprint's" in text


def test_a_learning_rate_that_gives_nan_fails_fast_with_advice(results):
    """Smoke scale, the smallest model: before, 200 roll-backs took 533 s; now well under a
    minute on a quiet machine (61 s once under a load of 4 on 2 cores, hence the bound)."""
    import time

    run = RunId.make("smoke", 6, lr=1e300)
    stage_data.data_stage(run.config())
    t0 = time.perf_counter()
    with pytest.raises(FloatingPointError, match=r"lr = 1e\+300 is likely too large; lower it"):
        stage_train.train_stage(run, progress=False)
    assert time.perf_counter() - t0 < 180
    assert not (run.dir / "model.pt").exists()


def test_a_share_of_the_training_part_is_nested_and_leaves_val_and_test_alone(tmp_results):
    """train_fraction (the datasize profile): the first share of the drawn training part."""
    profile = RunId.make("smoke", 12, n_samples=60).config()
    stage_data.data_stage(profile)
    whole, _ = result_files.load_split(profile)
    for f in (0.5, 0.25):
        part, _ = result_files.load_split(profile.replace(train_fraction=f))
        n = int(np.ceil(f * len(whole["train"][0])))
        assert len(part["train"][0]) == n
        assert torch.equal(part["train"][0], whole["train"][0][:n])
        assert all(torch.equal(part[s][0], whole[s][0]) for s in ("val", "test"))


def test_an_evaluation_refuses_missing_weights_first_and_makes_missing_data(results, capsys,
                                                                            monkeypatch):
    """The weights are checked before the data set is made; then a missing data set is made
    as the data stage would, with the same checksum the run was trained on."""
    from diffsurr.profiles import PROFILES
    monkeypatch.setitem(PROFILES, "smoke", PROFILES["smoke"].replace(milestones=(1,)))
    run = RunId.make("smoke", 6, **TINY)
    path = data_path(run.config())
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at .*model\.pt: the train stage"):
        evaluate.evaluate_stage(run)
    with pytest.raises(FileNotFoundError, match=r"milestone-001\.pt: the train stage .*not "
                                                r"committed, so only a run trained here"):
        evaluate.evaluate_stage(run, milestone=1)
    assert not path.exists()
    _trained()
    trained_on = io.read_netcdf(path).attrs["data_sha256"]
    path.unlink()
    capsys.readouterr()
    ds = evaluate.evaluate_stage(run)
    assert (f"{path} is missing: the evaluate stage first makes it as the data stage would"
            in capsys.readouterr().out)
    assert ds.attrs["data_sha256"] == trained_on
