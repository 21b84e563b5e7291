"""Workflow rule ``train``: train one run with roll-back (Eq. 3) and write its model.pt and
history.nc in its folder (the layout: :mod:`diffsurr.study`).

Every value is checked and every output folder found writable before any compute. Final
files are written atomically and only at the end of a stage, so a later stage never reads a
half-finished file; ``checkpoint.pt`` is the training stage's own resume point. A file that
belongs to another run (its stored identity differs) is refused with both identities. One
stage at a time works in a run folder (:mod:`diffsurr.runlock`), and each file a stage writes
is recorded in the profile's manifest (:mod:`diffsurr.manifest`).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import xarray as xr

from .. import io, manifest
from ..dataset import ensure_data
from ..loss import ExpWeightedLoss
from ..nets import Surrogate
from ..profiles import Profile, coerce_flag
from ..registry import spec
from ..results import load_split
from ..runid import RunId, identity_diff
from ..runlock import run_lock
from ..ties import recorded_model
from ..study import TRAIN_OUTPUTS, build_model, eval_name, history_name, milestone_file
from ..train import TrainConfig, train

# Rough cost of one sample through one epoch (training step and validation), in ms. CPU, one
# torch thread: what the reference runs' history.nc record on the 2-core CPU at their quietest
# (a loaded machine takes up to twice as long), NN2 at width 1/4, its cost growing as width².
# CUDA, any network: the preprint's training time on the speed-up page, about 12 h for 800
# epochs of 16,000 samples on a Quadro RTX 6000.
CPU_MS = {"nn1": 11.0, "nn2": 8.0, "unet": 9.0, "fno": 50.0}
CUDA_MS = 12 * 3600e3 / (800 * 16_000)


def training_estimate(profile: Profile, model: int) -> tuple[float, str]:
    """Rough seconds to train ``model`` with ``profile`` on its device (epochs × training and
    validation samples × :data:`CPU_MS` or :data:`CUDA_MS`), and a sentence that says so."""
    device = profile.resolved_device()
    samples = round(profile.n_samples * (1 - profile.test_fraction) * profile.train_fraction)
    if device.startswith("cuda"):
        ms, basis = CUDA_MS, "the preprint's time per sample on its GPU"
    else:
        if profile.arch != "table1":
            ms = CPU_MS[profile.arch]
        else:
            s = spec(model)
            ms = (CPU_MS["nn1"] * (s.p1 > 0)
                  + CPU_MS["nn2"] * (profile.width / 0.25) ** 2 * (s.p2 > 0))
        basis = "the reference runs' time per sample on a 2-core CPU, one torch thread"
    seconds = profile.epochs * samples * ms / 1e3
    text = (f"estimated training time on {device}: about {io.duration(seconds)} "
            f"({profile.epochs} epochs × {samples:,} samples × about {ms:.3g} ms, {basis})")
    if seconds > 3600:
        text += ("; over an hour: interrupt now unless you mean it (a scaled profile such as "
                 "-p profile ci takes minutes)")
    return seconds, text


def train_config(profile: Profile, model: int | None = None) -> TrainConfig:
    """The training settings of ``profile``: its training section with its execution values;
    NN1's learning-rate scale and warm-up only where ``model`` has both networks (the fixes
    that keep NN1 alive beside NN2), so NN1 alone and NN2 alone train the same whatever these
    values."""
    both = model is None or (spec(model).p1 != 0 and spec(model).p2 != 0)
    run = profile.execution
    return TrainConfig.of(profile.training, device=profile.resolved_device(), amp=run.amp,
                          channels_last=run.channels_last, compile=run.compile,
                          **({} if both else {"nn1_lr_scale": 1.0, "nn1_warmup": 0}))


def _identity(run: RunId, net: Surrogate, cfg: TrainConfig, data_sha: str,
              replaces: str | None) -> dict:
    """What a checkpoint and model.pt record, and what must match to resume or load them."""
    return {"run": run.as_dict(), "net": net.config, "train": cfg.signature(),
            "data_sha256": data_sha, "replaces": replaces}


def _trained(run: RunId, out: Path) -> tuple[dict | None, bool]:
    """The saved model.pt of ``run`` if the run finished (model.pt and history.nc readable and
    of this run), else None; and whether history.nc records that very model.pt (False: a
    training stopped between writing them). ValueError if they belong to another run."""
    if not (out / "model.pt").exists() or not (out / "history.nc").exists():
        return None, False
    saved, sha = io.load_checkpoint(out / "model.pt", with_sha=True)
    history = io.read_netcdf(out / "history.nc", require=("train_loss", "val_loss"))
    if saved.get("identity", {}).get("run") != run.as_dict():
        raise ValueError(f"{out / 'model.pt'} belongs to another run: it holds "
                         f"{saved.get('identity', {}).get('run')}, this run is {run.as_dict()}; "
                         "delete it or train with retrain=True")
    return saved, history.attrs.get("model_sha256", sha) == sha


def train_stage(run: RunId, retrain: bool = False, progress: bool = True,
                **execution) -> Path:
    """Train ``run`` with roll-back; write model.pt and history.nc into its folder.

    Prints the estimated time first and makes the data set where it is missing. Resumes
    from ``checkpoint.pt`` after an interruption. A finished run is left alone unless
    ``retrain`` is true. The run folder is locked (:mod:`diffsurr.runlock`) throughout. A new
    model is committed in this order: the old evaluations removed, model.pt written, then
    history.nc, which records the model's SHA-256 and so marks the run trained; a run whose
    history names another model.pt (a training stopped in between) is trained again. The
    profile's ``milestones`` keep the best model after that many epochs (milestone-EEE.pt).
    """
    retrain = coerce_flag("retrain", retrain)
    start = io.stage_start()
    profile = run.config(**execution)
    cfg = train_config(profile, run.model)
    out = io.prepare_output_dir(run.dir, TRAIN_OUTPUTS + tuple(
        milestone_file(e) for e in profile.milestones))
    with run_lock(out, "train", str(run)):
        return _train_locked(run, out, retrain, progress, start, profile, cfg)


def _train_locked(run, out, retrain, progress, start, profile, cfg) -> Path:
    saved, whole = _trained(run, out)
    if saved is not None and whole and not retrain:
        print(f"{run} is already trained in {out}; nothing to do (retrain=True trains it again)")
        return out
    print(training_estimate(profile, run.model)[1], flush=True)
    ensure_data(profile, "train stage")
    split, data_sha = load_split(profile)
    torch.manual_seed(run.seed)                  # initial weights
    net = build_model(profile, run.model)
    replaces = None
    if saved is not None and not whole:
        print(f"{out / 'model.pt'} is not the model {out / 'history.nc'} records: a training "
              "stopped between writing them; training again to repair the run")
        replaces = saved.get("identity", {}).get("replaces")
    elif saved is not None:
        replaces = io.sha256_file(out / "model.pt")
    identity = _identity(run, net, cfg, data_sha, replaces)
    ckpt = out / "checkpoint.pt"
    if ((retrain or saved is not None) and ckpt.exists()
            and identity_diff(io.load_checkpoint(ckpt).get("identity"), identity)):
        ckpt.unlink()                            # a resume point of some earlier training
    loss_fn = ExpWeightedLoss.from_spec(spec(run.model))
    t0 = time.perf_counter()

    def provenance(history: xr.Dataset) -> None:
        history.attrs.update(io.provenance(start, **{
            **profile.as_attrs(), **net.config, **run.attrs(), "device": cfg.device,
            "data_sha256": data_sha, "n_train": len(split["train"][0]),
            "n_val": len(split["val"][0]), "stage_wall_time_s": time.perf_counter() - t0,
            "peak_rss_bytes": io.peak_rss_bytes(), "torch_threads": torch.get_num_threads(),
            **_cuda_peak(cfg.device)}))

    def on_milestone(epoch: int, best: dict, history: xr.Dataset) -> None:
        """The best model after ``epoch`` epochs and the history so far (history-EEE.nc,
        committed while the run goes on: a lost machine loses at most one milestone)."""
        sha = io.save_checkpoint({"state": best["state"], "config": net.config,
                                  "identity": identity, "epoch": epoch,
                                  "best_epoch": best["epoch"]}, out / milestone_file(epoch))
        provenance(history)
        history.attrs["model_sha256"] = sha
        io.write_netcdf(history, out / history_name(epoch))
        manifest.record(run.profile, out / history_name(epoch), start["git_commit"], run,
                        model_sha256=sha, data_sha256=data_sha)

    best, history = train(net, loss_fn, *split["train"], *split["val"], cfg,
                          checkpoint=ckpt, identity=identity, progress=progress,
                          on_milestone=on_milestone)
    provenance(history)
    _commit(run, out, start["git_commit"], history,
            {"state": best, "config": net.config, "identity": identity}, data_sha)
    ckpt.unlink(missing_ok=True)
    print(f"{run}: {int((history.accepted == 1).sum())} accepted epochs, "
          f"{history.attrs['n_rollbacks']} roll-backs, best epoch {history.attrs['best_epoch']}, "
          f"{history.attrs['wall_time_s']:.1f} s -> {out}")
    return out

def _commit(run: RunId, out: Path, commit: str, history, model: dict, data_sha: str) -> None:
    """Replace the run's model: its evaluations (of the old one) and the milestones'
    histories (history.nc holds them) removed, a milestone's evaluation only where it
    describes another model than its milestone file; model.pt, then history.nc naming the
    model's SHA-256, the write that marks the run trained; each in the manifest."""
    stale = ["eval.nc"] + [history_name(e) for e in run.config().milestones]
    for e in run.config().milestones:
        weights, ev = out / milestone_file(e), out / eval_name(e)
        if not (weights.is_file() and ev.is_file()
                and recorded_model(ev) == io.sha256_file(weights)):
            stale.append(eval_name(e))
    for name in stale:
        (out / name).unlink(missing_ok=True)
        manifest.forget(run.profile, out / name)
    model_sha = io.save_checkpoint(model, out / "model.pt")
    manifest.record(run.profile, out / "model.pt", commit, run, data_sha256=data_sha)
    history.attrs["model_sha256"] = model_sha
    io.write_netcdf(history, out / "history.nc")
    manifest.record(run.profile, out / "history.nc", commit, run, model_sha256=model_sha,
                    data_sha256=data_sha)

def _cuda_peak(device: str) -> dict:
    """Peak CUDA memory allocated by this process, where the training ran on CUDA."""
    if not device.startswith("cuda"):
        return {}
    return {"cuda_peak_bytes": torch.cuda.max_memory_allocated(device)}

