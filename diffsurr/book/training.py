"""The training chapter: Fig. 4 (loss with and without roll-back), roll-backs per model, and
whether the networks' last ReLU stays alive.

Numbers and sentences for ``book/training.md``. :func:`replay` (the roll-back rule replayed
over a run's losses) is used by ``book/differences.md`` too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from . import plots
from ..profiles import Profile
from .report import WITH_NN1, WITH_NN2, caption, fmt
from ..results import load_history, run_dir
from ..statistics import last_valid
from ..rollback import RollbackRule
from .text import missing_figure, missing_note

PREPRINT_JUMP = 10.0
"""A rise of the training loss between two epochs by at least this factor is one of the
preprint's jumps "by one or two orders of magnitude" (Sec. 2, Fig. 4)."""
PREPRINT_ROLLBACKS = 40
"""The preprint's "typical number of roll-backs" per training run (Sec. 2)."""
PREPRINT_EPOCHS = 800
"""The preprint's epochs per training run (Sec. 2)."""
DEAD_FRACTION = 0.01
"""A last layer with fewer than this fraction of positive pre-activations counts as dead: its
ReLU outputs zero almost everywhere and the network's output is constant."""


def _times(k: int) -> str:
    return "once" if k == 1 else f"{k} times"


def rule_for(profile: Profile) -> RollbackRule:
    """The profile's roll-back rule; the preprint's (with the profile's C, m, s) when the
    profile switches roll-back off, so that a run without it can be replayed."""
    kind = "preprint" if profile.rollback == "none" else profile.rollback
    return RollbackRule(kind, profile.C, profile.m, profile.s)


def replay(history: xr.Dataset, rule: RollbackRule) -> np.ndarray:
    """Per step of a run that never rolled back: whether ``rule`` would have rejected that
    epoch, judged after all the epochs before it (``RollbackRule.is_jump``)."""
    losses = [float(v) for v in history["train_loss"].values]
    return np.array([rule.is_jump(losses[:i], losses[i]) for i in range(len(losses))], bool)


def settings_text(profile: Profile) -> str:
    """The run's roll-back rule and schedule, and how they differ from the preprint's."""
    paper = "" if profile.name == "paper" else (
        f" (the preprint: {PREPRINT_EPOCHS} epochs, m = 20, s = 5; the `paper` profile: lr "
        f"5·10⁻⁶; a run of {profile.epochs} epochs has far fewer chances to jump)")
    return (f"This run: rule `{profile.rollback}` with C = {profile.C:g}, m = {profile.m}, "
            f"s = {profile.s}, {profile.epochs} accepted epochs per model, batch "
            f"{profile.batch_size}, Adam lr {fmt(profile.lr, 2)}{paper}.")


def fig4_histories(profile: Profile, model: int = 9) -> tuple[xr.Dataset | None, xr.Dataset | None]:
    """``history.nc`` of ``model`` without and with roll-back; None for a run not there (no
    run without roll-back where the rule cannot fire; a study under way)."""
    return tuple(load_history(profile, model, **o) if (run_dir(profile, model, **o)
                                                       / "history.nc").exists() else None
                 for o in ({"rollback": "none"}, {}))


def fig4(h_none: xr.Dataset | None, h_rb: xr.Dataset | None, rule: RollbackRule,
         profile: Profile, model: int = 9):
    """Preprint Fig. 4 and its caption: both runs, the run with roll-back alone, or a note."""
    if h_rb is None:
        return missing_figure([model], profile.name)
    runs = [h for h in (h_none, h_rb) if h is not None]
    lines = "Solid: training loss along the kept trajectory; dashed: validation loss. "
    if h_none is None:
        what = "with roll-back (no run without it: see the text)"
        marks = ("Green circles: rejected epochs (jumps); grey dots: accepted epochs that a "
                 "later roll-back undid.")
    else:
        what = "a) without and b) with roll-back, same seed"
        marks = ("Green circles: in a) epochs the roll-back rule would have rejected, in b) the "
                 "rejected epochs (jumps); grey dots in b): accepted epochs that a later "
                 "roll-back undid.")
    return plots.fig4_loss(h_none, h_rb, model=model, jumps_none=None if h_none is None
                           else replay(h_none, rule)), caption(
        "4", f"Training loss vs epoch for model {model}, {what}", profile,
        [h.attrs["path"] for h in runs], text=lines + marks, preprint="Fig. 4")


