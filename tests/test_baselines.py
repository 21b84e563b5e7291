"""Baselines beyond the preprint: the U-Net and the FNO in the surrogate interface,
chosen by the profile's ``arch``, trained by the study's own trainer."""

import sys

import numpy as np
import pytest
import torch

from diffsurr import io
from diffsurr.baselines import Baseline, UNet, fno, require
from diffsurr.choices import ARCHS
from diffsurr.loss import ExpWeightedLoss
from diffsurr.nets import count_parameters, saved_config
from diffsurr.profiles import PROFILES, get_profile
from diffsurr.rollback import RollbackRule
from diffsurr.runid import RunId
from diffsurr.stages import data as stage_data
from diffsurr.stages.baselines import baselines_stage
from diffsurr.stages.train import train_stage
from diffsurr.study import (baseline_runs, baselines_path, build_model, compared_runs,
                            generalised_runs, study_runs)
from diffsurr.train import TrainConfig, make_optimizer, train


def test_unet_keeps_the_grid_and_is_non_negative():
    net = UNet().eval()
    with torch.no_grad():
        y = net(torch.rand(2, 1, 100, 100) - 0.5)
    assert y.shape == (2, 1, 100, 100) and (y >= 0).all()
    assert count_parameters(UNet()) == 29_641
    assert count_parameters(UNet((32, 64, 128))) == 467_233
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.rand(1, 1, 50, 50))


def test_a_baseline_is_one_network_in_the_surrogate_interface():
    net = Baseline("unet", 12).eval()
    x = torch.rand(3, 1, 100, 100)
    with torch.no_grad():
        y1, y2 = net.parts(x)
        assert y1 is None and torch.equal(net.combine(y1, y2), net(x))
    assert net.config == {"model": 12, "arch": "unet", "parameters": 29_641}
    assert saved_config(net.config) == net.config
    for bad in ("table1", "resnet"):
        with pytest.raises(ValueError, match="baseline arch is one of"):
            Baseline(bad, 12)


def test_the_profile_chooses_the_network_and_names_the_run():
    run = RunId.make("reference", 12, arch="unet")
    assert run.name == "model_12_arch-unet" and RunId.parse("reference", run.name) == run
    assert isinstance(build_model(run.config(), 12), Baseline)
    assert not isinstance(build_model(PROFILES["reference"], 12), Baseline)
    assert ARCHS[0] == PROFILES["reference"].arch == "table1"
    with pytest.raises(ValueError, match="arch must be one of"):
        PROFILES["reference"].replace(arch="resnet")


def test_the_unet_trains_with_the_studys_trainer():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(24, 1, 16, 16, generator=g) > 0.9).float()
    y = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1)
    torch.manual_seed(0)
    net = Baseline("unet", 12)
    cfg = TrainConfig(epochs=3, batch_size=8, lr=1e-3, rollback=RollbackRule("none"))
    _, history = train(net, ExpWeightedLoss(1.0, 1), x[:16], y[:16], x[16:], y[16:], cfg,
                       progress=False)
    loss = history["train_loss"].values
    assert np.isfinite(loss).all() and loss[-1] < loss[0]
    assert make_optimizer(net, cfg).defaults["fused"]


def test_the_fno_comes_from_neuraloperator_trains_and_saves(tmp_path):
    pytest.importorskip("neuralop")
    net = Baseline("fno", 9).eval()
    with torch.no_grad():
        assert net(torch.rand(2, 1, 100, 100)).shape == (2, 1, 100, 100)
    assert net.config["arch"] == "fno" and net.config["parameters"] > 0
    assert not make_optimizer(net, TrainConfig()).defaults["fused"]     # complex weights
    x = (torch.rand(12, 1, 40, 40) > 0.95).float()
    cfg = TrainConfig(epochs=1, batch_size=4, lr=1e-3, rollback=RollbackRule("none"))
    _, history = train(net, ExpWeightedLoss(1.0, 1), x[:8], x[:8], x[8:], x[8:], cfg,
                       progress=False)
    assert np.isfinite(history["train_loss"].values).all()
    # its weights survive a weights_only checkpoint (neuraloperator's _metadata is dropped)
    io.save_checkpoint({"state": net.state_dict()}, tmp_path / "model.pt")
    again = Baseline("fno", 9)
    again.load_state_dict(io.load_checkpoint(tmp_path / "model.pt")["state"])
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(),
                                                 again.state_dict().values()))


def test_without_neuraloperator_the_fno_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "neuralop", None)
    monkeypatch.setitem(sys.modules, "neuralop.models", None)
    for call in (fno, lambda: require(["unet", "fno"])):
        with pytest.raises(ImportError, match=r"pip install -e '\.\[fno\]'"):
            call()
    require(["unet"])


def test_a_study_trains_its_baselines_with_model_12s_loss_and_their_share_of_epochs():
    p = PROFILES["reference"]
    names = [run.name for run in baseline_runs(p)]
    assert names == ["model_12_arch-unet", "model_12_epochs-4_arch-fno",
                     "model_12_seed1_arch-unet", "model_12_seed2_arch-unet"]
    assert [run.name for run in study_runs(p)][-4:] == names
    assert [run.name for run in generalised_runs(p)][-3:] == ["model_14", *names[:2]]
    assert [run.config().epochs for run in baseline_runs(p)] == [8, 4, 8, 8]
    assert [run.name for run in baseline_runs(p.replace(baselines="fno"))] == [
        "model_12_epochs-4_arch-fno", "model_12_seed1_epochs-4_arch-fno",
        "model_12_seed2_epochs-4_arch-fno"]
    assert baseline_runs(p.replace(baselines="")) == []
    for bad in ("unet,unet", "resnet", "table1", "unet;fno"):
        with pytest.raises(ValueError, match="baselines must be"):
            p.replace(baselines=bad)


def test_the_baselines_stage_times_every_compared_run_side_by_side(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    p = get_profile("smoke")[0].replace(n_samples=60, epochs=1, baselines="unet")
    with pytest.raises(ValueError, match="trains no baselines"):
        baselines_stage(p.replace(baselines=""))
    stage_data.data_stage(p)
    with pytest.raises(FileNotFoundError,
                       match="train these runs first.*model_12_n_samples-60_epochs-1_arch-unet"):
        baselines_stage(p)
    assert not baselines_path(p).exists()
    for run in compared_runs(p):
        train_stage(run, progress=False)
    ds = baselines_stage(p, steps=1, min_s=0.01)
    on_disk = io.read_netcdf(baselines_path(p))
    names = [run.name for run in compared_runs(p)]
    assert list(on_disk["run"].values) == names and names[2].endswith("_arch-unet")
    assert list(on_disk["model"].values) == [9, 12, 12]
    assert list(on_disk["arch"].values) == ["table1", "table1", "unet"]
    assert int(on_disk["parameters"][2]) == count_parameters(UNet())
    assert (on_disk["infer_s"] > 0).all() and (on_disk["train_step_s"] > 0).all()
    assert on_disk.attrs["device_name"] and on_disk.attrs["git_commit"]
    assert on_disk.attrs["profile_baselines"] == "unet"
    assert ds["model_sha256"].values[2] == io.sha256_file(compared_runs(p)[2].dir / "model.pt")
