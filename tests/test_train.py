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
    cfg = TrainConfig(epochs=12, batch_size=10, lr=1e-3,
                      rollback=RollbackRule("preprint", m=4, s=2))
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


class PlantedJumps(ExpWeightedLoss):
    """The Eq. 1 loss times ``factor`` during the training passes (epoch attempts, 0-based)
    listed in ``at``."""

    def __init__(self, at, calls_per_epoch, factor=1000.0):
        super().__init__(w=1.0, alpha=1)
        self.calls, self.at, self.per, self.factor = 0, set(at), calls_per_epoch, factor

    def forward(self, yhat, y):
        loss = super().forward(yhat, y)
        if torch.is_grad_enabled():
            self.calls += 1
            if (self.calls - 1) // self.per in self.at:
                return loss * self.factor
        return loss


def test_second_jump_soon_after_a_roll_back_goes_back_to_its_own_n_minus_s():
    # attempts 0-7 accepted (epochs 1-8); attempt 8 jumps -> back to 8 - 2 = 6; attempt 9
    # accepted (epoch 7); attempt 10 jumps with 7 accepted -> back to 7 - 2 = 5 (Eq. 3), a
    # state from before the first roll-back
    data = _problem()
    cfg = TrainConfig(epochs=10, batch_size=10, lr=1e-3,
                      rollback=RollbackRule("preprint", m=4, s=2))
    _, hist = train(_model(), PlantedJumps(at=(8, 10), calls_per_epoch=4), *data, cfg,
                    progress=False)
    rejected = hist.where(hist.accepted == 0, drop=True)
    assert rejected.epoch.values.tolist() == [9, 8]
    assert rejected.rolled_back_to.values.tolist() == [6, 5]
    np.testing.assert_array_equal(hist.epoch.values[hist.kept.values == 1], np.arange(1, 11))


def test_non_finite_losses_count_against_max_rollbacks_and_stop_with_a_named_error():
    data = _problem()
    cfg = TrainConfig(epochs=6, batch_size=10, lr=1e-3, max_rollbacks=1,
                      rollback=RollbackRule("preprint", m=2, s=1))
    nan_from_3 = PlantedJumps(at=range(3, 100), calls_per_epoch=4, factor=float("nan"))
    with pytest.raises(FloatingPointError,
                       match=r"at epoch \d+ after 1 roll-backs \(max_rollbacks = 1"):
        train(_model(), nan_from_3, *data, cfg, progress=False)
    # a NaN in the training targets: the same bounded stop, naming the likely cause
    x, y, xv, yv = data
    y = y.clone()
    y[0, 0, 0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="non-finite values in the training data"):
        train(_model(), ExpWeightedLoss(1.0, 1), x, y, xv, yv, cfg, progress=False)


def test_milestones_get_the_best_state_so_far_and_a_plateau_stops_early():
    data = _problem()
    seen = {}

    def keep(epoch, best, history):
        seen[epoch] = (best["epoch"], {k: v.clone() for k, v in best["state"].items()},
                       history)

    cfg = TrainConfig(epochs=6, batch_size=10, lr=1e-3, milestones=(2, 6),
                      rollback=RollbackRule("none"))
    final, hist = train(_model(), ExpWeightedLoss(1.0, 1), *data, cfg, progress=False,
                        on_milestone=keep)
    assert sorted(seen) == [2, 6] and seen[2][0] <= 2
    # the history so far goes with each milestone (committed while the run goes on)
    assert seen[2][2].attrs["n_epochs"] == 2 and seen[2][2].attrs["stopped"] == "running"
    assert np.array_equal(seen[2][2].val_loss, hist.val_loss[:2])
    assert seen[6][0] == hist.attrs["best_epoch"] and hist.attrs["stopped"] == "epochs"
    assert all(torch.equal(final[k], seen[6][1][k]) for k in final)
    # a learning rate of ~0 is a plateau: the run stops after 2·window epochs, and the
    # milestones it skipped get the final best state
    seen.clear()
    cfg = TrainConfig(epochs=20, batch_size=10, lr=1e-12, plateau=3, milestones=(4, 20),
                      rollback=RollbackRule("none"))
    _, hist = train(_model(), ExpWeightedLoss(1.0, 1), *data, cfg, progress=False,
                    on_milestone=keep)
    assert hist.attrs["stopped"] == "plateau" and hist.attrs["n_epochs"] == 6
    assert sorted(seen) == [4, 20] and seen[20][0] == hist.attrs["best_epoch"]
    with pytest.raises(ValueError, match="milestones"):
        TrainConfig(epochs=5, milestones=(8,))


def test_three_non_finite_losses_in_a_row_stop_at_once_with_the_learning_rate():
    """Without the rule a run whose every epoch is NaN spent max_rollbacks (200) epochs."""
    data = _problem()
    cfg = TrainConfig(epochs=6, batch_size=10, lr=1e-3, rollback=RollbackRule("preprint", m=2, s=1))
    nan_from_3 = PlantedJumps(at=range(3, 100), calls_per_epoch=4, factor=float("nan"))
    with pytest.raises(FloatingPointError,
                       match=r"in 3 attempts in a row at epoch \d+, .*lr = 0.001 is likely "
                             r"too large; lower it \(e.g. lr = 0.0001\)"):
        train(_model(), nan_from_3, *data, cfg, progress=False)
    assert nan_from_3.calls == 4 * 6, "stopped at the third NaN attempt, not after 200"
    # two non-finite epochs in a row, then finite ones: the run rolls back and finishes
    _, hist = train(_model(), PlantedJumps(at=(3, 4), calls_per_epoch=4, factor=float("nan")),
                    *data, cfg, progress=False)
    assert hist.attrs["n_rollbacks"] == 2 and int(hist.kept.sum()) == 6
