"""Run profiles: named, documented sets of every value the study's stages use.

``paper`` is the preprint's scale (Sec. 2): 20,000 samples, 80/20 train/test, 800 epochs,
batch 25, Adam lr 5e-6, full-width Table 1 networks. It is meant for a GPU.

``smoke`` is for tests and for developing the book: seconds per stage, meaningless numbers.

``ci`` runs the same pipeline on a 2-core CPU in CI: fewer samples and epochs, NN2 with its
channel counts divided by 8, a larger learning rate and the "relu" output head (ConvT → ReLU,
no final BatchNorm: with the Table 1 head the output ReLU dies at such learning rates, as the
implementation notes saw; the workflow trains model 12 with the Table 1 head too). Its numbers are not the preprint's
and the book says so wherever it shows them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

import torch


@dataclass(frozen=True)
class Profile:
    """Every value a stage of the study needs; any one can be overridden by name."""

    name: str
    description: str
    n_samples: int                  # configurations drawn and solved (preprint: 20,000)
    test_fraction: float            # preprint: 20 % test
    val_fraction: float             # of the training part, for model selection only
    epochs: int                     # preprint: 800
    batch_size: int                 # authors' code: 25
    lr: float                       # authors' code: Adam 5e-6
    width: float                    # NN2 channel multiplier (Table 1: 1)
    head: str                       # NN2 output head: "table1" or "relu"
    rollback: str = "preprint"      # roll-back rule: "preprint", "code" or "none"
    C: float = 5.0                  # Eq. 3
    m: int = 20                     # Eq. 3
    s: int = 5                      # Eq. 3
    checkpoint_every: int = 5
    data_seed: int = 0
    split_seed: int = 0
    seed: int = 0                   # training seed
    extra_seeds: tuple = ()         # more training seeds, for the models in seed_models
    seed_models: tuple = ()         # models trained with every seed (error bars over seeds)
    mode: str = "clamped"           # source model: "clamped" (preprint) or "production" (code)
    placement: str = "preprint"     # "preprint" or "code" (see diffsurr.data)
    n_figure_samples: int = 20      # test samples kept for Figs. 5-7
    max_eval_train: int = 4000      # training samples evaluated for the train-set panels
    n_generalise: int = 1000        # test samples per source layout (generalisation study)
    device: str = "auto"
    channels_last: bool = False     # CUDA speed options (bf16 autocast is always on with CUDA)
    compile: bool = False

    def replace(self, **overrides) -> "Profile":
        """A copy with some values changed; unknown names and bad values raise ValueError."""
        names = {f.name for f in fields(self)} - {"name", "description"}
        unknown = set(overrides) - names
        if unknown:
            raise ValueError(f"unknown profile value(s) {sorted(unknown)}; valid: {sorted(names)}")
        new = dataclasses.replace(self, **overrides)
        new.validate()
        return new

    def validate(self) -> None:
        for name in ("n_samples", "epochs", "batch_size", "m", "s", "checkpoint_every",
                     "n_figure_samples", "max_eval_train", "n_generalise"):
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("lr", "width", "C"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        choices = {"head": ("table1", "relu"), "rollback": ("preprint", "code", "none"),
                   "mode": ("clamped", "production"), "placement": ("preprint", "code")}
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ValueError(f"{name} must be one of {valid}, got {getattr(self, name)!r}")
        for name in ("test_fraction", "val_fraction"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must lie in (0, 1), got {getattr(self, name)!r}")

    def resolved_device(self) -> str:
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def as_attrs(self) -> dict:
        return {f"profile_{k}": v for k, v in dataclasses.asdict(self).items()}


PROFILES = {
    "paper": Profile(
        name="paper",
        description="the preprint's scale (Sec. 2): 20,000 samples, 800 epochs, batch 25, "
                    "Adam 5e-6, full-width Table 1 networks; for a GPU",
        n_samples=20_000, test_fraction=0.2, val_fraction=0.1, epochs=800, batch_size=25,
        lr=5e-6, width=1.0, head="table1", checkpoint_every=10),
    "ci": Profile(
        name="ci",
        description="the same pipeline scaled to a 2-core CPU: fewer samples and epochs, NN2 "
                    "channels / 8, Adam 1e-3, roll-back window m = 5, and NN2's output head "
                    "without its final BatchNorm (the Table 1 head dies at this learning rate; "
                    "model 12 is also trained with it to show that); not the preprint's scale",
        n_samples=1_000, test_fraction=0.2, val_fraction=0.1, epochs=6, batch_size=25,
        lr=1e-3, width=0.125, head="relu", m=5, s=2, checkpoint_every=2,
        max_eval_train=400, extra_seeds=(1, 2), seed_models=(5, 6, 9, 11, 12),
        n_generalise=100),
    "smoke": Profile(
        name="smoke",
        description="a few seconds per stage, for tests and for developing the book; its "
                    "numbers mean nothing",
        n_samples=300, test_fraction=0.2, val_fraction=0.1, epochs=3, batch_size=25,
        lr=1e-3, width=0.125, head="relu", m=2, s=1, checkpoint_every=1, max_eval_train=100,
        n_generalise=20),
}


def get_profile(name: str | None = "auto", **overrides) -> tuple[Profile, str]:
    """The profile called ``name`` with ``overrides`` applied, and why it was chosen.

    ``"auto"`` (or ``None``) picks ``paper`` when CUDA is available and ``ci`` otherwise.
    Overrides whose value is ``None`` are ignored (papermill's "use the profile's value").
    """
    if name in (None, "auto"):
        cuda = torch.cuda.is_available()
        name = "paper" if cuda else "ci"
        why = ("default: CUDA is available" if cuda else
               "default: no CUDA device, so the scaled CPU profile")
    elif name in PROFILES:
        why = "asked for by name"
    else:
        raise ValueError(f"unknown profile {name!r}; valid: {sorted(PROFILES)} or 'auto'")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    profile = PROFILES[name].replace(**overrides) if overrides else PROFILES[name]
    if overrides:
        why += f"; overridden: {overrides}"
    return profile, why
