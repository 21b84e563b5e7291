"""Run profiles: named, documented sets of every value the study's stages use.

``paper`` is the preprint's scale (Sec. 2): 20,000 samples, 80/20 train/test, 800 epochs,
batch 25, Adam lr 5e-6, full-width Table 1 networks. It is meant for a GPU.

``reference`` runs Table 2 on the authors' data (production sources, code placement) at the
largest scale the 2-core CPU runs in 8 hours; ``pilot`` holds the short runs
that chose its NN2 width, learning rate and epochs (:mod:`diffsurr.pilot`).

``smoke`` is for tests and for developing the book: seconds per stage, meaningless numbers.

``ci`` runs the same pipeline on a 2-core CPU in CI: fewer samples and epochs, NN2 with its
channel counts divided by 8, a larger learning rate and the "relu" output head (ConvT → ReLU,
no final BatchNorm: with the Table 1 head the output ReLU dies at such learning rates, as an
early probe saw, see the book's differences page; the workflow trains model 12 with the Table 1
head too). Its numbers are not the preprint's and the book says so wherever it shows them.

A profile's values are grouped by concern in typed sections (data, network, training, study,
evaluation, execution; a run's :class:`~diffsurr.trainconfig.TrainConfig` is the training
section with the execution values), and each is also named flat (``lr``, ``width``): the name
a run overrides it by, reads it by, names its folder by (:mod:`diffsurr.runid`) and stores it
by (``profile_lr`` attributes).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from numbers import Integral
from operator import attrgetter
from typing import get_type_hints

import torch

from .choices import ARCHS, HEADS, NN1_HEADS
from .rollback import KINDS
from .trainconfig import Training


@dataclass(frozen=True)
class Data:
    """The data set a run reads (:mod:`diffsurr.data`) and the share of it it trains on."""

    n_samples: int                  # configurations drawn and solved (preprint: 20,000)
    test_fraction: float            # preprint: 20 % test
    val_fraction: float             # of the training part, for model selection only
    # share of the training part trained on (val and test as they are)
    train_fraction: float = 1.0
    data_seed: int = 0
    split_seed: int = 0
    mode: str = "clamped"           # source model: "clamped" (preprint) or "production" (code)
    placement: str = "preprint"     # "preprint" or "code" (see diffsurr.data)


@dataclass(frozen=True)
class Network:
    """The networks a run trains (Table 1, :mod:`diffsurr.nets`, or a baseline)."""

    width: float                    # NN2 channel multiplier (Table 1: 1)
    head: str                       # NN2 output head: "table1" or "relu"
    nn1_head: str = "table1"        # NN1's last layers: "table1", "d2-first" or "relu" (nets)
    arch: str = "table1"            # "table1" (NN1, NN2) or a baseline: "unet", "fno"


@dataclass(frozen=True)
class Study:
    """Which runs the study holds besides one per Table 2 model
    (:func:`diffsurr.study.study_runs`)."""

    models: tuple = ()              # the Table 2 models the study trains (empty: all 14)
    extra_seeds: tuple = ()         # more training seeds, for the models in seed_models
    seed_models: tuple = ()         # models trained with every seed (error bars over seeds)
    head_variant: bool = True       # also train model 12 with the other NN2 head
    nn1_variant_models: tuple = ()  # also trained with NN1's "d2-first" head (pathological outputs)
    train_divisors: tuple = ()      # models also trained on 1/d of the training part, each d
    # baseline archs also trained, e.g. "unet,fno" (diffsurr.baselines)
    baselines: str = ""


@dataclass(frozen=True)
class Evaluation:
    """How much of the test and training data the evaluation stages read."""

    n_figure_samples: int = 20      # test samples kept for Figs. 5-7
    max_eval_train: int = 4000      # training samples evaluated for the train-set panels
    n_generalise: int = 1000        # test samples per source layout (generalisation study)


@dataclass(frozen=True)
class Execution:
    """Where and how fast a run executes; added to the training section by
    :func:`diffsurr.stages.train.train_config` (``device`` resolved there)."""

    device: str = "auto"
    amp: bool = False               # bf16 autocast in training (CUDA only; the authors: float32)
    channels_last: bool = True      # speed options (NHWC: faster on CPU, fp32 all the same)
    compile: bool = False


SECTIONS = {"data": Data, "network": Network, "training": Training, "study": Study,
            "evaluation": Evaluation, "execution": Execution}
"""Each section of a profile and its type."""
PATHS = {
    "n_samples": "data.n_samples", "test_fraction": "data.test_fraction",
    "val_fraction": "data.val_fraction", "epochs": "training.epochs",
    "batch_size": "training.batch_size", "lr": "training.lr", "width": "network.width",
    "head": "network.head", "nn1_head": "network.nn1_head",
    "nn1_lr_scale": "training.nn1_lr_scale", "nn1_warmup": "training.nn1_warmup",
    "train_fraction": "data.train_fraction", "arch": "network.arch",
    "rollback": "training.rollback.kind", "C": "training.rollback.C",
    "m": "training.rollback.m", "s": "training.rollback.s",
    "checkpoint_every": "training.checkpoint_every", "plateau": "training.plateau",
    "milestones": "training.milestones", "models": "study.models",
    "data_seed": "data.data_seed", "split_seed": "data.split_seed", "seed": "training.seed",
    "extra_seeds": "study.extra_seeds", "seed_models": "study.seed_models",
    "head_variant": "study.head_variant", "nn1_variant_models": "study.nn1_variant_models",
    "train_divisors": "study.train_divisors", "baselines": "study.baselines",
    "mode": "data.mode", "placement": "data.placement",
    "n_figure_samples": "evaluation.n_figure_samples",
    "max_eval_train": "evaluation.max_eval_train", "n_generalise": "evaluation.n_generalise",
    "device": "execution.device", "amp": "execution.amp",
    "channels_last": "execution.channels_last", "compile": "execution.compile",
}
"""Where each flat value lives in its section, in the order that names run folders
(:mod:`diffsurr.runid`) and orders the ``profile_*`` attributes of committed results."""


@dataclass(frozen=True)
class Profile:
    """Every value a stage of the study needs, in typed sections; each value is also read
    (``profile.lr``, the same as ``profile.training.lr``) and overridden by its flat name."""

    name: str
    description: str
    data: Data
    network: Network
    training: Training              # a run's TrainConfig is it with the execution values
    study: Study
    evaluation: Evaluation
    execution: Execution

    @classmethod
    def make(cls, name: str, description: str, **values) -> "Profile":
        """The profile of the flat ``values`` (the sections' defaults for the others), each
        converted by :func:`coerce` and checked against :data:`RANGES`; ValueError if not."""
        unknown = set(values) - set(VALUE_NAMES)
        if unknown:
            raise ValueError(f"unknown profile value(s) {sorted(unknown)}; valid: "
                             f"{list(VALUE_NAMES)}")
        values = {k: coerce(k, v) for k, v in values.items()}
        for k, v in values.items():
            if k in RANGES and not RANGES[k][0](v):
                raise ValueError(f"{k} must be {_expect(k)}, got {v!r}")
        tree: dict = {}
        for k, v in values.items():
            *parents, leaf = PATHS[k].split(".")
            functools.reduce(lambda node, part: node.setdefault(part, {}), parents, tree)[leaf] = v
        return cls(name, description,
                   **{s: _build(t, tree.get(s, {})) for s, t in SECTIONS.items()})

    def __getattr__(self, name: str):
        """A value by its flat name (:data:`PATHS`); called only for names that are not fields."""
        if name not in PATHS:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return _GETTERS[name](self)

    def values(self) -> dict:
        """Every value by its flat name, in :data:`VALUE_NAMES` order."""
        return {k: get(self) for k, get in _GETTERS.items()}

    def replace(self, **overrides) -> "Profile":
        """A copy with some values changed; unknown names and bad values raise ValueError.

        Values given as text (papermill passes what it cannot parse as a number as text) are
        converted by :meth:`coerce` first.
        """
        return Profile.make(self.name, self.description, **{**self.values(), **overrides})

    def resolved_device(self) -> str:
        """``device``, with "auto" resolved; ValueError if it asks for CUDA and there is none."""
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {self.device!r} asked for, but CUDA is not available "
                             "here; use device='cpu' or 'auto'")
        return self.device

    def as_attrs(self) -> dict:
        """``profile_<name>`` for the name, the description and every flat value."""
        return {f"profile_{k}": v for k, v in
                {"name": self.name, "description": self.description, **self.values()}.items()}


_GETTERS = {name: attrgetter(path) for name, path in PATHS.items()}
_hints = functools.cache(get_type_hints)
"""The types of a section's fields (resolved once)."""


def _build(kind: type, tree: dict):
    """An instance of section ``kind`` from a tree of values (nested dicts: nested sections)."""
    hints = _hints(kind)
    return kind(**{k: _build(hints[k], v) if isinstance(v, dict) else v for k, v in tree.items()})


def baseline_archs(text: str) -> tuple[str, ...]:
    """The arch names of a ``baselines`` value ("unet,fno" -> ("unet", "fno"))."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _archs_ok(text: str) -> bool:
    names = baseline_archs(text)
    return len(set(names)) == len(names) and set(names) <= set(ARCHS[1:])


CHOICES = {"head": HEADS, "nn1_head": NN1_HEADS, "arch": ARCHS, "rollback": KINDS,
           "mode": ("clamped", "production"), "placement": ("preprint", "code")}
_POSITIVE = (lambda v: v > 0, "> 0")
SEED_END = 2 ** 64
"""Seeds are below 2**64, the end of torch.manual_seed's range (numpy takes them too)."""
_SEEDS = ">= 0 and < 2**64 (torch.manual_seed's range)"
RANGES = {
    **dict.fromkeys(("n_samples", "epochs", "batch_size", "m", "s", "checkpoint_every",
                     "n_figure_samples", "max_eval_train", "n_generalise", "lr", "width", "C",
                     "nn1_lr_scale"),
                    _POSITIVE),
    **dict.fromkeys(("data_seed", "split_seed", "seed"), (lambda v: 0 <= v < SEED_END, _SEEDS)),
    **dict.fromkeys(("plateau", "nn1_warmup"), (lambda v: v >= 0, ">= 0")),
    "extra_seeds": (lambda v: all(0 <= s < SEED_END for s in v), f"each {_SEEDS}"),
    "models": (lambda v: set(v) <= set(range(1, 15)), "Table 2 model numbers (1-14)"),
    **dict.fromkeys(("test_fraction", "val_fraction"), (lambda v: 0 < v < 1, "in (0, 1)")),
    "train_fraction": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "train_divisors": (lambda v: all(d >= 2 for d in v), "each >= 2"),
    **{name: (lambda v, valid=valid: v in valid, f"one of {valid}")
       for name, valid in CHOICES.items()},
    "baselines": (_archs_ok, f"comma-separated names from {ARCHS[1:]}, each once"),
    "device": (lambda v: re.fullmatch(r"auto|cpu|cuda(:\d+)?", v) is not None,
               "'auto', 'cpu', 'cuda' or 'cuda:N'"),
}
"""The valid range of each value that has one: (test, text for error messages)."""
VALUE_NAMES = tuple(PATHS)
"""The values a run can override by name (everything but the profile's name and description)."""


def _leaf_type(path: str) -> str:
    """The type of the value at ``path`` in a profile, by name ("int", "tuple", ...)."""
    *parents, leaf = path.split(".")
    return _hints(functools.reduce(lambda kind, part: _hints(kind)[part], parents, Profile))[
        leaf].__name__


_TYPES = {name: _leaf_type(path) for name, path in PATHS.items()}
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def coerce(name: str, value):
    """``value`` as the type of profile value ``name``, or ValueError saying what is valid.

    int: an integer (not a bool, not 9.5); float: a finite number; bool: True/False or one of
    the spellings true/yes/1, false/no/0; tuple: a sequence or comma-separated text of integers.
    """
    kind = _TYPES[name]
    bad = ValueError(f"{name} must be {_expect(name)}, got {value!r}")
    if kind == "bool":
        return coerce_flag(name, value)
    if isinstance(value, bool):
        raise bad
    if kind == "int":
        if isinstance(value, Integral):
            return int(value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad from None
        if not number.is_integer():          # 9.5, inf and nan
            raise bad
        return int(number)
    if kind == "float":
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad from None
        if not math.isfinite(number):
            raise bad
        return number
    if kind == "tuple":
        items = value.split(",") if isinstance(value, str) else value
        try:
            return tuple(coerce("seed", v) for v in items if str(v).strip() != "")
        except (TypeError, ValueError):
            raise bad from None
    if not isinstance(value, str):
        raise bad
    return value


def coerce_flag(name: str, value) -> bool:
    """``value`` as a real boolean: True/False or true/yes/1, false/no/0 (any case); anything
    else (a string such as "maybe" would count as true in Python) is a ValueError."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"{name} must be {_KIND_TEXT['bool']}, got {value!r}")


def _expect(name: str) -> str:
    """'an integer > 0' and the like: the type and range of value ``name`` as text."""
    if _TYPES[name] == "str" and name in RANGES:
        return RANGES[name][1]
    return " ".join([_KIND_TEXT[_TYPES[name]]] + ([RANGES[name][1]] if name in RANGES else []))


_KIND_TEXT = {"int": "an integer", "float": "a finite number", "str": "a string",
              "bool": "a boolean (True/False, or true/yes/1, false/no/0)",
              "tuple": "a list of integers (e.g. 1,2)"}


_REFERENCE = Profile.make(
    name="reference",
    description="Table 2 at the largest scale a 2-core CPU runs in 8 hours: the "
                "authors' data (production sources, code placement, 20,000 "
                "samples, 80/20 split, a tenth of the training part for validation), batch "
                "25, the preprint's roll-back rule, NN1 at full width; NN2 at 1/4 width "
                "with the relu head, Adam 1e-3 and 8 epochs, as the pilot chose; not the "
                "preprint's 800 epochs at lr 5e-6; plus a U-Net and an FNO baseline with "
                "model 12's loss",
    n_samples=20_000, test_fraction=0.2, val_fraction=0.1, epochs=8, batch_size=25,
    lr=1e-3, width=0.25, head="relu", checkpoint_every=1, mode="production",
    placement="code", max_eval_train=4000, extra_seeds=(1, 2), seed_models=(5, 9, 11, 12),
    head_variant=False, baselines="unet,fno", n_generalise=500)
"""The reference study; the probe and convergence profiles are it with what they name changed,
so they read the same data set."""


def _from_reference(name: str, description: str, **changes) -> Profile:
    """The reference profile with the values ``changes`` names changed."""
    return Profile.make(name, description, **{**_REFERENCE.values(), **changes})


PROFILES = {
    "paper": Profile.make(
        name="paper",
        description="the preprint's scale (Sec. 2): 20,000 samples, 800 epochs, batch 25, "
                    "Adam 5e-6, full-width Table 1 networks; for a GPU",
        n_samples=20_000, test_fraction=0.2, val_fraction=0.1, epochs=800, batch_size=25,
        lr=5e-6, width=1.0, head="table1", checkpoint_every=10, baselines="unet,fno"),
    "ci": Profile.make(
        name="ci",
        description="the same pipeline scaled to a 2-core CPU: fewer samples and epochs, NN2 "
                    "channels / 8, Adam 1e-3, roll-back window m = 5, and NN2's output head "
                    "without its final BatchNorm (the Table 1 head dies at this learning rate; "
                    "model 12 is also trained with it to show that); models 6 and 9 are also "
                    "trained with NN1's dropout D2 moved before its last conv (the results "
                    "page); a U-Net and an FNO baseline with model 12's loss; not the "
                    "preprint's scale",
        n_samples=1_000, test_fraction=0.2, val_fraction=0.1, epochs=6, batch_size=25,
        lr=1e-3, width=0.125, head="relu", m=5, s=2, checkpoint_every=2,
        max_eval_train=400, extra_seeds=(1, 2), seed_models=(5, 6, 9, 11, 12),
        nn1_variant_models=(6, 9), baselines="unet,fno", n_generalise=100),
    "pilot": Profile.make(
        name="pilot",
        description="the reference data (production sources, code placement, 20,000 samples) "
                    "and training rules, with short runs of model 12 at two NN2 widths and "
                    "two learning rates, to choose the reference schedule; not the preprint's "
                    "scale",
        n_samples=20_000, test_fraction=0.2, val_fraction=0.1, epochs=12, batch_size=25,
        lr=1e-3, width=0.25, head="relu", checkpoint_every=1, mode="production",
        placement="code", max_eval_train=4000, n_generalise=200),
    "reference": _REFERENCE,
    "probe": _from_reference(
        name="probe",
        description="the reference data and settings for 3 epochs, models 9 and 11 only, "
                    "each with one change to NN1 (its learning rate, its last activation or a "
                    "warm-up alone), to find the smallest change that keeps NN1's output "
                    "alive in NN1 + NN2 models; not the preprint's scale",
        epochs=3, extra_seeds=(), seed_models=(), baselines="", n_generalise=200),
    "convergence": _from_reference(
        name="convergence",
        description="the reference study's data and settings trained 4× longer: models 4, 5, "
                    "6, 9, 11 and 12 (the pairs that decide the claims) for up to 32 epochs, "
                    "stopped earlier on a plateau of the smoothed validation loss, with the "
                    "test set evaluated after 8, 16 and 32 epochs and the roll-back rule "
                    "active after epoch 20; in models with both networks NN1 learns at the "
                    "preprint's lr 5e-6 (the NN1 probe's choice; NN2 at 1e-3); a second seed "
                    "of models 9, 11 and 12; not the preprint's 800 epochs at lr 5e-6",
        epochs=32, plateau=8, milestones=(8, 16, 32), models=(4, 5, 6, 9, 11, 12),
        nn1_lr_scale=0.005,
        extra_seeds=(1,), seed_models=(9, 11, 12), baselines="", n_generalise=200),
    "datasize": _from_reference(
        name="datasize",
        description="the reference data and settings, model 12 trained on all, 1/2, 1/4 and "
                    "1/8 of the training part (the same validation and test sets), each for 8 "
                    "epochs and, the smaller shares, also for as many optimiser steps as on "
                    "all of it (16, 32 and 64 epochs): does data or training limit the "
                    "surrogate? Not the preprint's scale",
        models=(12,), train_divisors=(2, 4, 8), extra_seeds=(), seed_models=(),
        baselines="", n_generalise=200),
    "smoke": Profile.make(
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
