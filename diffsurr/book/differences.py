"""The differences chapter: what the preprint leaves out, what its authors' code did, what this
study does, and what some of the differences change.

The facts about the authors' Julia/Flux code (``genData.jl``, ``DiffSolve.jl``,
``run_script.jl``, ``get_stats.jl``) and about an early probe of Table 1's NN2 are stated here,
as data (:data:`DIFFERENCES`, :data:`PROBE`); docstrings elsewhere in :mod:`diffsurr` cite the
book's differences page for them.
"""

from __future__ import annotations

import re
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
import xarray as xr

from .. import data, solver
from ..profiles import Profile
from ..registry import table2_frame
from .report import fmt
from ..results import load_optional, run_dir
from ..statistics import last_valid
from ..rollback import RollbackRule
from ..runid import RunId, run_label
from ..study import study_runs
from .text import TABLE_FONT
from .training import DEAD_FRACTION, replay


class Difference(NamedTuple):
    """One row of the table: the preprint, the authors' code, this study, and the profile
    values (``name=value``, see :data:`diffsurr.profiles.VALUE_NAMES`) that switch it."""

    item: str
    preprint: str
    code: str
    study: str
    option: str = "—"


DIFFERENCES = (
    Difference("Sources", "each disk clamps the field to its source value (Dirichlet)",
               "the input is a constant production term s; decay also inside the disks; "
               "the field is divided by its maximum (every target has max 1)",
               "clamped", "mode='production'"),
    Difference("Placement", "disks fully inside the grid, not overlapping",
               "integer centres uniform in 5..95 (1-based): disks clipped at the grid's edge, "
               "no overlap check, overlapping values add; the input is divided by its maximum",
               "preprint", "placement='code'"),
    Difference("Disk", "radius 5", "pixel (i, j) inside when (i − yc)² + (j − xc)² ≤ 5²: "
               "81 pixels", "the same", "—"),
    Difference("Boundary", "absorbing", "u = 0 on ghost cells just outside the grid; the edge "
               "pixels are unknowns", "the same", "—"),
    Difference("Steady state", "stationary solution", "time stepping (ROCK2, float32) to "
               "t = 3000, default tolerances", "exact direct solve (time stepping only as a "
               "benchmark baseline)", "—"),
    Difference("Split", "80 % train / 20 % test", "70/20/10 train/test/validation (randperm, "
               "seed 0)", "20 % test; 10 % of the rest for validation",
               "test_fraction=0.2, val_fraction=0.125"),
    Difference("Model selection", "lowest loss regardless of epoch", "on the test set: stop "
               "after 90 % of the epochs when the test loss is the minimum of the last 21 (leaks)",
               "lowest validation loss; the test set is never seen in training", "—"),
    Difference("Epochs", "800", "up to 1000, with the early stop above", "800 (`paper`)",
               "epochs=1000 (without the early stop)"),
    Difference("Optimiser", "Adam; learning rate and batch size not stated", "Adam lr 5·10⁻⁶ "
               "(β 0.9/0.999), batch 25, fixed batches in shuffled order",
               "the code's values at `paper`; larger lr at the CPU profiles",
               "lr=5e-06, batch_size=25"),
    Difference("Roll-back rule", "L(n+1)/L(n) > C·mean of last m losses (Eq. 3, read as "
               "L(n+1) > C·mean, the sentence after it)", "from epoch 22: L(n) − L(n−1) > 10 × "
               "mean |ΔL| of the last 20", "preprint (as read)", "rollback='code'"),
    Difference("Roll-back target", "epoch n − s", "the latest backup, written every 5 epochs "
               "(weights and BatchNorm statistics, not the optimiser state); the rejected "
               "epoch's losses are dropped", "n − s, also for a second jump within s epochs "
               "(the last 2s + 1 states are kept); weights and optimiser state; rejected epochs "
               "stay in the history", "rollback='code', s=5"),
    Difference("Layers", "Table 1 (activation slopes, dropout kind, BatchNorm settings, "
               "initialisation not stated)", "LeakyReLU slope 0.01; element-wise dropout; "
               "BatchNorm after the activation (momentum 0.1, eps 1e-5); Glorot-uniform "
               "weights, zero biases (Flux's defaults)", "the same (PyTorch's default "
               "initialisation left NN2's head dead: see the probe below)", "—"),
    Difference("NN2 second pool", "25 → 12 (Table 1)", "padded: 25 → 26 → 13", "Table 1", "—"),
    Difference("NN2 output head", "ConvT → ReLU → BatchNorm(1) (Table 1)", "the same",
               "Table 1 at `paper`; ConvT → ReLU without BatchNorm(1) at the CPU profiles "
               "(the probe below saw the Table 1 head die at such learning rates)", "head='relu'"),
    Difference("Loss weight", "exp(−(1 − y)/w), target y", "the same (its MSE wrote "
               "exp(−(1 − y)/(2w))·(ŷ − y), squared); a later PyTorch port weighted by the "
               "prediction", "the target", "—"),
    Difference("Precision", "not stated", "float32", "float32 in every profile",
               "amp=True (bf16 autocast in training, CUDA only)"),
    Difference("Speed-up", "about 1000 times faster", "no timing of the network",
               "measured (speed-up page)", "—"),
)
"""The table of differences, one :class:`Difference` per item; its "this study" column is the
``paper`` profile's, and :func:`table` replaces it with what a profile's runs do."""

