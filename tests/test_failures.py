"""Failures that say what happened and to which file: a full disk, a model.pt of another shape,
seeds torch cannot take, a resume with other execution settings, values the fast solver
cannot handle."""

import builtins
import errno
import os

import numpy as np
import pytest
import torch
import xarray as xr

from diffsurr import io, solver
from diffsurr.runid import RunId, identity_diff
from diffsurr.stages import data as stage_data, evaluate, train as stage_train

TINY = {"n_samples": 60, "epochs": 1}


@pytest.fixture()
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    return tmp_path


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_names_the_file_and_its_size_and_leaves_nothing(tmp_path, monkeypatch):
    """Before: torch's "unexpected pos 5227456 vs 5227344", naming no file."""
    real_open = builtins.open

    def open_full(path, mode="r", *a, **k):
        f = real_open(path, mode, *a, **k)
        if "w" in mode and str(path).endswith(".tmp"):
            f.write = _no_space
        return f

    monkeypatch.setattr(builtins, "open", open_full)
    state = {"w": torch.zeros(1000, 1000)}
    with pytest.raises(OSError, match=rf"writing {tmp_path / 'model.pt'} failed: no space left "
                                      r"on device: needs about 4.0 MB, \d+ MB free in "):
        io.save_checkpoint(state, tmp_path / "model.pt")
    assert os.listdir(tmp_path) == []


def test_a_full_disk_that_netcdf_reports_as_an_hdf_error_is_named_so(tmp_path, monkeypatch):
    """Before: "NetCDF: HDF error", naming no file."""
    def hdf_error(self, path, *a, **k):
        open(path, "wb").write(b"half")
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", hdf_error)
    monkeypatch.setattr(io, "_free_bytes", lambda folder: 1000)
    ds = xr.Dataset({"a": ("s", np.zeros(500_000))})
    with pytest.raises(OSError, match=rf"writing {tmp_path / 'eval.nc'} failed: no space left on "
                                      r"device: needs about 4.0 MB, 0.1 MB free"):
        io.write_netcdf(ds, tmp_path / "eval.nc")
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(io, "_free_bytes", lambda folder: 10**12)
    with pytest.raises(RuntimeError, match=rf"writing {tmp_path / 'eval.nc'} failed: NetCDF: HDF"):
        io.write_netcdf(ds, tmp_path / "eval.nc")


def test_a_model_of_another_shape_names_the_file(results):
    """Before: torch's "size mismatch", naming no file."""
    run = RunId.make("smoke", 6, **TINY)
    stage_data.data_stage(run.config())
    stage_train.train_stage(run, progress=False)
    saved = io.load_checkpoint(run.dir / "model.pt")
    key = next(iter(saved["state"]))
    saved["state"][key] = torch.zeros(3, 3, 3)
    io.save_checkpoint(saved, run.dir / "model.pt")
    (run.dir / "history.nc").unlink()            # else the model's SHA-256 is refused first
    with pytest.raises(ValueError, match=rf"{run.dir / 'model.pt'}: its tensors do not fit the "
                                         r"network of smoke/model_06.*retrain=True"):
        evaluate.evaluate_stage(run)


@pytest.mark.parametrize("seed", [2**64, 2**70, -1])
def test_seeds_outside_torchs_range_are_refused_before_any_folder(results, seed):
    """Before: "Overflow when unpacking long long" and an empty run folder."""
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0 and < 2\*\*64"):
        RunId.make("smoke", 6, seed, **TINY)
    assert list(results.iterdir()) == []
    assert RunId.make("smoke", 6, 2**64 - 1).seed == 2**64 - 1


def test_a_resume_ignores_execution_settings_and_names_only_differing_keys():
    """Before: another channels_last was refused in a 1,656-character dump of both identities."""
    stored = {"run": {"seed": 0}, "train": {"lr": 1e-3, "channels_last": True, "epochs": 5}}
    assert identity_diff(stored, {"run": {"seed": 0}, "train": {"lr": 1e-3, "epochs": 5}}) == []
    differ = identity_diff(stored, {"run": {"seed": 0}, "train": {"lr": 1e-4, "epochs": 5,
                                                                   "channels_last": False}})
    assert differ == ["train.lr: 0.001 stored, 0.0001 here"]


