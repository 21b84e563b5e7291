"""NN1's own learning rate (profile value nn1_lr_scale) and the probe's choice."""

import numpy as np
import pytest
import xarray as xr

import torch

from diffsurr import nn1_probe
from diffsurr.loss import ExpWeightedLoss
from diffsurr.nets import Surrogate
from diffsurr.profiles import PROFILES
from diffsurr.registry import spec
from diffsurr.stages.train import train_config
from diffsurr.train import TrainConfig, make_optimizer, train


def test_nn1_gets_its_own_learning_rate():
    net = Surrogate.from_table2(9, width=0.125, head="relu")
    groups = make_optimizer(net, TrainConfig(lr=1e-3, nn1_lr_scale=0.1)).param_groups
    assert [g["lr"] for g in groups] == [1e-3, pytest.approx(1e-4)]
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in net.nn1.parameters()}
    assert len(make_optimizer(net, TrainConfig(lr=1e-3)).param_groups) == 1


def test_scale_needs_nn1_and_must_be_positive():
    net = Surrogate.from_table2(12, width=0.125, head="relu")     # NN2 only: one group
    assert len(make_optimizer(net, TrainConfig(nn1_lr_scale=0.1)).param_groups) == 1
    with pytest.raises(ValueError, match="nn1_lr_scale"):
        PROFILES["smoke"].replace(nn1_lr_scale=0)
    with pytest.raises(ValueError, match="nn1_lr_scale"):
        TrainConfig(nn1_lr_scale=-1.0)


def test_warmup_trains_nn1_alone_first_then_both():
    """nn1_warmup: NN2 is untouched (no gradient) in the warm-up epochs, then both learn; the
    best model comes from the epochs with both networks."""
    torch.manual_seed(0)
    net = Surrogate.from_table2(9, width=0.125, head="relu")
    x = torch.rand(16, 1, 100, 100)
    y = torch.rand(16, 1, 100, 100)
    nn2_start = {k: v.clone() for k, v in net.nn2.state_dict().items()}
    seen = []

    def after(epoch):
        seen.append((epoch, all(torch.equal(v, nn2_start[k])
                                for k, v in net.nn2.state_dict().items())))
    cfg = TrainConfig(epochs=3, batch_size=8, lr=1e-3, nn1_warmup=2, max_rollbacks=0)
    best, history = train(net, ExpWeightedLoss.from_spec(spec(9)), x, y, x[:4], y[:4], cfg,
                          progress=False, on_epoch_end=after)
    assert seen == [(1, True), (2, True), (3, False)]
    assert history.attrs["best_epoch"] == 3
    assert "nn1_warmup" in cfg.signature() and "nn1_warmup" not in TrainConfig().signature()


def test_nn1_fixes_only_for_models_with_both_networks():
    profile = PROFILES["smoke"].replace(nn1_warmup=1, nn1_lr_scale=0.005)
    assert [train_config(profile, m).nn1_warmup for m in (9, 6, 12)] == [1, 0, 0]
    assert [train_config(profile, m).nn1_lr_scale for m in (9, 6, 12)] == [0.005, 1.0, 1.0]
    with pytest.raises(ValueError, match="nn1_warmup is for models with both"):
        train(Surrogate.from_table2(6), None, *[torch.zeros(2, 1, 8, 8)] * 4,
              TrainConfig(epochs=2, nn1_warmup=1), progress=False)
    with pytest.raises(ValueError, match="nn1_warmup .* must be fewer than"):
        TrainConfig(epochs=2, nn1_warmup=2)
    with pytest.raises(ValueError, match="nn1_warmup"):
        profile.replace(nn1_warmup=-1)


def _history(alive, val):
    n = len(val)
    return xr.Dataset({"alive_nn1": ("step", np.asarray(alive, float)),
                       "val_loss": ("step", np.asarray(val, float)),
                       "kept": ("step", np.ones(n, np.int8))})


def test_choice_needs_nn1_alive_at_every_epoch_then_lowest_relative_val_loss():
    controls = {m: _history([0, 0, 0], [2.0, 2.0, 2.0]) for m in nn1_probe.MODELS}
    fast, slow, leaky = list(nn1_probe.VARIANTS)[:3]
    runs = {label: [nn1_probe.RUNS[(label, m)] for m in nn1_probe.MODELS]
            for label in nn1_probe.VARIANTS}
    working = _history([0.2, 0.3, 0.9], [1.0] * 3)       # threshold 0.5 × 0.2 = 0.1
    assert nn1_probe.alive_threshold(working) == pytest.approx(0.1)
    hist = {r: _history([0.5, 0.05, 0.5], [1.0] * 3) for r in runs[fast]}
    hist.update({r: _history([0.1, 0.6, 0.7], [1.8] * 3) for r in runs[slow]})
    assessed = nn1_probe.assess(hist, controls, working)
    assert leaky not in assessed                     # its runs are not in
    assert not assessed[fast]["alive"] and assessed[slow]["alive"]
    assert assessed[slow]["val_ratio"] == pytest.approx(0.9)
    assert (assessed[slow]["min_alive"], assessed[slow]["last_alive"]) == (0.1, 0.7)
    assert nn1_probe.choose(assessed) == slow
    hist.update({r: _history([0.5] * 3, [1.0] * 3) for r in runs[leaky]})
    assert nn1_probe.choose(nn1_probe.assess(hist, controls, working)) == leaky
    assert nn1_probe.choose({}) is None


def test_the_leaky_head_keeps_table1s_layers_and_parameters():
    from diffsurr.nets import NN1, count_parameters
    table1, leaky = NN1(0.4, 0.4), NN1(0.4, 0.4, head="leaky")
    assert count_parameters(leaky) == count_parameters(table1) == 3075
    def kinds(net):
        return [type(m).__name__ for m in net.layers]
    assert kinds(leaky)[:-3] == kinds(table1)[:-3]
    assert kinds(leaky)[-3:] == ["LeakyReLU", "Dropout", "BatchNorm2d"]


def test_the_probe_targets_name_each_runs_files_and_refuse_another_profile(capsys):
    """The short probe's histories; the longer probe's history and its evaluation at each of
    the convergence profile's milestones and at the end (``make nn1-probe``)."""
    short = nn1_probe.targets("probe")
    assert len(short) == len(nn1_probe.RUNS) and all(t.endswith("/history.nc") for t in short)
    assert "results/probe/model_09_nn1_head-leaky/history.nc" in short
    long = nn1_probe.targets("convergence")
    assert long[:4] == [f"results/convergence/model_09_nn1_head-relu/{n}"
                        for n in ("history.nc", "eval-008.nc", "eval-016.nc", "eval.nc")]
    assert nn1_probe.main(["reference"]) == 2
    assert "trains in profiles 'probe' and 'convergence', not 'reference'" in (
        capsys.readouterr().err)