MODES = {"clamped": "clamped (the preprint's text)",
         "production": "a production term s, the field divided by its maximum (the authors' code)"}
"""How the table names each source model (profile value ``mode``)."""
PLACEMENTS = {"preprint": "the preprint's (inside the grid, apart)",
              "code": "the authors' code's (clipped and overlapping allowed)"}
"""How the table names each placement (profile value ``placement``)."""
HEADS = {"table1": "Table 1's head (ConvT → ReLU → BatchNorm(1))",
         "relu": "the head without BatchNorm(1) (ConvT → ReLU)"}
"""How the page names each NN2 output head (profile value ``head``)."""

PROBE_SETUP = ("Table 1's NN2 with its channel counts divided by 8, on 1,600 training samples, "
               "on a CPU")
"""The early probe of Table 1's NN2 whose findings :data:`PROBE` lists."""

PROBE = (
    ("Table 1 head, PyTorch's default initialisation; lr 1e-3, 1e-4 and 5e-6",
     "final ReLU dead at initialisation (0 % of outputs positive): the network learned only "
     "BatchNorm's bias, a constant field, mean residual ≈ 0.10 throughout"),
    ("Table 1 head, Glorot-uniform weights and zero biases (as in Flux); lr 5e-6",
     "43 % of outputs alive at initialisation, 1.6 % within 30 steps, 23 % again after "
     "3 epochs"),
    ("the same at lr 1e-4", "dead within the first epoch"),
    ("ConvT → ReLU head without BatchNorm(1), Glorot; Adam 3e-4 after a 2-epoch warm-up, "
     "MAE, w = 1", "every output unit alive; test mean residual ≈ 1.3·10⁻² after 10–14 epochs "
     "(about a minute of CPU), against 0.10 for the collapsed head"),
)
"""(setting, what was seen) for each run of the probe: why this study uses Flux's
initialisation, logs the alive fraction of each network's last layer, and has ``head='relu'``."""

BEST_MEAN_RES = float(table2_frame()["paper_mean_res"].min())
"""The preprint's best mean test residual (Table 2): a difference in the targets below it is
finer than the best network resolves, one above it makes a different learning problem."""
CODE_RULE_HISTORY = 21
"""Accepted epochs the authors' roll-back rule needs before it can fire (from epoch 22)."""
_OPTION = re.compile(r"\b([A-Za-z_]\w*)=('[^']*'|[^,\s()]+)")


def second_readings(profile: Profile) -> dict[tuple[str, str], list[int]]:
    """The models a profile's study (:func:`diffsurr.study.study_runs`) also trains with
    another (mode, placement) than its own, by that pair."""

    out: dict[tuple[str, str], list[int]] = {}
    for run in study_runs(profile):
        cfg = run.config()
        if (cfg.mode, cfg.placement) != (profile.mode, profile.placement):
            out.setdefault((cfg.mode, cfg.placement), []).append(run.model)
    return out


def _models(models: list[int]) -> str:
    models = sorted(set(models))
    return ("model " if len(models) == 1 else "models ") + (
        str(models[0]) if len(models) == 1 else
        ", ".join(map(str, models[:-1])) + f" and {models[-1]}")


