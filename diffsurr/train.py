"""The roll-back trainer (preprint Sec. 2, Eq. 3, Fig. 4).

Adam on mini-batches of the training split; after every epoch the rule of
:mod:`diffsurr.rollback` decides whether the epoch is a jump, in which case the model and
optimiser go back to an earlier state and training goes on from there (with new shuffles).
The kept model is the one with the lowest loss on a validation split carved from the training
data (the preprint keeps "the lowest loss regardless of epoch"; the authors' code selected on
the test set, which leaks, see the book's differences page; the test set is never seen here).

Every ``checkpoint_every`` accepted epochs the whole state (weights, optimiser, the states
needed to roll back, best model, history, random generators) is written atomically, so a
killed run resumes from its last checkpoint and ends with the same weights as an
uninterrupted one (on CPU).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import xarray as xr
from tqdm import tqdm

from . import io, plateau
from .nets import alive_fraction
from .trainconfig import EXECUTION_SETTINGS, TrainConfig

# Per attempted epoch: ``accepted`` is 0 for a jump; ``kept`` is 1 for the epochs that form
# the final trajectory (0 for a jump and for the accepted epochs a later roll-back undid).
MAX_NON_FINITE = 3
"""Non-finite training losses in a row, each after a roll-back to a finite state, that stop a
run."""
HISTORY_VARS = ("epoch", "train_loss", "val_loss", "accepted", "kept", "rolled_back_to",
                "wall_time_s", "alive_nn1", "alive_nn2")


def _state(model, opt) -> dict:
    return {"model": copy.deepcopy(model.state_dict()), "opt": copy.deepcopy(opt.state_dict())}


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


class NN1Alone(torch.nn.Module):
    """An NN1 + NN2 Surrogate with NN2 switched off (p1·NN1(x)): what the warm-up epochs
    (``TrainConfig.nn1_warmup``) train and validate; NN2 gets no gradient meanwhile."""

    def __init__(self, surrogate: torch.nn.Module):
        super().__init__()
        self.surrogate = surrogate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.surrogate.combine(self.surrogate.nn1(x), None)


def evaluate_loss(model, loss_fn, x, y, batch_size: int = 256, amp: bool = False,
                  grad_mode=torch.inference_mode) -> float:
    """Mean loss of ``model`` (eval mode) on (x, y), in batches, under ``grad_mode``
    (``torch.no_grad`` is the slower mode that tools/speed.py compares with)."""
    model.eval()
    total = torch.zeros((), device=x.device, dtype=torch.float64)
    with grad_mode(), torch.autocast(x.device.type, torch.bfloat16, enabled=amp):
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            total += loss_fn(model(xb).float(), yb).double() * len(xb)
    return float(total) / len(x)


def train(model: torch.nn.Module, loss_fn, x_train, y_train, x_val, y_val, cfg: TrainConfig,
          checkpoint: str | Path | None = None, identity: dict | None = None,
          progress: bool = True,
          on_epoch_end: Callable[[int], None] | None = None,
          on_milestone: Callable[[int, dict], None] | None = None) -> tuple[dict, xr.Dataset]:
    """Train ``model`` with roll-back; return (best state_dict, history).

    Tensors are (n, 1, N, N). ``identity`` (for example the model's Table 2 configuration)
    is stored in the checkpoint and must match on resume. ``on_epoch_end(n_accepted)`` is
    called after each accepted epoch and its checkpoint (tests use it to simulate a kill).
    ``on_milestone(epoch, best, history)`` gets, for each of ``cfg.milestones``, the best
    state so far and the history so far when that many epochs are accepted (before the
    checkpoint), and the final ones for the milestones a plateau stop (``cfg.plateau``,
    :mod:`diffsurr.plateau`) skipped.
    In the first ``cfg.nn1_warmup`` accepted epochs only NN1 is trained and validated
    (:class:`NN1Alone`); the best model is chosen from the epochs after them.
    """
    return _train(model, loss_fn, x_train, y_train, x_val, y_val, cfg, checkpoint, identity,
                  progress, on_epoch_end, on_milestone)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Adam:
    """The Adam optimiser of a run (fused when ``cfg.fused_adam`` and every parameter is real:
    fused Adam refuses the complex weights of a Fourier neural operator).

    NN1's parameters form their own group with lr · ``cfg.nn1_lr_scale`` (the preprint used
    one lr for both networks; at the scaled profiles' lr NN1's output dies in NN1 + NN2
    models, the book's convergence chapter)."""
    real = all(p.is_floating_point() for p in model.parameters())
    nn1 = getattr(model, "nn1", None)
    params = model.parameters()
    if nn1 is not None and cfg.nn1_lr_scale != 1:
        mine = {id(p) for p in nn1.parameters()}
        params = [{"params": [p for p in model.parameters() if id(p) not in mine]},
                  {"params": list(nn1.parameters()), "lr": cfg.lr * cfg.nn1_lr_scale}]
        params = [g for g in params if g["params"]]
    return torch.optim.Adam(params, lr=cfg.lr,
                            **({"fused": True} if cfg.fused_adam and real else {}))


@dataclass
class _Run:
    """What a run carries from epoch to epoch, and what its checkpoint stores."""

    kept: dict                      # accepted-epoch number -> state after it (roll-back targets)
    best: dict                      # best validation loss, its epoch and weights
    hist: dict = field(default_factory=lambda: {k: [] for k in HISTORY_VARS})
    accepted: list = field(default_factory=list)   # training loss of each accepted epoch
    n_rollbacks: int = 0
    t_used: float = 0.0             # wall time of the run before a resume
    non_finite: int = 0             # non-finite training losses in a row


def _train(model, loss_fn, x_train, y_train, x_val, y_val, cfg, checkpoint, identity, progress,
           on_epoch_end, on_milestone):
    device = torch.device(cfg.device)
    identity = {"model": identity or {}, "train": cfg.signature()}
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))
    opt = make_optimizer(model, cfg)
    step_model = torch.compile(model) if cfg.compile else model
    if cfg.nn1_warmup and (getattr(model, "nn1", None) is None
                           or getattr(model, "nn2", None) is None):
        raise ValueError("nn1_warmup is for models with both NN1 and NN2")
    nn1_alone = NN1Alone(model) if cfg.nn1_warmup else None
    gen = torch.Generator(device="cpu")
    gen.manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    run = _Run(kept={0: _state(model, opt)},
               best={"val": float("inf"), "epoch": 0,
                     "state": copy.deepcopy(model.state_dict())})
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt and ckpt.exists():
        run = _resume(ckpt, identity, model, opt, gen, device)

    t0 = time.perf_counter() - run.t_used
    bar = tqdm(total=cfg.epochs, initial=len(run.accepted), desc="epochs", disable=not progress)
    stopped = _on_plateau(run.hist, cfg)
    while len(run.accepted) < cfg.epochs and not stopped:
        warm = len(run.accepted) < cfg.nn1_warmup
        model.train()
        train_loss = _train_epoch(nn1_alone if warm else step_model, loss_fn, opt, x_train,
                                  y_train, gen, cfg, device)
        val_loss = evaluate_loss(nn1_alone if warm else model, loss_fn, x_val, y_val,
                                 cfg.val_batch_size, cfg.amp)
        alive = alive_fraction(model, x_val[:64])
        n = len(run.accepted)
        jump = _check_loss(run, train_loss, n, cfg)
        back = -1
        if jump:
            back = _roll_back(run, model, opt, n, cfg)
            bar.n = len(run.accepted)
        else:
            _accept(run, model, opt, n, train_loss, val_loss, warm, cfg)
            bar.update(1)
        for key, value in zip(HISTORY_VARS, (n + 1, train_loss, val_loss, not jump, not jump, back,
                                             time.perf_counter() - t0, alive.get("nn1", np.nan),
                                             alive.get("nn2", np.nan))):
            run.hist[key].append(value)
        if not jump and on_milestone is not None and n + 1 in cfg.milestones:
            on_milestone(n + 1, run.best, _history(run.hist, run.n_rollbacks, run.best, t0, cfg,
                                                   len(run.accepted), "running"))
        bar.set_postfix(loss=f"{train_loss:.3g}", val=f"{val_loss:.3g}", rb=run.n_rollbacks)
        stopped = not jump and _on_plateau(run.hist, cfg)
        if not jump and ckpt and ((n + 1) % cfg.checkpoint_every == 0 or n + 1 == cfg.epochs
                                  or stopped):
            _save_checkpoint(ckpt, identity, model, opt, run, gen, device, t0)
        if not jump and on_epoch_end is not None:
            on_epoch_end(n + 1)
    bar.close()
    history = _history(run.hist, run.n_rollbacks, run.best, t0, cfg, len(run.accepted),
                       "plateau" if stopped else "epochs")
    if on_milestone is not None:
        for epoch in sorted(e for e in cfg.milestones if e > len(run.accepted)):
            on_milestone(epoch, run.best, history)
    return run.best["state"], history


