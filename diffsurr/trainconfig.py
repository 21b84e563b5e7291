"""The settings of one training run (:mod:`diffsurr.train`), apart from the trainer so that the
run profiles (:mod:`diffsurr.profiles`) hold them as their training section without importing
the networks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .rollback import RollbackRule

EXECUTION_SETTINGS = ("device", "checkpoint_every", "channels_last", "compile")
"""Settings of how a run executes, not what it computes: never part of a run's identity (a
checkpoint written on another device, or compiled, resumes all the same)."""


@dataclass(frozen=True)
class Training:
    """What a run trains with, each value checked on its own: a run profile's training section
    (:mod:`diffsurr.profiles`), which may hold milestones or a warm-up longer than a run."""

    epochs: int = 800
    batch_size: int = 25
    lr: float = 5e-6
    nn1_lr_scale: float = 1.0     # NN1's learning rate is lr * nn1_lr_scale (a departure if != 1)
    nn1_warmup: int = 0           # first accepted epochs with NN1 alone (a departure if > 0)
    seed: int = 0
    rollback: RollbackRule = field(default_factory=RollbackRule)
    max_rollbacks: int = 200
    checkpoint_every: int = 5
    plateau: int = 0              # stop when on a plateau over this many epochs (0: never)
    milestones: tuple = ()        # accepted epochs at which on_milestone gets the best state

    def __post_init__(self):
        for name in ("epochs", "batch_size", "checkpoint_every"):
            _positive_integer(name, getattr(self, name))
        for name in ("lr", "nn1_lr_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("plateau", "nn1_warmup"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 0):
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if self.max_rollbacks < 0:
            raise ValueError(f"max_rollbacks must be >= 0, got {self.max_rollbacks}")


@dataclass(frozen=True)
class TrainConfig(Training):
    """Settings of one training run: its :class:`Training` values and where and how fast it
    executes, checked together (a warm-up shorter than the run, milestones within it, bf16
    autocast on CUDA only)."""

    device: str = "cpu"
    amp: bool = False             # bf16 autocast (CUDA only)
    channels_last: bool = True    # NHWC tensors: faster on CPU (oneDNN), fp32 all the same
    compile: bool = False
    # Speed only (not in the signature; tools/speed.py train-speed measures them on CPU).
    # Threads are the process's (OMP_NUM_THREADS; the workflow runs one per job, the fastest
    # on a shared 2-core CPU): train() never changes them, because lowering and raising
    # torch's thread count inside a process broke MKL's batched LU afterwards (torch 2.13).
    fused_adam: bool = True       # Adam(fused=True): fp32, rounding differs from the loop's
    val_batch_size: int = 256     # validation batches (inference mode)

    def __post_init__(self):
        super().__post_init__()
        _positive_integer("val_batch_size", self.val_batch_size)
        if self.nn1_warmup >= self.epochs:
            raise ValueError(f"nn1_warmup ({self.nn1_warmup}) must be fewer than the "
                             f"{self.epochs} epochs")
        if not all(isinstance(e, int) and 1 <= e <= self.epochs for e in self.milestones):
            raise ValueError(f"milestones must be epochs in 1..{self.epochs}, got "
                             f"{self.milestones!r}")
        if self.amp and not str(self.device).startswith("cuda"):
            raise ValueError("amp (bf16 autocast) is for CUDA devices only; set amp=False on "
                             f"{self.device!r}")

    @classmethod
    def of(cls, training: Training, **values) -> "TrainConfig":
        """The run of ``training`` (a profile's section) with ``values`` set (device, ...)."""
        return cls(**{**{f.name: getattr(training, f.name) for f in fields(Training)}, **values})

    def signature(self) -> dict:
        """What must agree between a checkpoint and a run that resumes it."""
        d = asdict(self)
        d["rollback"] = asdict(self.rollback)
        for key in ("checkpoint_every", "milestones", "device", "compile", "channels_last",
                    "fused_adam", "val_batch_size"):
            d.pop(key)
        if not d["nn1_warmup"]:
            d.pop("nn1_warmup")         # so checkpoints written before it existed still resume
        return d


def _positive_integer(name: str, value) -> None:
    if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