def test_a_training_resumes_with_another_channels_last(tmp_path):
    from diffsurr.loss import ExpWeightedLoss
    from diffsurr.nets import NN1, Surrogate
    from diffsurr.train import TrainConfig, train

    g = torch.Generator().manual_seed(0)
    x = (torch.rand(30, 1, 12, 12, generator=g) > 0.9).float()
    y = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1)

    def model():
        torch.manual_seed(0)
        return Surrogate(NN1(0.1, 0.1), None, 1.0, 0.0, model=6)

    def stop(n):
        raise KeyboardInterrupt

    ckpt = tmp_path / "checkpoint.pt"
    cfg = TrainConfig(epochs=2, batch_size=10, lr=1e-3, checkpoint_every=1, channels_last=True)
    with pytest.raises(KeyboardInterrupt):
        train(model(), ExpWeightedLoss(1.0, 1), x[:20], y[:20], x[20:], y[20:], cfg,
              checkpoint=ckpt, progress=False, on_epoch_end=stop)
    cfg = TrainConfig(epochs=2, batch_size=10, lr=1e-3, checkpoint_every=1, channels_last=False)
    _, hist = train(model(), ExpWeightedLoss(1.0, 1), x[:20], y[:20], x[20:], y[20:], cfg,
                    checkpoint=ckpt, progress=False)
    assert int(hist.kept.sum()) == 2
    cfg = TrainConfig(epochs=2, batch_size=10, lr=1e-2, checkpoint_every=1)
    with pytest.raises(ValueError) as err:
        train(model(), ExpWeightedLoss(1.0, 1), x[:20], y[:20], x[20:], y[20:], cfg,
              checkpoint=ckpt, progress=False)
    assert "(train.lr: 0.001 stored, 0.01 here)" in str(err.value)
    assert len(str(err.value)) < 300


@pytest.mark.parametrize("D, gamma", [(1e-300, 1 / 400), (1.0, 1e300), (1e-300, 1e300)])
def test_the_fast_solver_refuses_ratios_it_cannot_handle_with_the_range(D, gamma):
    """Before: "Singular matrix" (LinAlgError) for values its checks allowed."""
    x = np.zeros((1, 20, 20))
    x[0, 8:11, 8:11] = 1
    with pytest.raises(ValueError, match=r"handles gamma/D in \[0, 1e\+12\].*method='sparse'"):
        solver.solve(x, "clamped", D, gamma)
    assert np.isfinite(solver.solve(x, "clamped", D, gamma, method="sparse")).all()


@pytest.mark.parametrize("D, gamma", [(1e300, 1.0), (1e-200, 1e-200), (1.0, 1e12), (4.0, 0.01)])
def test_the_fast_solver_agrees_with_the_sparse_one_over_its_range(D, gamma):
    x = np.zeros((2, 20, 20))
    x[:, 3:6, 4:7] = 1
    x[1, 12:15, 12:15] = 0.5
    for mode in solver.MODES:
        np.testing.assert_allclose(solver.solve(x, mode, D, gamma),
                                   solver.solve(x, mode, D, gamma, method="sparse"),
                                   rtol=0, atol=1e-12)


def test_complex_sources_are_refused():
    """Before: the imaginary part was dropped without an error."""
    x = np.zeros((20, 20), dtype=complex)
    x[5, 5] = 1 + 1j
    for method in solver.METHODS:
        with pytest.raises(ValueError, match="inputs are complex"):
            solver.solve(x, method=method)
    from diffsurr.solver_torch import solve_torch

    with pytest.raises(ValueError, match="inputs are complex"):
        solve_torch(torch.from_numpy(x))
