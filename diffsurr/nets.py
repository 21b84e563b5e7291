"""The two networks of Table 1 (NN1, NN2) and their weighted sum yhat = p1·NN1(x) + p2·NN2(x) (Fig.
2).

Conventions of the authors' Flux code (the book's differences page, "Layers"): LeakyReLU
slope 0.01, element-wise dropout, BatchNorm after the activation (momentum 0.1, eps 1e-5),
Glorot-uniform weights and zero biases for every Conv and ConvTranspose. PyTorch's default
initialisation left NN2's final ReLU dead (the early probe on the book's differences page),
so the Flux initialisation is applied here. Glorot's bound sqrt(6 / (fan_in + fan_out)) is
symmetric in the two fans, so torch's (in, out, k, k) ConvTranspose weight layout gives
the same bound as Flux's layout.

The conv and BatchNorm layers are torch's with faster CPU paths of the same maths
(:class:`BatchNorm2d`, :class:`Conv2d`, :class:`ConvTranspose2d`; :func:`set_fast_paths`
switches them off); the state_dict keys are torch's, so saved models load as before.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import torch
from torch import nn

from diffsurr.choices import HEADS, NN1_HEADS
from diffsurr.registry import spec as table2_spec

GRID = 100
"""Image side N fixed by NN2's shapes in Table 1 (100 → 1 → 100)."""
SLOPE = 0.01
NN1_CHANNELS = (1, 4, 8, 16, 8, 4, 1)
NN2_ENCODER_CHANNELS = (1, 64, 128, 256, 512, 1024, 2048)
# (out_channels, kernel, stride, padding) of the decoder's ConvTranspose layers, Table 1.
NN2_DECODER = ((1024, 3, 2, 0), (512, 3, 2, 0), (256, 3, 2, 1), (128, 3, 2, 1), (64, 3, 2, 0),
               (1, 4, 2, 2))


NARROW_BATCHNORM = 8
"""BatchNorm over fewer channels than this takes NCHW tensors on the CPU (:class:`BatchNorm2d`)."""


class BatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d``, with a faster path on the CPU: fewer than :data:`NARROW_BATCHNORM`
    channels in channels_last layout are made contiguous (NCHW) first and the result returned
    in channels_last. The same maths; torch's CPU kernel vectorises channels_last over the
    channels, 8 floats at a time, and NN1's 4-channel layers fell to its scalar loop, about
    2× slower (``python tools/speed.py nn1-speed``). The NCHW kernel is also the more
    accurate: on NN1's first BatchNorm (a channel of variance 1e-4) the channels_last one was
    2e-3 off float64 on outputs of order 1, the NCHW one 2e-6 (tests/test_nets.py compares).
    ``fast = False``
    (:func:`set_fast_paths`) is the plain layer."""

    fast = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.fast and x.device.type == "cpu" and self.num_features < NARROW_BATCHNORM
                and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()):
            # back in the input's layout: a later dropout draws its mask in memory order
            return super().forward(x.contiguous()).contiguous(memory_format=torch.channels_last)
        return super().forward(x)


class Conv2d(nn.Conv2d):
    """``nn.Conv2d``; where the kernel covers the whole unpadded input (NN2's 3×3 → 1×1 conv)
    it is one matrix product, the same sums as the convolution, about 10× faster than
    oneDNN's convolution for that shape on one CPU thread (``tools/speed.py nn1-speed``). ``fast =
    False``: the plain layer."""

    fast = True

    def _dense(self, x: torch.Tensor) -> bool:
        return (self.fast and x.device.type == "cpu" and tuple(x.shape[2:]) == self.kernel_size
                and self.padding == (0, 0) and self.dilation == (1, 1) and self.groups == 1
                and self.bias is not None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._dense(x):
            return super().forward(x)
        # (h, w, c) order: a view of channels_last tensors, the same sum for any order
        w = self.weight.permute(0, 2, 3, 1).reshape(self.out_channels, -1)
        y = torch.addmm(self.bias, x.permute(0, 2, 3, 1).reshape(len(x), -1), w.t())
        return y.view(len(x), self.out_channels, 1, 1)


class ConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d``; on a 1×1 input without padding (NN2's first decoder layer,
    1 → 3×3) it is one matrix product, the same sums. ``fast = False``: the plain layer."""

    fast = True

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if not (self.fast and output_size is None and x.device.type == "cpu"
                and tuple(x.shape[2:]) == (1, 1) and self.padding == (0, 0)
                and self.output_padding == (0, 0) and self.dilation == (1, 1)
                and self.groups == 1 and self.bias is not None):
            return super().forward(x, output_size)
        kh, kw = self.kernel_size
        w = self.weight.permute(0, 2, 3, 1).reshape(self.in_channels, -1)   # (c_in, kh·kw·c_out)
        y = torch.addmm(self.bias.repeat(kh * kw), x.reshape(len(x), -1), w)
        y = y.view(len(x), kh, kw, self.out_channels).permute(0, 3, 1, 2)   # channels_last
        # the plain layer's layout after model.to(memory_format=...): a later dropout draws
        # its mask in memory order
        return y if self.weight.is_contiguous(memory_format=torch.channels_last) else y.contiguous()


def set_fast_paths(module: nn.Module, on: bool) -> nn.Module:
    """Switch the faster CPU paths of :class:`BatchNorm2d`, :class:`Conv2d` and
    :class:`ConvTranspose2d` on or off in every layer of ``module`` (on by default; off is the
    plain torch layers, for tests and ``tools/speed.py nn1-speed``); returns ``module``."""
    for m in module.modules():
        if isinstance(m, (BatchNorm2d, Conv2d, ConvTranspose2d)):
            m.fast = bool(on)
    return module


def _batchnorm(channels: int) -> BatchNorm2d:
    return BatchNorm2d(channels, eps=1e-5, momentum=0.1)


def _check_dropout(name: str, p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, Real) or not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be a dropout rate in [0, 1), got {p!r}")
    return float(p)


def _check_input(x: torch.Tensor, square: int | None) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError("input must be a floating-point torch.Tensor of shape (B, 1, N, N), "
                         f"got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"input must have shape (B, 1, N, N), got {tuple(x.shape)}")
    if square is not None and tuple(x.shape[2:]) != (square, square):
        raise ValueError(f"NN2 needs {square}×{square} images (Table 1), got {tuple(x.shape[2:])}")


def glorot_init(module: nn.Module) -> None:
    """Flux's default initialisation: Glorot-uniform weights, zero biases, for every (transposed)
    conv."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (Table 1: NN1 3,075, NN2 50,290,243)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class NN1(nn.Module):
    """Table 1(a): six 3×3 convs (stride 1, padding 1) keeping N×N, channels 1→4→8→16→8→4→1.

    Each conv is followed by LeakyReLU (ReLU after the last) and BatchNorm; Dropout D1 sits
    between the first activation and its BatchNorm, Dropout D2 between the last ReLU and
    the last BatchNorm (``head="table1"``). Works for any image size. 3,075 trainable
    parameters. The measured variants (:data:`diffsurr.choices.NN1_HEADS`) move D2 before the last
    conv
    (``"d2-first"``), also drop the last BatchNorm (``"relu"``, two parameters fewer), or make
    the last activation a LeakyReLU (``"leaky"``).
    """

    def __init__(self, D1: float, D2: float, head: str = "table1"):
        super().__init__()
        self.D1 = _check_dropout("D1", D1)
        self.D2 = _check_dropout("D2", D2)
        if head not in NN1_HEADS:
            raise ValueError(f"NN1 head must be one of {NN1_HEADS}, got {head!r}")
        self.head = head
        layers: list[nn.Module] = []
        pairs = list(zip(NN1_CHANNELS[:-1], NN1_CHANNELS[1:]))
        for i, (c_in, c_out) in enumerate(pairs):
            last = i == len(pairs) - 1
            if last and head in ("d2-first", "relu"):
                layers.append(nn.Dropout(self.D2))
            layers.append(Conv2d(c_in, c_out, 3, stride=1, padding=1))
            layers.append(nn.ReLU() if last and head != "leaky" else nn.LeakyReLU(SLOPE))
            if i == 0:
                layers.append(nn.Dropout(self.D1))
            if last and head in ("table1", "leaky"):
                layers.append(nn.Dropout(self.D2))
            if not (last and head == "relu"):
                layers.append(_batchnorm(c_out))
        self.layers = nn.Sequential(*layers)
        glorot_init(self)

    @property
    def last_conv(self) -> nn.Conv2d:
        """The sixth conv, whose output feeds the final ReLU."""
        return [m for m in self.layers if isinstance(m, nn.Conv2d)][-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, square=None)
        return self.layers(x)


class NN2(nn.Module):
    """Table 1(b): the encoder–decoder, 1×100×100 → 2048×1×1 → 1×100×100. 50,290,243 parameters at
    width 1.

    Encoder: conv 1→64 → LeakyReLU → BatchNorm → Dropout D3 → meanpool 2; convs 64→128,
    128→256, 256→512, 512→1024 (3×3, padding 1, LeakyReLU) each followed by meanpool 2;
    conv 1024→2048 (3×3, no padding) → LeakyReLU. Spatial 100→50→25→12→6→3→1.
    All meanpools are unpadded with floor, as Table 1's 25→12 requires; the authors' code
    padded the second pool (25→26→13; the book's differences page), a difference this
    implementation does not follow.

    Decoder: ConvTranspose 2048→1024→512→256→128→64 (3×3, stride 2, padding 0, 0, 1, 1, 0;
    LeakyReLU), Dropout D4, ConvTranspose 64→1 (4×4, stride 2, padding 2) → ReLU, then
    BatchNorm(1) for ``head="table1"`` (faithful) or nothing for ``head="relu"`` (the
    variant that learned in the early probe on the book's differences page, two parameters
    fewer). Spatial 1→3→7→13→25→51→100.

    ``width`` scales every hidden channel count (rounded, at least 1) for cheaper profiles;
    input and output stay 1 channel.
    """

    def __init__(self, D3: float, D4: float, width: float = 1.0, head: str = "table1"):
        super().__init__()
        self.D3 = _check_dropout("D3", D3)
        self.D4 = _check_dropout("D4", D4)
        if (isinstance(width, bool) or not isinstance(width, Real)
                or not (math.isfinite(width) and width > 0)):
            raise ValueError(f"width must be a finite number > 0, got {width!r}")
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        self.width = float(width)
        self.head = head

        def scaled(c: int) -> int:
            return c if c == 1 else max(1, round(c * self.width))

        enc = [scaled(c) for c in NN2_ENCODER_CHANNELS]
        encoder: list[nn.Module] = [
            Conv2d(enc[0], enc[1], 3, padding=1),
            nn.LeakyReLU(SLOPE),
            _batchnorm(enc[1]),
            nn.Dropout(self.D3),
            nn.AvgPool2d(2),
        ]
        for c_in, c_out in zip(enc[1:5], enc[2:6]):
            encoder += [Conv2d(c_in, c_out, 3, padding=1), nn.LeakyReLU(SLOPE), nn.AvgPool2d(2)]
        encoder += [Conv2d(enc[5], enc[6], 3, padding=0), nn.LeakyReLU(SLOPE)]
        self.encoder = nn.Sequential(*encoder)

        decoder: list[nn.Module] = []
        c_in = enc[6]
        for c_out, k, s, p in NN2_DECODER[:-1]:
            decoder += [ConvTranspose2d(c_in, scaled(c_out), k, stride=s, padding=p),
                        nn.LeakyReLU(SLOPE)]
            c_in = scaled(c_out)
        c_out, k, s, p = NN2_DECODER[-1]
        decoder += [nn.Dropout(self.D4), ConvTranspose2d(c_in, c_out, k, stride=s, padding=p),
                    nn.ReLU()]
        if head == "table1":
            decoder.append(_batchnorm(c_out))
        self.decoder = nn.Sequential(*decoder)
        glorot_init(self)

    @property
    def last_conv(self) -> nn.ConvTranspose2d:
        """The 64→1 ConvTranspose, whose output feeds the final ReLU."""
        return [m for m in self.decoder if isinstance(m, nn.ConvTranspose2d)][-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, square=GRID)
        return self.decoder(self.encoder(x))


class Surrogate(nn.Module):
    """Fig. 2: yhat = p1·yhat1 + p2·yhat2 with yhat1 = NN1(x), yhat2 = NN2(x); p1, p2 fixed.

    A network whose p is 0 must be passed as None (it is not built, so parameter counts
    match Table 1); at least one network must be on. ``self.config`` records model,
    p1, p2, D1–D4, width, head and nn1_head (None for a network that is off) so that a
    checkpoint can be checked against the model it was built for (:func:`saved_config`
    reads configs saved before nn1_head existed).
    """

    def __init__(self, nn1: NN1 | None, nn2: NN2 | None, p1: float, p2: float,
                 model: int | None = None):
        super().__init__()
        for name, net, p, cls in (("NN1", nn1, p1, NN1), ("NN2", nn2, p2, NN2)):
            if isinstance(p, bool) or not isinstance(p, Real) or not math.isfinite(p):
                raise ValueError(f"p for {name} must be a finite number, got {p!r}")
            if (p == 0) != (net is None):
                raise ValueError(f"{name} must be None exactly when its p is 0, got p={p} and "
                                 f"{type(net).__name__}")
            if net is not None and not isinstance(net, cls):
                raise ValueError(f"{name} must be a {cls.__name__} or None, "
                                 f"got {type(net).__name__}")
        if nn1 is None and nn2 is None:
            raise ValueError("at least one of p1, p2 must be non-zero (both networks are off)")
        self.nn1, self.nn2 = nn1, nn2
        self.p1, self.p2 = float(p1), float(p2)
        self.config = {
            "model": model,
            "p1": self.p1,
            "p2": self.p2,
            "D1": nn1.D1 if nn1 else None,
            "D2": nn1.D2 if nn1 else None,
            "D3": nn2.D3 if nn2 else None,
            "D4": nn2.D4 if nn2 else None,
            "width": nn2.width if nn2 else None,
            "head": nn2.head if nn2 else None,
            "nn1_head": nn1.head if nn1 else None,
        }

    @classmethod
    def from_table2(cls, model: int, width: float = 1.0, head: str = "table1",
                    nn1_head: str = "table1") -> "Surrogate":
        """The surrogate of Table 2's row ``model`` (1–14); width and head apply to NN2,
        nn1_head to NN1."""
        s = table2_spec(model)
        nn1 = NN1(s.D1, s.D2, head=nn1_head) if s.p1 != 0 else None
        nn2 = NN2(s.D3, s.D4, width=width, head=head) if s.p2 != 0 else None
        return cls(nn1, nn2, s.p1, s.p2, model=s.model)

    def parts(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The unweighted outputs (yhat1, yhat2) of NN1 and NN2 (Fig. 7); None for a network that is
        off."""
        y1 = self.nn1(x) if self.nn1 is not None else None
        y2 = self.nn2(x) if self.nn2 is not None else None
        return y1, y2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.combine(*self.parts(x))

    def combine(self, y1: torch.Tensor | None, y2: torch.Tensor | None) -> torch.Tensor:
        """p1·y1 + p2·y2 from the outputs of :meth:`parts` (Fig. 2)."""
        if y1 is None:
            return self.p2 * y2
        if y2 is None:
            return self.p1 * y1
        return self.p1 * y1 + self.p2 * y2


def saved_config(config: dict) -> dict:
    """A saved ``Surrogate.config`` in its current form: files written before NN1 had variants
    lack ``nn1_head`` and hold Table 1's NN1 (where NN1 is on); other configs (baselines)
    are returned as they are."""
    if "nn1_head" in config or "D1" not in config:
        return config
    return {**config, "nn1_head": "table1" if config.get("D1") is not None else None}


@torch.no_grad()
def alive_fraction(surrogate: Surrogate, x: torch.Tensor) -> dict[str, float]:
    """Fraction of positive pre-activation outputs of each network's last (transposed) conv.

    A fraction near 0 means the final ReLU is dead and the output is a constant (an early
    probe saw this for the Table 1 head at lr ≥ 1e-4: the book's differences page). Runs in
    eval mode (no dropout, BatchNorm running statistics left untouched) and restores the
    previous mode. Returns {"nn1": ..., "nn2": ...} for the networks that are on.
    """
    nets = {name: net for name, net in (("nn1", surrogate.nn1), ("nn2", surrogate.nn2))
            if net is not None}
    outputs: dict[str, torch.Tensor] = {}
    hooks = [
        net.last_conv.register_forward_hook(
            lambda _m, _i, out, name=name: outputs.__setitem__(name, out))
        for name, net in nets.items()
    ]
    was_training = surrogate.training
    try:
        surrogate.eval()
        surrogate(x)
    finally:
        surrogate.train(was_training)
        for h in hooks:
            h.remove()
    return {name: (out > 0).float().mean().item() for name, out in outputs.items()}


@torch.no_grad()
def predict(net, x: torch.Tensor, batch_size: int = 100, parts: bool = False):
    """Predictions of ``net`` (eval mode) for (n, 1, N, N) inputs, as (n, N, N) numpy arrays.

    With ``parts=True`` also the unweighted NN1 and NN2 outputs (NaN for a network that is
    off). Each network runs once per batch.
    """
    net.eval()
    device = next(net.parameters()).device
    out, p1, p2 = [], [], []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(device)
        y1, y2 = net.parts(xb)
        out.append(net.combine(y1, y2)[:, 0].cpu().numpy())
        if parts:
            nan = torch.full_like(xb, float("nan"))
            p1.append((nan if y1 is None else y1)[:, 0].cpu().numpy())
            p2.append((nan if y2 is None else y2)[:, 0].cpu().numpy())
    pred = np.concatenate(out)
    return (pred, np.concatenate(p1), np.concatenate(p2)) if parts else pred
