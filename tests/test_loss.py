"""Eq. 1–2: the exponentially weighted loss, on values worked out by hand."""

import math

import pytest
import torch

from diffsurr.loss import ExpWeightedLoss
from diffsurr.registry import spec

# One 2×2 sample. Target y = [[0, 0.5], [1, 1]], prediction yhat = [[0.2, 0.1], [1, 0.4]],
# so |yhat - y| = [[0.2, 0.4], [0, 0.6]] and the weight exp(-(1 - y)/w) is
#   w = 1:   [[e^-1, e^-0.5], [1, 1]]       = [[0.367879, 0.606531], [1, 1]]
#   w = 100: [[e^-0.01, e^-0.005], [1, 1]]  = [[0.990050, 0.995012], [1, 1]]
Y = torch.tensor([[[[0.0, 0.5], [1.0, 1.0]]]], dtype=torch.float64)
Y_HAT = torch.tensor([[[[0.2, 0.1], [1.0, 0.4]]]], dtype=torch.float64)

HAND = {
    # (0.367879*0.2 + 0.606531*0.4 + 1*0 + 1*0.6) / 4
    (1, 1): 0.22904704,
    # (0.367879*0.04 + 0.606531*0.16 + 1*0 + 1*0.36) / 4
    (1, 2): 0.11794002,
    # (0.990050*0.2 + 0.995012*0.4 + 1*0 + 1*0.6) / 4
    (100, 1): 0.29900374,
    # (0.990050*0.04 + 0.995012*0.16 + 1*0 + 1*0.36) / 4
    (100, 2): 0.13970100,
}


@pytest.mark.parametrize(("w", "alpha"), list(HAND))
def test_hand_computed_values(w, alpha):
    assert ExpWeightedLoss(w, alpha)(Y_HAT, Y).item() == pytest.approx(HAND[w, alpha], abs=1e-7)


def test_weighted_by_target_not_prediction():
    # Swapping the arguments weights by yhat instead: a different number.
    loss = ExpWeightedLoss(1, 1)
    assert loss(Y, Y_HAT).item() != pytest.approx(HAND[1, 1], abs=1e-4)


def test_mean_over_samples():
    # A second, perfect sample halves the batch mean.
    y_hat = torch.cat([Y_HAT, Y])
    y = torch.cat([Y, Y])
    assert ExpWeightedLoss(1, 2)(y_hat, y).item() == pytest.approx(HAND[1, 2] / 2, abs=1e-7)


def test_large_w_tends_to_plain_mae():
    plain = (Y_HAT - Y).abs().mean().item()
    assert ExpWeightedLoss(1e9, 1)(Y_HAT, Y).item() == pytest.approx(plain, rel=1e-6)
    assert math.isclose(plain, (0.2 + 0.4 + 0.6) / 4)


@pytest.mark.parametrize("alpha", [1, 2])
def test_gradient_points_away_from_target(alpha):
    y_hat = Y_HAT.clone().requires_grad_(True)
    loss = ExpWeightedLoss(1, alpha)
    loss(y_hat, Y).backward()
    diff = (Y_HAT - Y).flatten()
    grad = y_hat.grad.flatten()
    moved = diff != 0
    assert torch.equal(torch.sign(grad[moved]), torch.sign(diff[moved]))
    with torch.no_grad():
        stepped = y_hat - 0.1 * y_hat.grad
    assert loss(stepped, Y) < loss(Y_HAT, Y)


@pytest.mark.parametrize("w", [0, -1.0, float("nan"), True, "1"])
def test_bad_w_raises(w):
    with pytest.raises(ValueError, match="w must be"):
        ExpWeightedLoss(w, 1)


@pytest.mark.parametrize("alpha", [0, 3, 1.5, True, "MAE"])
def test_bad_alpha_raises(alpha):
    with pytest.raises(ValueError, match=r"alpha must be 1 \(MAE\) or 2 \(MSE\)"):
        ExpWeightedLoss(1, alpha)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same shape"):
        ExpWeightedLoss(1, 1)(Y_HAT, Y.squeeze(0))


def test_from_spec():
    mae = ExpWeightedLoss.from_spec(spec(9))
    mse = ExpWeightedLoss.from_spec(spec(1))
    assert (mae.w, mae.alpha) == (100.0, 1)
    assert (mse.w, mse.alpha) == (1000.0, 2)