def fig4_summary(h_none: xr.Dataset | None, h_rb: xr.Dataset | None, rule: RollbackRule,
                 profile: Profile, model: int = 9) -> str:
    """:func:`fig4_text` where both runs exist; else what the one run shows and why the
    other is not trained, or a note."""
    if h_rb is None:
        return missing_note([model], profile.name)
    if h_none is not None:
        return fig4_text(fig4_numbers(h_none, h_rb, rule), model)
    loss = h_rb["train_loss"].values.astype(float)
    rises = loss[1:] / loss[:-1]
    n_rb = int(h_rb.attrs["n_rollbacks"])
    trend = (f"rose from one epoch to the next {_times(int((rises > 1).sum()))}, at most by a "
             "factor "
             f"{float(rises.max()):.2f}" if (rises > 1).any() else "fell at every epoch")
    return (f"This profile trains model {model} only with roll-back: with {profile.epochs} "
            f"epochs and the rule's window m = {profile.m}, the rule cannot fire (it needs "
            "more epochs than its window), so a run without it would be the same run. The "
            f"run attempted {int(h_rb.sizes['step'])} epochs and "
            + (f"rolled back {_times(n_rb)}" if n_rb else "never rolled back")
            + f"; its training loss {trend} (the preprint's jumps are rises by a factor "
            f"{PREPRINT_JUMP:g} or more).")


def fig4_numbers(h_none: xr.Dataset, h_rb: xr.Dataset, rule: RollbackRule) -> dict:
    """Fig. 4's numbers: rises of the loss without roll-back, the epochs the rule would have
    rejected, the roll-back run's rejected epochs and roll-backs, lowest losses, kept models."""
    loss = h_none["train_loss"].values.astype(float)
    rises = loss[1:] / loss[:-1]
    kept = h_rb["kept"].values.astype(bool)
    rb_loss = h_rb["train_loss"].values.astype(float)
    rejected = np.flatnonzero(h_rb["accepted"].values == 0)
    first = int(rejected[0]) if rejected.size else rb_loss.size
    n = min(loss.size, rb_loss.size)
    agree = int(np.argmin(np.append(rb_loss[:n] == loss[:n], False)))
    return {"epochs": loss.size, "rises": int((rises > 1).sum()), "steps": rises.size,
            "largest_rise": float(rises.max()) if rises.size else np.nan,
            "would_reject": int(replay(h_none, rule).sum()),
            "attempted": int(h_rb.sizes["step"]),
            "rejected": int((h_rb["accepted"] == 0).sum()),
            "rollbacks": int(h_rb.attrs["n_rollbacks"]),
            "min_none": float(loss.min()), "min_rb": float(rb_loss[kept].min()),
            "best_none": float(h_none.attrs["best_val_loss"]),
            "best_rb": float(h_rb.attrs["best_val_loss"]),
            "epoch_none": int(h_none.attrs["best_epoch"]),
            "epoch_rb": int(h_rb.attrs["best_epoch"]),
            "agree": agree, "first_rejected": first,
            "first_rejected_epoch": int(h_rb["epoch"].values[first]) if rejected.size else None}


def fig4_text(n: dict, model: int = 9) -> str:
    """Whether the loss without roll-back rose, whether the preprint's jumps occurred, whether
    roll-back fired, and whether the two runs differ."""
    if n["rises"]:
        rose = (f"Without roll-back the training loss of model {model} rose from one epoch to "
                f"the next in {n['rises']} of {n['steps']} epochs, at most by a factor "
                f"{n['largest_rise']:.2f}")
    else:
        rose = f"Without roll-back the training loss of model {model} fell at every epoch"
    jumps = (" Its largest rise is one of the preprint's jumps of one or two orders of "
             "magnitude." if n["largest_rise"] >= PREPRINT_JUMP else
             " The preprint's jumps of one or two orders of magnitude (a rise by a factor "
             f"{PREPRINT_JUMP:g} or more) did not occur in this run.")
    fired = ("roll-back never fired" if n["rollbacks"] == 0 else
             f"roll-back fired {_times(n['rollbacks'])}")
    better = ("lower" if n["best_rb"] < n["best_none"] else
              "higher" if n["best_rb"] > n["best_none"] else "equal")
    if n["agree"] < n["first_rejected"]:
        differ = (f" The two runs' losses differ from epoch {n['agree'] + 1} on, before any "
                  "epoch was rejected: training is not deterministic here, so not every "
                  "difference between them is roll-back's doing.")
    elif n["rejected"] == 0 and n["agree"] == n["epochs"] == n["attempted"]:
        differ = (" No epoch was rejected and the two runs' losses are identical: they are the "
                  "same run, roll-back had nothing to do.")
    else:
        differ = (f" The two runs' losses are identical before epoch "
                  f"{n['first_rejected_epoch']}, the first that roll-back rejected, and differ "
                  "from it on: the difference between the kept models is roll-back's doing.")
    return (f"{rose}; the rule would have rejected {n['would_reject']} of its {n['epochs']} "
            f"epochs.{jumps} With roll-back the run attempted {n['attempted']} epochs and "
            f"rejected {n['rejected']}: {fired}. Lowest training loss: {fmt(n['min_none'])} "
            f"without and {fmt(n['min_rb'])} with roll-back. The kept model's validation loss "
            f"is {fmt(n['best_rb'])} with roll-back against {fmt(n['best_none'])} without "
            f"({better}; best epochs {n['epoch_rb']} and {n['epoch_none']}).{differ}")