def study_column(profile: Profile) -> dict[str, str]:
    """What ``profile``'s runs do, per item of :data:`DIFFERENCES` that a profile value sets:
    sources and placement of its main runs and of any second reading, epochs, optimiser,
    split, roll-back rule and NN2 head."""
    second = second_readings(profile)
    also = "; ".join(f"{_models(ms)} also with {mode} sources and {place} placement (a second "
                     "reading)" for (mode, place), ms in second.items())
    main = "every run" if not second else "the main runs"
    rule = {"preprint": "preprint (as read)", "code": "the code's", "none": "none"}
    return {
        "Sources": f"{MODES[profile.mode]} for {main}" + (f"; {also}" if also else ""),
        "Placement": f"{PLACEMENTS[profile.placement]} for {main}"
                     + ("; the preprint's for the second reading" if any(
                         p == "preprint" for _, p in second) else ""),
        "Split": f"{profile.test_fraction:.0%} test; {profile.val_fraction:.0%} of the rest for "
                 "validation",
        "Epochs": f"{profile.epochs}",
        "Optimiser": f"Adam lr {profile.lr:g}, batch {profile.batch_size}",
        "Roll-back rule": rule[profile.rollback],
        "NN2 output head": HEADS[profile.head],
    }


def table(profile: Profile | None = None) -> pd.DataFrame:
    """:data:`DIFFERENCES` as a table (backquotes removed for display); with ``profile``, its
    "this study" column says what that profile's runs do (:func:`study_column`)."""
    column = "this study" if profile is None else f"this study ({profile.name})"
    df = pd.DataFrame(DIFFERENCES, columns=["item", "preprint", "authors' code", column,
                                            "option"])
    if profile is not None:
        df[column] = [study_column(profile).get(i, s) for i, s in zip(df["item"], df[column])]
    return df.replace("`", "", regex=True)


def probe_intro() -> str:
    """The sentence that introduces :data:`PROBE`."""
    return f"Before this study's runs, a probe trained {PROBE_SETUP}. What it saw:"


def probe_table() -> pd.DataFrame:
    """:data:`PROBE` as a table."""
    return pd.DataFrame(PROBE, columns=["setting", "seen"])


def styled(df: pd.DataFrame):
    """A text table for the page: small font, left-aligned, wrapping, no index."""
    return df.style.hide(axis="index").set_table_styles([
        {"selector": "", "props": [("font-size", TABLE_FONT)]},
        {"selector": "th, td", "props": [("text-align", "left"), ("vertical-align", "top"),
                                         ("padding", "2px 4px")]}])


def option_overrides(option: str) -> dict[str, str]:
    """The profile values ``name=value`` named in an "option" cell, as text."""
    return {name: value.strip("'") for name, value in _OPTION.findall(option)}


def source_effect(n: int = 200, seed: int = 123) -> dict:
    """Clamped against production targets of the same ``n`` inputs (preprint placement)."""
    inputs, _, _ = data.draw_inputs(n, seed=seed)
    clamped = solver.solve(inputs, mode="clamped")
    production = solver.solve(inputs, mode="production")
    outside = inputs == 0
    diff = np.abs(clamped - production)[outside]
    return {"n": n, "mean_diff": float(diff.mean()), "max_diff": float(diff.max()),
            "mean_clamped": float(clamped[outside].mean()),
            "source_diff": float(np.abs(production - inputs)[~outside].mean())}


def source_text(e: dict, profile: Profile | None = None) -> str:
    """How far apart the two source models' targets are, against :data:`BEST_MEAN_RES`; with
    ``profile``, which problem its runs learn (:func:`second_readings`)."""
    verdict = ("more than the preprint's best mean test residual "
               f"({fmt(BEST_MEAN_RES)}): the two are different learning problems"
               if e["mean_diff"] > BEST_MEAN_RES else
               f"less than the preprint's best mean test residual ({fmt(BEST_MEAN_RES)}): "
               "for the networks the two are the same learning problem")
    return (f"On {e['n']} configurations drawn as in the preprint, the mean |clamped − "
            f"production| outside the sources is {fmt(e['mean_diff'])} (maximum "
            f"{fmt(e['max_diff'])}; the mean clamped field there is {fmt(e['mean_clamped'])}), "
            f"{verdict}. On the source pixels the production field is not the source "
            f"value: its mean |u − x| there is {fmt(e['source_diff'])}."
            + ("" if profile is None else " " + learns_text(profile)))


def learns_text(profile: Profile) -> str:
    """Which source model ``profile``'s runs learn, and which models also learn the other."""
    second = second_readings(profile)
    others = "".join(f" {_models(ms).capitalize()} {'is' if len(set(ms)) == 1 else 'are'} "
                     f"also trained on the {mode} problem "
                     f"({place} placement), as a second reading (the reference page compares "
                     "the two)." for (mode, place), ms in second.items() if mode != profile.mode)
    return f"The `{profile.name}` runs learn the {profile.mode} problem.{others}"