def _train_epoch(fit, loss_fn, opt, x, y, gen, cfg: TrainConfig, device) -> float:
    """One pass over the training set in the shuffled order ``gen`` draws; the mean loss.

    ``fit`` (the model, compiled or with NN1 alone) is in training mode. One host-to-device
    copy of the shuffle per epoch; no host sync inside the loop."""
    total = torch.zeros((), device=device, dtype=torch.float64)
    for idx in torch.randperm(len(x), generator=gen).to(device).split(cfg.batch_size):
        total += _train_batch(fit, loss_fn, opt, x[idx], y[idx], cfg.amp, device) * len(idx)
    return float(total) / len(x)


def _train_batch(fit, loss_fn, opt, xb, yb, amp: bool, device) -> torch.Tensor:
    """One Adam step on one batch; its loss (float64, detached, on the device)."""
    with torch.autocast(device.type, torch.bfloat16, enabled=amp):
        loss = loss_fn(fit(xb).float(), yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach().double()


def _check_loss(run: _Run, train_loss: float, n: int, cfg: TrainConfig) -> bool:
    """Whether epoch ``n + 1`` is a jump to roll back (Eq. 3, or a non-finite loss);
    FloatingPointError, naming the likely cause, when non-finite losses go on."""
    finite = bool(np.isfinite(train_loss))
    run.non_finite = 0 if finite else run.non_finite + 1
    if run.non_finite >= MAX_NON_FINITE:
        raise FloatingPointError(
            f"training loss was {train_loss} in {run.non_finite} attempts in a row at epoch "
            f"{n + 1}, each after a roll-back to a finite state: the learning rate "
            f"lr = {cfg.lr:g} is likely too large; lower it (e.g. lr = {cfg.lr / 10:g}), "
            "or check the training data for non-finite values")
    if not finite and (not run.kept or run.n_rollbacks >= cfg.max_rollbacks):
        raise FloatingPointError(
            f"training loss became {train_loss} at epoch {n + 1} after {run.n_rollbacks} "
            f"roll-backs (max_rollbacks = {cfg.max_rollbacks}, rule {cfg.rollback.kind!r}): "
            f"likely causes: a learning rate too large (lr = {cfg.lr:g}) or non-finite "
            "values in the training data")
    return run.n_rollbacks < cfg.max_rollbacks and (
        not finite or cfg.rollback.is_jump(run.accepted, train_loss))


def _roll_back(run: _Run, model, opt, n: int, cfg: TrainConfig) -> int:
    """Model and optimiser back to the state after the rule's target epoch; that epoch."""
    back = max(cfg.rollback.target_epoch(n), min(run.kept))   # min(kept): see needed_states
    model.load_state_dict(run.kept[back]["model"])
    opt.load_state_dict(run.kept[back]["opt"])
    del run.accepted[back:]
    run.kept = {k: v for k, v in run.kept.items() if k <= back}
    run.n_rollbacks += 1
    run.hist["kept"] = [k and e <= back for k, e in zip(run.hist["kept"], run.hist["epoch"])]
    return back


def _accept(run: _Run, model, opt, n: int, train_loss: float, val_loss: float, warm: bool,
            cfg: TrainConfig) -> None:
    """Epoch ``n + 1`` kept: its state stored where the rule may roll back to it, and the
    best model updated (not during NN1's warm-up)."""
    run.accepted.append(train_loss)
    run.kept[n + 1] = _state(model, opt)
    keep = set(cfg.rollback.needed_states(n + 1))
    run.kept = {k: v for k, v in run.kept.items() if k in keep}
    if val_loss < run.best["val"] and not warm:
        run.best = {"val": val_loss, "epoch": n + 1, "state": copy.deepcopy(model.state_dict())}


def _save_checkpoint(ckpt: Path, identity: dict, model, opt, run: _Run, gen, device,
                     t0: float) -> None:
    """The whole state of the run, written atomically (the random generators included)."""
    io.save_checkpoint(_to_cpu({
        "identity": identity, "model": model.state_dict(), "opt": opt.state_dict(),
        "kept": {str(k): v for k, v in run.kept.items()}, "best": run.best,
        "history": run.hist, "accepted": run.accepted, "n_rollbacks": run.n_rollbacks,
        "wall_time_s": time.perf_counter() - t0, "gen": gen.get_state(),
        "torch_rng": torch.get_rng_state(),
        **({"cuda_rng": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {})}),
        ckpt)


def _resume(ckpt: Path, identity: dict, model, opt, gen, device) -> _Run:
    """The run state of checkpoint ``ckpt``, with model, optimiser and random generators set
    from it; ValueError when it belongs to another run (``identity`` differs)."""
    saved = io.load_checkpoint(ckpt)
    differ = io.dict_diff(saved.get("identity"), _to_cpu(identity), ignore=EXECUTION_SETTINGS)
    if differ:
        raise ValueError(f"checkpoint {ckpt} belongs to another run ({'; '.join(differ)}); "
                         "delete it or point to another output folder")
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["opt"])
    gen.set_state(saved["gen"])
    torch.set_rng_state(saved["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in saved:
        torch.cuda.set_rng_state(saved["cuda_rng"], device)
    return _Run(kept={int(k): v for k, v in saved["kept"].items()}, best=saved["best"],
                hist=saved["history"], accepted=saved["accepted"],
                n_rollbacks=saved["n_rollbacks"], t_used=saved["wall_time_s"])


def _history(hist: dict, n_rollbacks: int, best: dict, t0: float, cfg: TrainConfig,
             n_epochs: int, stopped: str) -> xr.Dataset:
    """The history so far as a Dataset: one step per attempted epoch; ``stopped``: "plateau",
    "epochs" or (a milestone's) "running"."""
    return xr.Dataset(
        {k: ("step", np.asarray(hist[k], dtype=np.int8 if k in ("accepted", "kept") else None))
         for k in HISTORY_VARS if k != "epoch"},
        coords={"step": np.arange(len(hist["epoch"])),
                "epoch": ("step", np.asarray(hist["epoch"]))},
        attrs={"n_rollbacks": n_rollbacks, "best_epoch": int(best["epoch"]),
               "best_val_loss": float(best["val"]), "wall_time_s": time.perf_counter() - t0,
               "rollback_rule": cfg.rollback.kind, "n_epochs": n_epochs,
               "stopped": stopped})


def _on_plateau(hist: dict, cfg: TrainConfig) -> bool:
    """Whether the kept validation curve so far is on its plateau (:mod:`diffsurr.plateau`)."""
    kept = [v for v, k in zip(hist["val_loss"], hist["kept"]) if k]
    return plateau.reached(kept, cfg.plateau)
