"""The study's stages as functions: data, train, evaluate (the notebooks call these).

Layout of ``results/<profile>/``::

    data.nc                 inputs, targets and the train/val/test split
    model_09/model.pt       best weights (validation loss) and the model's configuration
    model_09/history.nc     per-epoch losses, roll-backs, alive fractions, wall time
    model_09/eval.nc        metrics, figure samples, histograms (diffsurr.evaluate)
    model_09_seed1/ ...     the same model trained with another seed
    model_09_rollback-none/ the same model with a profile value overridden (here: no roll-back)

Final files are written atomically and only at the end of a stage, so a later stage never
reads a half-finished file; ``checkpoint.pt`` is the training stage's own resume point.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from . import data, io
from .loss import ExpWeightedLoss
from .nets import Surrogate
from .profiles import PROFILES, Profile
from .registry import spec
from .rollback import RollbackRule
from .train import TrainConfig, train

def results_dir(profile: Profile) -> Path:
    """``results/<profile>/`` (the root can be moved with $DIFFSURR_RESULTS, e.g. in tests)."""
    return Path(os.environ.get("DIFFSURR_RESULTS", io.REPO_ROOT / "results")) / profile.name


# Overriding these does not change what a run computes, so it does not change its folder.
_NOT_IN_TAG = {"name", "description", "device", "seed", "checkpoint_every", "max_eval_train",
               "n_figure_samples", "extra_seeds", "seed_models", "channels_last", "compile",
               "n_generalise"}


def run_tag(profile: Profile) -> str:
    """``key-value`` for each value that differs from the named profile ('' if none)."""
    base = PROFILES[profile.name]
    return "_".join(f"{k}-{getattr(profile, k)}" for k in profile.__dataclass_fields__
                    if k not in _NOT_IN_TAG and getattr(profile, k) != getattr(base, k))


def model_dir(profile: Profile, model: int, seed: int | None = None) -> Path:
    """``results/<profile>/model_NN[_seedS][_key-value...]``."""
    seed = profile.seed if seed is None else seed
    parts = [f"model_{spec(model).model:02d}"] + ([f"seed{seed}"] if seed != profile.seed else [])
    tag = run_tag(profile)
    return results_dir(profile) / "_".join(parts + ([tag] if tag else []))


def data_stage(profile: Profile, force: bool = False) -> Path:
    """Generate ``results/<profile>/data.nc`` (and its split) unless it already exists."""
    path = results_dir(profile) / "data.nc"
    if path.exists() and not force:
        print(f"{path} exists; nothing to do (force=True regenerates it)")
        return path
    ds = data.generate(profile.n_samples, seed=profile.data_seed, mode=profile.mode,
                       placement=profile.placement, profile=profile.name,
                       **profile.as_attrs())
    idx = data.split(profile.n_samples, profile.test_fraction, profile.val_fraction,
                     profile.split_seed)
    ds["split"] = ("sample", np.full(profile.n_samples, "train", dtype="<U5"))
    for name in ("val", "test"):
        ds["split"][idx[name]] = name
    io.write_netcdf(ds, path)
    print(f"wrote {path}: {profile.n_samples} samples in {ds.attrs['wall_time_s']:.1f} s")
    return path


def load_split(profile: Profile) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Inputs and targets of each split as (n, 1, N, N) float32 tensors."""
    ds = data.load(results_dir(profile) / "data.nc")
    if ds.attrs.get("n") != profile.n_samples:
        raise ValueError(f"{results_dir(profile) / 'data.nc'} holds {ds.attrs.get('n')} samples "
                         f"but profile {profile.name!r} asks for {profile.n_samples}: rerun the "
                         "data stage with force=True")
    out = {}
    for name in ("train", "val", "test"):
        sel = ds.split.values == name
        out[name] = tuple(torch.from_numpy(ds[v].values[sel]).unsqueeze(1)
                          for v in ("input", "target"))
    return out


def build_model(profile: Profile, model: int) -> Surrogate:
    return Surrogate.from_table2(model, width=profile.width, head=profile.head)


def train_config(profile: Profile, device: str | None = None,
                 seed: int | None = None) -> TrainConfig:
    device = device or profile.resolved_device()
    return TrainConfig(epochs=profile.epochs, batch_size=profile.batch_size, lr=profile.lr,
                       seed=profile.seed if seed is None else seed, checkpoint_every=profile.checkpoint_every,
                       rollback=RollbackRule(profile.rollback, profile.C, profile.m, profile.s),
                       device=device, amp=device.startswith("cuda"),
                       channels_last=profile.channels_last, compile=profile.compile)


def train_stage(profile: Profile, model: int, seed: int | None = None,
                retrain: bool = False, device: str | None = None,
                progress: bool = True) -> Path:
    """Train Table 2 ``model`` with roll-back; write model.pt and history.nc.

    Resumes from ``checkpoint.pt`` after an interruption. A finished model is left alone
    unless ``retrain`` is true.
    """
    seed = profile.seed if seed is None else seed
    out = model_dir(profile, model, seed)
    final = (out / "model.pt", out / "history.nc")
    if all(p.exists() for p in final) and not retrain:
        print(f"model {model} ({profile.name}, seed {seed}) is already trained in {out}; "
              "nothing to do (retrain=True trains it again)")
        return out
    if retrain:
        for p in (*final, out / "checkpoint.pt"):
            p.unlink(missing_ok=True)
    split = load_split(profile)
    torch.manual_seed(seed)                      # initial weights
    net = build_model(profile, model)
    cfg = train_config(profile, device, seed)
    loss_fn = ExpWeightedLoss.from_spec(spec(model))
    t0 = time.perf_counter()
    best, history = train(net, loss_fn, *split["train"], *split["val"], cfg,
                          checkpoint=out / "checkpoint.pt", identity=net.config,
                          progress=progress)
    history.attrs.update(io.provenance(**{
        **profile.as_attrs(), **net.config, "seed": seed, "device": cfg.device,
        "n_train": len(split["train"][0]), "n_val": len(split["val"][0]),
        "stage_wall_time_s": time.perf_counter() - t0}))
    io.save_checkpoint({"state": best, "config": net.config, "profile": profile.name,
                        "seed": seed}, final[0])
    io.write_netcdf(history, final[1])
    (out / "checkpoint.pt").unlink(missing_ok=True)
    print(f"model {model}: {int((history.accepted == 1).sum())} accepted epochs, "
          f"{history.attrs['n_rollbacks']} roll-backs, best epoch {history.attrs['best_epoch']}, "
          f"{history.attrs['wall_time_s']:.1f} s -> {out}")
    return out


def load_trained(profile: Profile, model: int, seed: int | None = None) -> Surrogate:
    """The trained surrogate of ``model`` (eval mode), checked against its configuration."""
    path = model_dir(profile, model, seed) / "model.pt"
    saved = io.load_checkpoint(path)
    net = build_model(profile, model)
    if saved.get("config") != net.config:
        raise ValueError(f"{path} holds a model built as {saved.get('config')}, but model "
                         f"{model} of profile {profile.name!r} is {net.config}")
    net.load_state_dict(saved["state"])
    return net.eval()