def placement_effect(n: int = 2000, seed: int = 7, radius: int = data.PROBLEM["radius"],
                     size: int = data.PROBLEM["size"]) -> dict:
    """Fractions of ``n`` code-style configurations whose disks share a pixel, and whose
    disks are cut by the grid's edge."""
    _, centres, _ = data.draw_inputs(n, seed=seed, placement="code", radius=radius, size=size)
    pix = centres[:, :, None, :] + data.disk_offsets(radius)[None, None]
    inside = ((pix >= 0) & (pix < size)).all(-1)
    flat = np.where(inside, pix[..., 0] * size + pix[..., 1], -1 - np.arange(2)[None, :, None])
    shared = (flat[:, 0, :, None] == flat[:, 1, None, :]).any((1, 2))
    return {"n": n, "overlap": float(shared.mean()), "clipped": float((~inside).any((1, 2)).mean())}


def placement_text(e: dict) -> str:
    """How often the code's placement breaks the preprint's two conditions."""
    part = [f"{e['overlap']:.1%} have disks that share a pixel (their values add there)"
            if e["overlap"] else "none has disks that share a pixel",
            f"{e['clipped']:.1%} have a disk cut by the grid's edge"
            if e["clipped"] else "none has a disk cut by the grid's edge"]
    return (f"Of {e['n']:,} configurations placed as the authors' code placed them, "
            f"{part[0]}, and {part[1]}; the preprint's placement allows neither.")


def timestep_effect(n: int = 1, seed: int = 123, t_max: float = 3000.0) -> dict:
    """Largest difference between the production field time-stepped to ``t_max`` (as the
    authors' code stopped) and the exact steady state."""
    x, _, _ = data.draw_inputs(n, seed=seed)
    exact = solver.solve(x, mode="production", method="sparse")
    with warnings.catch_warnings():  # it stops at t_max on purpose, as the code did
        warnings.simplefilter("ignore", RuntimeWarning)
        stepped = solver.solve_timestep(x, mode="production", t_max=t_max, tol=1e-300)
    return {"n": n, "t_max": t_max, "max_diff": float(np.abs(stepped - exact).max())}


def timestep_text(e: dict) -> str:
    """Whether the code's targets at ``t_max`` are steady to the networks' accuracy."""
    verdict = ("the code's targets are steady to better than the preprint's best mean test "
               f"residual ({fmt(BEST_MEAN_RES)})" if e["max_diff"] < BEST_MEAN_RES else
               "the code's targets are not steady to the preprint's best mean test residual "
               f"({fmt(BEST_MEAN_RES)}): stopping at t = {e['t_max']:g} changed them")
    count = "one configuration" if e["n"] == 1 else f"{e['n']} configurations"
    return (f"For {count}, the production field at t = {e['t_max']:g} "
            f"differs from the exact steady state by at most {fmt(e['max_diff'], 2)}: "
            f"{verdict}.")


def load_history_none(profile: Profile, model: int = 9) -> xr.Dataset | None:
    """``history.nc`` of ``model`` trained without roll-back, or None if there is none."""
    return load_optional(run_dir(profile, model, rollback="none") / "history.nc")


def rules_flagged(history: xr.Dataset | None, profile: Profile) -> dict[str, list[int]] | None:
    """Epochs (1-based) of a run without roll-back that each rule, the preprint's and the
    code's (:func:`diffsurr.book.training.replay`), would have rejected."""
    if history is None:
        return None
    return {kind: [int(k) + 1 for k in np.flatnonzero(
                replay(history, RollbackRule(kind, profile.C, profile.m, profile.s)))]
            for kind in ("preprint", "code")}


def rollback_history(profile: Profile, model: int = 9) -> tuple[xr.Dataset | None, str]:
    """A training-loss curve of ``model`` free of roll-backs, and what it is: the run trained
    without roll-back ("without"); else the model's own run if its rule never fired, which is
    then the same trajectory ("unfired"); else (None, why there is none)."""
    none = load_history_none(profile, model)
    if none is not None:
        return none, "without"
    h = load_optional(RunId.of(profile, model).dir / "history.nc")
    if h is None:
        return None, (f"the `{profile.name}` results hold neither model {model} trained "
                      f"without roll-back nor model {model}'s own run")
    fired = int(h.attrs.get("n_rollbacks", -1))
    if fired == 0:
        return h, "unfired"
    return None, (f"the `{profile.name}` results hold no model {model} trained without "
                  f"roll-back, and model {model}'s own run was rolled back {fired} times")


