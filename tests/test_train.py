"""The roll-back trainer: planted jumps roll back, resume after a kill is exact, bad input fails."""

import numpy as np
import pytest
import torch

from diffsurr import io
from diffsurr.loss import ExpWeightedLoss
from diffsurr.nets import NN1, Surrogate
from diffsurr.rollback import RollbackRule
from diffsurr.train import TrainConfig, train


def _problem(n=48, size=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, size, size, generator=g) > 0.9).float()
    y = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1)
    return x[:40], y[:40], x[40:], y[40:]


def _model(seed=0):
    torch.manual_seed(seed)
    return Surrogate(NN1(0.1, 0.1), None, 1.0, 0.0, model=6)


class PlantedJump(ExpWeightedLoss):
    """The Eq. 1 loss, multiplied by 1000 during one training pass (epoch attempt)."""

    def __init__(self, at_call, calls_per_epoch):
        super().__init__(w=1.0, alpha=1)
        self.calls, self.lo, self.hi = 0, at_call * calls_per_epoch, (at_call + 1) * calls_per_epoch

    def forward(self, yhat, y):
        loss = super().forward(yhat, y)
        if torch.is_grad_enabled():
            self.calls += 1
            if self.lo < self.calls <= self.hi:
                return loss * 1000
        return loss


def test_planted_jump_rolls_back_and_noisy_run_does_not():
    data = _problem()
    cfg = TrainConfig(epochs=12, batch_size=10, lr=1e-3, rollback=RollbackRule("preprint", m=4, s=2))
    _, plain = train(_model(), ExpWeightedLoss(1.0, 1), *data, cfg, progress=False)
    assert plain.attrs["n_rollbacks"] == 0
    assert (plain.accepted == 1).all()

    _, hist = train(_model(), PlantedJump(at_call=8, calls_per_epoch=4), *data, cfg, progress=False)
    assert hist.attrs["n_rollbacks"] == 1
    rejected = hist.where(hist.accepted == 0, drop=True)
    assert rejected.epoch.values.tolist() == [9] and rejected.rolled_back_to.values.tolist() == [6]
    assert int(hist.kept.sum()) == 12, "rolled-back epochs are redone"
    np.testing.assert_array_equal(hist.epoch.values[hist.kept.values == 1], np.arange(1, 13))
    # the same run without roll-back keeps the jump in its curve
    cfg_none = TrainConfig(epochs=12, batch_size=10, lr=1e-3, rollback=RollbackRule("none"))
    _, jumped = train(_model(), PlantedJump(at_call=8, calls_per_epoch=4), *data, cfg_none,
                      progress=False)
    assert jumped.train_loss[8] > 20 * jumped.train_loss[7]


class Killed(Exception):
    pass


def test_resume_after_kill_gives_identical_weights(tmp_path):
    data = _problem()
    # C < 1 flags every epoch that does not improve by 10 %: several roll-backs, before and
    # after the kill, so the checkpoint must carry the roll-back states too
    cfg = TrainConfig(epochs=9, batch_size=10, lr=1e-2, checkpoint_every=2,
                      rollback=RollbackRule("preprint", m=1, s=1, C=0.9))
    ref_state, ref_hist = train(_model(), ExpWeightedLoss(1.0, 1), *data, cfg, progress=False)
    assert ref_hist.attrs["n_rollbacks"] >= 1, "the run should exercise roll-back state"

    def kill(epoch):
        if epoch == 5:      # after epoch 5: epoch 5 is not checkpointed and is lost
            raise Killed

    ckpt = tmp_path / "checkpoint.pt"
    with pytest.raises(Killed):
        train(_model(), ExpWeightedLoss(1.0, 1), *data, cfg, checkpoint=ckpt,
              identity={"model": 6}, progress=False, on_epoch_end=kill)
    assert ckpt.exists()
    state, hist = train(_model(seed=123), ExpWeightedLoss(1.0, 1), *data, cfg, checkpoint=ckpt,
                        identity={"model": 6}, progress=False)
    for key in ref_state:
        assert torch.equal(state[key], ref_state[key]), key
    np.testing.assert_array_equal(hist.train_loss.values, ref_hist.train_loss.values)
    np.testing.assert_array_equal(hist.accepted.values, ref_hist.accepted.values)


def test_checkpoint_of_another_model_is_refused(tmp_path):
    data = _problem()
    cfg = TrainConfig(epochs=2, batch_size=10, lr=1e-3, checkpoint_every=1)
    ckpt = tmp_path / "checkpoint.pt"

    def kill(epoch):
        raise Killed

    with pytest.raises(Killed):
        train(_model(), ExpWeightedLoss(1.0, 1), *data, cfg, checkpoint=ckpt,
              identity={"model": 6}, progress=False, on_epoch_end=kill)
    with pytest.raises(ValueError, match="belongs to another run"):
        train(_model(), ExpWeightedLoss(1.0, 1), *data, cfg, checkpoint=ckpt,
              identity={"model": 7}, progress=False)
    saved = io.load_checkpoint(ckpt)
    assert saved["identity"]["model"] == {"model": 6}


def test_bad_training_settings_raise():
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        TrainConfig(epochs=-3)
    with pytest.raises(ValueError, match="lr must be > 0"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(amp=True, device="cpu")
