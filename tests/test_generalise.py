"""The per-run generalisation stage: one run's generalise.nc with the model.pt it used, nothing
done twice, no model of another run and no stale file (smoke profile, tiny runs)."""

import shutil

import numpy as np
import pytest
import xarray as xr

from diffsurr import io, params
from diffsurr.stages import data as stage_data, train as stage_train
from diffsurr.stages.generalise import LAYOUTS, generalise_stage
from diffsurr.study import generalise_path
from diffsurr.runid import RunId

TINY = {"n_samples": 60, "epochs": 1}
N = 4          # samples per layout


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny trained runs (model 6 and model 6 with seed 1) in a temporary results root."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIFFSURR_RESULTS", str(tmp_path_factory.mktemp("results")))
        runs = [RunId.make("smoke", 6, seed, **TINY) for seed in (None, 1)]
        stage_data.data_stage(runs[0].config())
        for run in runs:
            stage_train.train_stage(run, progress=False)
        yield runs


def _fresh(run):
    generalise_path(run).unlink(missing_ok=True)
    (run.dir / "eval.nc").unlink(missing_ok=True)


def test_writes_the_runs_file_with_its_model_and_provenance(trained, capsys):
    run = trained[0]
    _fresh(run)
    ds = generalise_stage(run, n=N)
    path = generalise_path(run)
    assert path == run.dir / "generalise.nc" and path.exists()
    on_disk = io.read_netcdf(path)
    assert list(on_disk["model"].values) == [6]
    assert [str(v) for v in on_disk["layout"].values] == list(LAYOUTS)
    for var in ("mean_res", "p99_res", "max_res", "mean_nrmse", "rms_pde_all"):
        assert on_disk[var].dims == ("model", "layout") and np.isfinite(on_disk[var]).all(), var
    assert on_disk["example_pred"].dims == ("model", "layout", "example", "y", "x")
    assert on_disk["example_input"].dims == ("layout", "example", "y", "x")
    attrs = on_disk.attrs
    assert attrs["model_sha256"] == io.sha256_file(run.dir / "model.pt")
    saved = io.load_checkpoint(run.dir / "model.pt")
    assert attrs["data_sha256"] == saved["identity"]["data_sha256"]
    assert attrs["run_name"] == run.name and attrs["n_per_layout"] == N
    for key in ("git_commit", "started", "created", "versions", "layouts_sha256",
                "wall_time_s", "profile_name"):
        assert key in attrs, key
    assert float(ds["mean_res"].sel(model=6, layout="training")) == pytest.approx(
        float(on_disk["mean_res"].sel(model=6, layout="training")))


def test_rerun_for_the_same_model_does_nothing_unless_forced(trained, capsys):
    run = trained[0]
    _fresh(run)
    generalise_stage(run, n=N)
    before = generalise_path(run).stat().st_mtime_ns
    capsys.readouterr()
    generalise_stage(run, n=N)
    assert "nothing to do" in capsys.readouterr().out
    assert generalise_path(run).stat().st_mtime_ns == before
    generalise_stage(run, n=N, force="yes")
    assert generalise_path(run).stat().st_mtime_ns != before
    with pytest.raises(ValueError, match="force must be a boolean"):
        generalise_stage(run, n=N, force="maybe")


def test_a_file_of_an_earlier_model_is_computed_again(trained, capsys):
    run = trained[0]
    _fresh(run)
    ds = generalise_stage(run, n=N)
    stale = ds.assign_attrs(model_sha256="0" * 64)
    io.write_netcdf(stale, generalise_path(run))
    capsys.readouterr()
    generalise_stage(run, n=N)
    assert "computing it again" in capsys.readouterr().out
    assert io.read_netcdf(generalise_path(run)).attrs["model_sha256"] == \
        io.sha256_file(run.dir / "model.pt")


def test_the_same_test_sets_for_every_run(trained):
    a, b = (generalise_stage(run, n=N, force=True) for run in trained)
    assert a.attrs["layouts_sha256"] == b.attrs["layouts_sha256"]
    np.testing.assert_array_equal(a["example_target"], b["example_target"])
    assert a.attrs["model_sha256"] != b.attrs["model_sha256"]


def test_a_model_of_another_run_is_refused_before_compute(trained, tmp_path):
    a = trained[0]
    other = RunId.make("smoke", 6, 2, **TINY)
    other.dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(a.dir / "model.pt", other.dir / "model.pt")
    with pytest.raises(ValueError, match="belongs to another run"):
        generalise_stage(other, n=N)
    assert not generalise_path(other).exists()
    shutil.rmtree(other.dir)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        generalise_stage(other, n=N)


def test_an_eval_of_another_model_is_refused(trained):
    """eval.nc describes the model the book shows; a generalise.nc of another model.pt would
    not match it (train_stage removes eval.nc on retrain, so this is a replaced model.pt)."""
    run = trained[0]
    _fresh(run)
    xr.Dataset(attrs={"model_sha256": "f" * 64}).to_netcdf(run.dir / "eval.nc")
    try:
        with pytest.raises(ValueError, match="evaluate it again"):
            generalise_stage(run, n=N)
        assert not generalise_path(run).exists()
        xr.Dataset(attrs={"model_sha256": io.sha256_file(run.dir / "model.pt")}).to_netcdf(
            run.dir / "eval.nc")
        generalise_stage(run, n=N)
        assert generalise_path(run).exists()
    finally:
        _fresh(run)


def test_notebook_parameters_name_one_run():
    ns = {"profile": "smoke", "model": None, "seed": None, "run": "model_09_rollback-none",
          "force": "yes", "device": "cpu"}
    run, execution, flags = params.run_params(ns, "generalise")
    assert run == RunId.make("smoke", 9, rollback="none")
    assert flags == {"force": True} and execution == {"device": "cpu"}
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['models'\]"):
        params.run_params({**ns, "models": "1,2"}, "generalise")
    with pytest.raises(ValueError, match="needs model"):
        params.run_params({"profile": "smoke"}, "generalise")