def rollback_table(hist: xr.Dataset) -> pd.DataFrame:
    """Per model (:func:`diffsurr.results.load_histories`): loss, roll-backs, attempted and
    rejected epochs, best epoch, best validation loss, training time."""
    return pd.DataFrame({
        "loss": hist["loss"].values,
        "roll-backs": hist["n_rollbacks"].values.astype(int),
        "attempted epochs": hist["epoch"].notnull().sum("step").values.astype(int),
        "rejected epochs": (hist["accepted"] == 0).sum("step").values.astype(int),
        "best epoch": hist["best_epoch"].values.astype(int),
        "best validation loss": hist["best_val_loss"].values,
        "training time (s)": hist["run_wall_time_s"].values,
    }, index=pd.Index([int(m) for m in hist["model"].values], name="model"))


def rollback_text(table: pd.DataFrame, profile: Profile) -> str:
    """Roll-backs per 100 epochs against the preprint's, which run rolled back most; where the
    rule cannot fire at this scale (epochs ≤ m), that and no rate."""
    total, epochs = int(table["roll-backs"].sum()), int(table["attempted epochs"].sum())
    minutes = (f"All runs together took {table['training time (s)'].sum() / 60:.1f} minutes "
               "of training.")
    if profile.epochs <= profile.m:
        return (f"The roll-back rule is **inactive at this scale (needs more than m = "
                f"{profile.m} epochs)**: it compares an epoch's loss with the mean of the "
                f"previous m accepted epochs, and these runs have {profile.epochs}, so the "
                f"counts above are zero by construction and say nothing about how often it "
                f"would fire. {minutes}")
    rate = 100 * total / epochs
    paper_rate = 100 * PREPRINT_ROLLBACKS / PREPRINT_EPOCHS
    compare = ("more often than" if rate > paper_rate else
               "less often than" if rate < paper_rate else "as often as")
    if total:
        most = (f"the median run rolled back {table['roll-backs'].median():g} times and model "
                f"{table['roll-backs'].idxmax()} most often "
                f"({_times(int(table['roll-backs'].max()))}). ")
    else:
        most = (f"no run rolled back: after its first m = {profile.m} epochs no run's loss "
                f"rose above {profile.C:g} times the mean of the previous {profile.m}. ")
    return (f"Over the {len(table)} runs there were {total} roll-backs in {epochs} attempted "
            f"epochs, {rate:.1f} per 100 epochs, {compare} the preprint (about "
            f"{paper_rate:g} per 100); {most}{minutes}")


def alive_summary(hist: xr.Dataset, var: str, models, name: str) -> str:
    """The range of final alive fractions of ``var`` over ``models``, and which runs ended
    dead or dipped below :data:`DEAD_FRACTION` and recovered."""
    models = [int(m) for m in models if int(m) in hist["model"].values]
    da = hist[var].sel(model=models)
    final, low = last_valid(da), da.min("step")
    dead = [m for m in models if float(final.sel(model=m)) < DEAD_FRACTION]
    dipped = [m for m in models if float(low.sel(model=m)) < DEAD_FRACTION and m not in dead]
    out = (f"{name}: final alive fraction between {float(final.min()):.2f} and "
           f"{float(final.max()):.2f} over models {', '.join(map(str, models))}; ")
    if dead:
        out += (f"it ended dead (< {100 * DEAD_FRACTION:g} % alive) in model(s) "
                f"{', '.join(map(str, dead))}")
        out += (f", and dipped below {100 * DEAD_FRACTION:g} % but recovered in model(s) "
                f"{', '.join(map(str, dipped))}." if dipped else ".")
    elif dipped:
        out += (f"it dipped below {100 * DEAD_FRACTION:g} % during training in model(s) "
                f"{', '.join(map(str, dipped))} but recovered.")
    else:
        out += f"it never fell below {100 * DEAD_FRACTION:g} % in any run."
    return out


def alive_text(hist: xr.Dataset, profile: Profile) -> str:
    """The run's NN2 head, and :func:`alive_summary` for NN2's head and NN1's last layer."""
    head = ("(Table 1's ConvT → ReLU → BatchNorm)" if profile.head == "table1" else
            "(ConvT → ReLU without the final BatchNorm, the variant that learned in the "
            "early probe of Table 1's NN2; see the differences page)")
    return (f"The NN2 head of this run is `{profile.head}` {head}. "
            + alive_summary(hist, "alive_nn2", WITH_NN2, "NN2's output head") + " "
            + alive_summary(hist, "alive_nn1", WITH_NN1, "NN1's last layer"))

