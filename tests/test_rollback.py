import numpy as np
import pytest

from diffsurr.rollback import RollbackRule


def _replay(rule, curve):
    """Feed a loss curve epoch by epoch; return the epochs flagged as jumps."""
    accepted, jumps = [], []
    for k, loss in enumerate(curve):
        if rule.is_jump(accepted, loss):
            jumps.append(k)
        else:
            accepted.append(loss)
    return jumps


def _curve(n=200, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    return 1e-2 * np.exp(-np.arange(n) / 60) * (1 + noise * rng.random(n)) + 1e-4


@pytest.mark.parametrize("kind", ["preprint", "code"])
def test_noisy_curve_without_jump_never_rolls_back(kind):
    assert _replay(RollbackRule(kind), _curve()) == []


@pytest.mark.parametrize("kind", ["preprint", "code"])
def test_planted_jump_rolls_back(kind):
    curve = _curve()
    curve[120] *= 30
    assert _replay(RollbackRule(kind), curve) == [120]


def test_preprint_rule_reads_eq3_as_loss_above_C_times_recent_mean():
    rule = RollbackRule("preprint", C=5, m=3)
    assert not rule.is_jump([1.0, 1.0], 100.0), "needs m accepted epochs first"
    assert not rule.is_jump([1.0, 2.0, 3.0], 9.9)
    assert rule.is_jump([1.0, 2.0, 3.0], 10.1)


def test_targets_and_kept_states():
    pre, code = RollbackRule("preprint", s=5), RollbackRule("code", s=5)
    assert pre.target_epoch(30) == 25 and pre.target_epoch(3) == 0
    assert pre.needed_states(30) == list(range(20, 31))   # 2s + 1: see test_train
    assert code.target_epoch(33) == 30 and code.needed_states(33) == [30]
    assert RollbackRule("none").needed_states(10) == []


def test_bad_rules_raise():
    with pytest.raises(ValueError, match="must be one of"):
        RollbackRule("sometimes")
    with pytest.raises(ValueError, match="C > 0"):
        RollbackRule(C=0)
