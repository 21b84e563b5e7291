"""Baselines beyond the preprint (issue 13): the field's standard networks for steady elliptic
problems, trained by this study's trainer with a Table 2 model's loss, next to NN1 + NN2.

* ``unet``: a small U-Net (two poolings, skip connections, written here: a few lines of
  standard layers), fully convolutional, so it runs at any grid divisible by 4.
* ``fno``: a Fourier neural operator from ``neuraloperator`` (the field's library; an optional
  dependency, ``pip install -e .[fno]``), fully convolutional in Fourier space.

A profile selects one with ``arch`` (``table1``: the preprint's networks). The baseline keeps
the model's loss (Eq. 1 with its w and α) and ignores its dropout rates and p₁, p₂; its
``parts`` are (None, ŷ), so the evaluation stage treats it as a single network.
"""

from __future__ import annotations

import torch
from torch import nn

from .nets import SLOPE, count_parameters, glorot_init

ARCHS = ("table1", "unet", "fno")
"""Network families a profile can train: the preprint's (Table 1) or a baseline."""
UNET_CHANNELS = (32, 64, 128)
"""U-Net channels per level."""
FNO_MODES = 16
"""Fourier modes kept per direction by the FNO (as in its Darcy-flow example at 85×85)."""
FNO_CHANNELS = 32
"""Hidden channels of the FNO."""


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


def fno(modes: int = FNO_MODES, channels: int = FNO_CHANNELS) -> nn.Module:
    """``neuralop.models.FNO`` with ``modes`` Fourier modes per direction and ``channels``
    hidden channels; ImportError naming the extra when neuraloperator is not installed."""
    try:
        from neuralop.models import FNO
    except ImportError as err:
        raise ImportError("arch 'fno' needs the neuraloperator package: "
                          "pip install -e '.[fno]'") from err
    return FNO(n_modes=(modes, modes), in_channels=1, out_channels=1, hidden_channels=channels)


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

    def parts(self, x: torch.Tensor) -> tuple[None, torch.Tensor]:
        return None, self.net(x)

    def combine(self, y1: None, y2: torch.Tensor) -> torch.Tensor:
        return y2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
