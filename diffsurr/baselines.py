"""Baselines beyond the preprint: the field's standard networks for steady elliptic
problems, trained by this study's trainer with a Table 2 model's loss, next to NN1 + NN2.

* ``unet``: a small U-Net (two poolings, skip connections, written here: a few lines of
  standard layers), fully convolutional, so it runs at any grid divisible by 4.
* ``fno``: a Fourier neural operator from ``neuraloperator`` (the field's library; an optional
  dependency, ``pip install -e .[fno]``), fully convolutional in Fourier space.

A profile selects one with ``arch`` (``table1``: the preprint's networks). The baseline keeps
the model's loss (Eq. 1 with its w and α) and ignores its dropout rates and p₁, p₂; its
``parts`` are (None, ŷ), so the evaluation stage treats it as a single network.

A study trains the archs of its profile's ``baselines`` with model 12's loss
(:data:`BASELINE_MODEL`) within the per-training budget of the Table 1 networks: the sizes
below and :data:`EPOCH_SHARE` were chosen from one-thread train steps (batch 25, 100×100)
measured side by side on the reference CPU (under load): model 12 at NN2 width 1/4 1.00,
model 9 1.32, U-Net 8/16/32 0.63 (16/32/64: 2.2), FNO 16 modes / 16 channels 2.7 (32
channels: about 6). The baselines page measures these ratios again in one run
(:mod:`diffsurr.stages.baselines`).
"""

from __future__ import annotations

import torch
from torch import nn

from .choices import ARCHS
from .nets import SLOPE, count_parameters, glorot_init

ARCH_NAMES = {"unet": "U-Net", "fno": "FNO"}
"""How the book names each baseline."""
UNET_CHANNELS = (8, 16, 32)
"""U-Net channels per level."""
FNO_MODES = 16
"""Fourier modes kept per direction by the FNO (as in its Darcy-flow example at 85×85)."""
FNO_CHANNELS = 16
"""Hidden channels of the FNO (half its Darcy example's 32, for the CPU budget)."""
BASELINE_MODEL = 12
"""The Table 2 model whose loss (MAE, w = 1) the study's baselines are trained with."""
EPOCH_SHARE = {"unet": 1.0, "fno": 0.5}
"""Share of the profile's epochs each baseline trains, so that its training costs about what
model 12's and model 9's do (an FNO step costs about 2.7 model 12 steps)."""


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.LeakyReLU(SLOPE),
                         nn.BatchNorm2d(c_out),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.LeakyReLU(SLOPE),
                         nn.BatchNorm2d(c_out))


class UNet(nn.Module):
    """Encoder (two 2×2 poolings), decoder (transposed convs) with skip connections, ReLU
    output (the field is non-negative, as NN2's relu head)."""

    def __init__(self, channels: tuple[int, int, int] = UNET_CHANNELS):
        super().__init__()
        c1, c2, c3 = channels
        self.enc1, self.enc2, self.mid = _block(1, c1), _block(c1, c2), _block(c2, c3)
        self.pool = nn.AvgPool2d(2)
        self.up2, self.dec2 = nn.ConvTranspose2d(c3, c2, 2, stride=2), _block(2 * c2, c2)
        self.up1, self.dec1 = nn.ConvTranspose2d(c2, c1, 2, stride=2), _block(2 * c1, c1)
        self.out = nn.Conv2d(c1, 1, 1)
        glorot_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"the U-Net needs (B, 1, N, N) inputs with N divisible by 4, got "
                             f"{tuple(x.shape)}")
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        m = self.mid(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return torch.relu(self.out(d1))


def require(archs) -> None:
    """ImportError naming the extra to install if one of ``archs`` needs a missing package
    (a workflow checks this before any job runs)."""
    if "fno" in archs:
        try:
            import neuralop.models  # noqa: F401
        except ImportError as err:
            raise ImportError("arch 'fno' needs the neuraloperator package: "
                              "pip install -e '.[fno]'") from err


def fno(modes: int = FNO_MODES, channels: int = FNO_CHANNELS) -> nn.Module:
    """``neuralop.models.FNO`` with ``modes`` Fourier modes per direction and ``channels``
    hidden channels; ImportError naming the extra when neuraloperator is not installed."""
    require(["fno"])
    from neuralop.models import FNO
    return FNO(n_modes=(modes, modes), in_channels=1, out_channels=1, hidden_channels=channels)


def baseline_profile(profile, arch: str):
    """``profile`` with baseline ``arch`` and its share of the epochs (:data:`EPOCH_SHARE`)."""
    return profile.replace(arch=arch, epochs=max(1, round(profile.epochs * EPOCH_SHARE[arch])))


class Baseline(nn.Module):
    """A baseline network in the surrogate interface of :class:`diffsurr.nets.Surrogate`:
    ``parts`` gives (None, ŷ), ``combine`` returns ŷ, ``config`` records what was built;
    ``nn1`` and ``nn2`` are None (the trainer's alive fractions are NaN)."""

    nn1 = nn2 = None

    def __init__(self, arch: str, model: int):
        super().__init__()
        if arch not in ARCHS[1:]:
            raise ValueError(f"a baseline arch is one of {ARCHS[1:]}, got {arch!r}")
        self.net = UNet() if arch == "unet" else fno()
        self.config = {"model": model, "arch": arch, "parameters": count_parameters(self.net)}

    def state_dict(self, *args, **kwargs):
        """Tensors only: neuraloperator adds its constructor arguments (functions among them)
        as ``_metadata``, which a ``weights_only`` load refuses."""
        state = super().state_dict(*args, **kwargs)
        for key in [k for k, v in state.items() if not isinstance(v, torch.Tensor)]:
            del state[key]
        return state

    def parts(self, x: torch.Tensor) -> tuple[None, torch.Tensor]:
        return None, self.net(x)

    def combine(self, y1: None, y2: torch.Tensor) -> torch.Tensor:
        return y2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