def rules_text(history: xr.Dataset | None, profile: Profile, kind: str = "without") -> str:
    """Which epochs each rule flags (:func:`rules_flagged`) over the curve ``kind`` names
    (:func:`rollback_history`), whether the two agree, and whether the code's rule could fire
    at all; where there is no curve, ``kind`` says why."""
    flagged = rules_flagged(history, profile)
    if flagged is None:
        why = kind if kind not in ("without", "unfired") else (
            f"the `{profile.name}` results hold no model 9 trained without roll-back")
        return f"**Roll-back rule.** The two rules are not replayed here: {why}."
    curve = ("model 9 trained *without* roll-back (same seed as the roll-back run)"
             if kind == "without" else
             "model 9's own run, whose roll-back rule never fired (so it is the curve a run "
             "without roll-back follows)")
    intro = (f"**Roll-back rule.** Replaying both rules over the training-loss curve of "
             f"{curve} shows which epochs each rule would have flagged. ")
    epochs = int(history.sizes["step"])
    shown = {k: ", ".join(map(str, v)) or "none" for k, v in flagged.items()}
    agree = ("Neither rule flags any epoch" if not (flagged["preprint"] or flagged["code"]) else
             "The two rules flag the same epochs" if flagged["preprint"] == flagged["code"] else
             "The two rules flag different epochs")
    can = (f"; the code's rule needs {CODE_RULE_HISTORY} accepted epochs before it can fire, "
           f"so over {epochs} it cannot" if epochs <= CODE_RULE_HISTORY else "")
    if epochs <= profile.m:
        can += (f", and the preprint's rule waits for m = {profile.m} accepted epochs, so it "
                "cannot either")
    return intro + (f"Over {epochs} epochs, the preprint's rule (C = {profile.C:g}, "
                    f"m = {profile.m}) "
            f"flags epochs: {shown['preprint']}; the code's rule flags: {shown['code']}. "
            f"{agree}{can}."
            + (" The same replay marks the training page's figure of the loss with and "
               "without roll-back." if kind == "without" else ""))


def head_runs(profile: Profile, model: int = 12) -> pd.DataFrame:
    """``model`` trained with each NN2 head (the ones evaluated): test residuals, final alive
    fraction of NN2's head, best validation loss."""
    rows = {}
    for head in ("table1", "relu"):
        path = run_dir(profile, model, head=head)
        ev, h = load_optional(path / "eval.nc"), load_optional(path / "history.nc")
        if ev is not None and h is not None:
            rows[head] = {"run": run_label(profile.name, path.name),
                          "test mean residual": float(ev["mean_res"].sel(set="test")),
                          "test 99th pct": float(ev["p99_res"].sel(set="test")),
                          "final alive fraction": float(last_valid(h["alive_nn2"])),
                          "best val loss": float(h.attrs["best_val_loss"])}
    return pd.DataFrame.from_dict(rows, orient="index")


def head_pair(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`head_runs` when it holds both heads (the comparison the page shows), else empty."""
    return table if {"table1", "relu"} <= set(table.index) else table.iloc[0:0]


def head_text(table: pd.DataFrame, profile: Profile) -> str:
    """Whether the Table 1 head died, and its mean residual against the head without
    BatchNorm(1); where model 12 is not evaluated with both heads, whether the profile trains
    the other head at all (``head_variant``)."""
    if not {"table1", "relu"} <= set(table.index):
        if not profile.head_variant:
            return (f"The `{profile.name}` profile trains NN2 with {HEADS[profile.head]} only "
                    "(it does not train model 12 with the other head), so the heads are not "
                    "compared on this page; the probe above is the evidence.")
        return (f"The `{profile.name}` profile trains model 12 with both NN2 heads, but its "
                "results do not hold both evaluated yet, so the heads cannot be compared.")
    alive = table.loc["table1", "final alive fraction"]
    ratio = table.loc["table1", "test mean residual"] / table.loc["relu", "test mean residual"]
    state = (f"ended dead ({100 * alive:.1f} % of its outputs alive, below "
             f"{100 * DEAD_FRACTION:g} %)" if alive < DEAD_FRACTION else
             f"stayed alive ({100 * alive:.1f} % of its outputs alive)")
    compare = ("the Table 1 head does worse" if ratio > 1 else
               "the Table 1 head does better" if ratio < 1 else "the two do equally well")
    return (f"Model 12 trained with each head on the same data and seed: at the "
            f"`{profile.name}` profile (lr {profile.lr:g}), the Table 1 head {state}, "
            f"and its test mean residual is {ratio:.2g} times that of the head without "
            f"BatchNorm(1): {compare} (alive fraction: share of positive outputs of NN2's "
            "last ConvT on validation inputs).")

