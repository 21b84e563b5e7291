"""The convergence chapter's NN1 sections (``book/convergence.md``): the NN1 probe and its
longer run (:mod:`diffsurr.nn1_probe`), NN1's alive fraction per epoch against the probe's bar,
and how much NN1's output varies beside NN2's at each milestone.

Reads ``results/probe/``, the convergence runs' histories and milestone evaluations (through
:mod:`diffsurr.book.convergence`) and, as the probe's control, the reference runs' histories.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .. import nn1_probe
from ..pilot import kept_curve
from ..profiles import PROFILES, Profile
from ..registry import spec as table2_spec
from ..results import load_optional
from ..runid import RunId, run_label
from . import claims, convergence
from .report import caption, fmt


PROFILE = convergence.PROFILE


SMALL_SHARE = 0.1
"""NN1's output std below this share of NN2's in a sum: the sum is close to NN2 alone."""


def nn1_output_text(profile: Profile = PROFILE, by_epoch: dict | None = None) -> str:
    """How much NN1's output varies in the runs with both networks (every seed) at each
    evaluated epoch, against NN2's in the same run (unweighted output std over the stored test
    fields), and at which epochs NN1's is under :data:`SMALL_SHARE` of NN2's in every such run
    (the sums there are close to NN2 alone); chosen from the values. ``by_epoch``:
    :func:`diffsurr.book.convergence.milestone_seeds`, when the page has read them already."""
    parts, small, dead = [], [], []
    by_epoch = convergence.milestone_seeds(profile) if by_epoch is None else by_epoch
    for epoch, seeds in by_epoch.items():
        rows = []
        for m in seeds["model"].values:
            if not (table2_spec(int(m)).p1 and table2_spec(int(m)).p2):
                continue
            for seed in seeds["seed"].values:
                a, b = (float(seeds[f"out_std_{n}"].sel(model=m, seed=seed)) for n in
                        ("nn1", "nn2"))
                if np.isfinite(a) and np.isfinite(b):
                    rows.append((RunId.of(profile, int(m), int(seed)).label, a, b))
        if not rows:
            continue
        parts.append(f"at {epoch} epochs " + ", ".join(
            f"{fmt(a, 2)} against {fmt(b, 2)} ({label})" for label, a, b in rows))
        if all(a < SMALL_SHARE * b for _, a, b in rows):
            small.append(str(epoch))
        dead += [f"{label} at {epoch} epochs" for label, a, _ in rows if a < claims.DEAD_STD]
    if not parts:
        return ""
    share = f"{SMALL_SHARE:.0%}".replace("%", " %")
    evidence = (f"NN1 is dead in {', '.join(dead)}, and comparisons with it are not evidence"
                if dead else "none of these is, so every comparison of a sum above is evidence")
    when = " and ".join([", ".join(small[:-1]), small[-1]] if len(small) > 1 else small)
    end = (f"at {when} epochs NN1's is under {share} of NN2's in every run with both "
           "networks, so there the sums are close to NN2 alone, trained beside a nearly silent "
           "NN1." if small else
           f"at every evaluated epoch NN1's is at least {share} of NN2's somewhere, so the sums "
           "compared are sums of two varying outputs.")
    return ("NN1's unweighted output standard deviation over the stored test fields, against "
            "NN2's in the same run: " + "; ".join(parts) + ". Only a constant output (below "
            f"{fmt(claims.DEAD_STD, 1)}) makes a network dead and a comparison not evidence: "
            f"{evidence}; " + end)


def _working_history(profile: Profile = PROFILES["reference"]) -> xr.Dataset | None:
    """The history of the working NN1 (:data:`diffsurr.nn1_probe.WORKING_MODEL`, reference)."""
    return load_optional(RunId.of(profile, nn1_probe.WORKING_MODEL).dir / "history.nc")


def probe_assessed() -> dict:
    """:func:`diffsurr.nn1_probe.assess` of the probe runs that are in, against the reference
    runs of models 9 and 11 and the working NN1 ({} while one of those is missing)."""
    hist = {run: h for run in nn1_probe.RUNS.values()
            if (h := load_optional(run.dir / "history.nc")) is not None}
    controls = {m: h for m in nn1_probe.MODELS
                if (h := load_optional(RunId.make("reference", m).dir / "history.nc")) is not None}
    working = _working_history()
    if len(controls) < len(nn1_probe.MODELS) or working is None:
        return {}
    return nn1_probe.assess(hist, controls, working)


def _long_controls(profile: Profile) -> dict[int, xr.Dataset]:
    """Model -> the history of the study's run of it with Table 1's head (the longer probe's
    control), for the probe's models that are in."""
    runs = {m: RunId.of(profile, m) for m in nn1_probe.MODELS}
    hists = convergence.histories(profile, runs.values())
    return {m: hists[run.name] for m, run in runs.items() if run.name in hists}


def long_probe_assessed(profile: Profile = PROFILE) -> dict:
    """:func:`diffsurr.nn1_probe.assess` of the longer probe's runs
    (:data:`diffsurr.nn1_probe.LONG_RUNS`, their histories so far) against the study's runs
    of models 9 and 11 with Table 1's head ({} while one of those is missing)."""
    hists = convergence.histories(profile, nn1_probe.LONG_RUNS.values())
    hist = {run: hists[run.name] for run in nn1_probe.LONG_RUNS.values() if run.name in hists}
    controls = _long_controls(profile)
    working = _working_history()
    if len(controls) < len(nn1_probe.MODELS) or working is None:
        return {}
    return nn1_probe.assess(hist, controls, working, nn1_probe.LONG_RUNS)


def probe_table(assessed: dict) -> pd.DataFrame:
    """The NN1 probe: per variant, its epochs (of its shortest run), NN1's lowest alive
    fraction and at the last epoch, whether it stayed alive, and the validation loss relative
    to the control."""
    rows = [{"variant": label, "epochs": a["epochs"],
             "lowest NN1 alive fraction": a["min_alive"],
             "at the last epoch": a["last_alive"],
             "alive every epoch": "yes" if a["alive"] else "no",
             "val. loss / control": a["val_ratio"]} for label, a in assessed.items()]
    return pd.DataFrame(rows).set_index("variant") if rows else pd.DataFrame()


def probe_text(assessed: dict) -> str:
    """The probe's choice (:func:`diffsurr.nn1_probe.choose`), or why there is none yet."""
    if not assessed:
        return "No NN1 probe run is in yet."
    pending = [label for label in nn1_probe.VARIANTS if label not in assessed]
    choice = nn1_probe.choose(assessed)
    wait = (f" Not in yet: {', '.join(pending)}." if pending else "")
    if choice is None:
        return ("**No variant probed so far keeps NN1 alive** (at every epoch of models 9 and "
                "11), so the convergence runs with NN1 wait for one that does." + wait)
    fit = sum(a["alive"] for a in assessed.values())
    which = ("the only variant that kept NN1 alive" if fit == 1 else
             f"of the {fit} variants that kept NN1 alive, the one with the lowest validation "
             "loss relative to the control")
    return (f"**Chosen: {choice}**, {which}; its validation loss at the probe's last epoch is "
            f"{fmt(assessed[choice]['val_ratio'])} × the control's (geometric mean over "
            "models 9 and 11)." + wait)


def long_probe_text(assessed: dict, profile: Profile = PROFILE) -> str:
    """Whether the longer probe's variant kept NN1 alive over the epochs it has (chosen from
    :func:`diffsurr.nn1_probe.assess`), where the runs with Table 1's head first fell below
    the bar, and its validation loss against theirs; which runs are not in yet or not
    finished."""
    runs = nn1_probe.LONG_RUNS.values()
    hists = convergence.histories(profile, runs)
    pending = [r.label for r in runs if r.name not in hists]
    training = [r.label for r in runs
                if r.name in hists and convergence.unfinished(hists[r.name])]
    bar, controls = _alive_bar(), _long_controls(profile)
    out = []
    for label, a in assessed.items():
        firsts = []
        for m in nn1_probe.MODELS:
            below = np.flatnonzero(kept_curve(controls[m], "alive_nn1") < bar) + 1
            firsts.append(f"{below[0]} (model {m})" if below.size else f"never (model {m})")
        so_far = " so far" if training else ""
        head = (f"**{label} keeps NN1 alive{so_far}**: its alive fraction stayed at or above "
                f"the probe's bar ({bar:.2g}) at each of the {a['epochs']} epochs of models 9 "
                f"and 11 (lowest {fmt(a['min_alive'], 2)})" if a["alive"] else
                f"**{label} does not keep NN1 alive either**: within {a['epochs']} epochs its "
                f"alive fraction fell to {fmt(a['min_alive'], 2)}, below the probe's bar "
                f"({bar:.2g})")
        out.append(f"{head}; with Table 1's head it first fell below the bar at epoch "
                   f"{' and '.join(firsts)}. Its validation loss at epoch {a['epochs']} is "
                   f"{fmt(a['val_ratio'])} × that of Table 1's head at the same epoch "
                   "(geometric mean over models 9 and 11).")
    if pending:
        out.append("Not in yet: " + ", ".join(pending) + ".")
    if training:
        alive = any(a["alive"] for a in assessed.values())
        out.append("Not finished, shown at their latest milestone: " + ", ".join(training)
                   + (". A later epoch may change this." if alive else
                      ". A later epoch cannot undo a fall below the bar."))
    return " ".join(out)


def alive_figure(profile: Profile = PROFILE):
    """NN1's alive fraction per kept epoch in the runs with both networks of models 9 and 11,
    Table 1's head (solid) and the longer probe's (dashed), with the probe's bar."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.2), layout="constrained")
    ax = fig.subplots()
    runs = {RunId.of(profile, m): "-" for m in nn1_probe.MODELS}
    runs.update({r: "--" for r in nn1_probe.LONG_RUNS.values()})
    hists = convergence.histories(profile, runs)
    for run, style in runs.items():
        if run.name in hists:
            alive = kept_curve(hists[run.name], "alive_nn1")
            ax.plot(np.arange(1, alive.size + 1), alive, style, marker=".",
                    color=f"C{nn1_probe.MODELS.index(run.model)}", label=run.label)
    if (bar := _alive_bar()) is not None:
        ax.axhline(bar, color="k", lw=0.8, ls=":", label="the probe's bar")
    if not hists:
        ax.text(0.5, 0.5, "no run in yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set(xlabel="epoch (kept)", ylabel="NN1 alive fraction", ylim=(0, 1.05))
    ax.tick_params(labelsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return fig


def alive_caption(profile: Profile = PROFILE) -> str:
    """Fig. C1's caption (:func:`alive_figure`)."""
    return caption(
        "C1", "NN1's alive fraction per epoch, with Table 1's head and without its last "
        "BatchNorm", profile, f"results/{profile.name}/model_{{09,11}}*/history*.nc",
        text="Solid: Table 1's NN1 head; dashed: the longer probe's (no last BatchNorm); "
             "dotted: the probe's bar. Symmetric-log axis: a dead NN1 sits at 0.")


def alive_scale_text() -> str:
    """The probe's liveness threshold, read off the working NN1 (model 6, NN1 alone, in the
    reference study), and why it is not a fixed share such as 0.1."""
    h = _working_history()
    if h is None:
        return ""
    alive = kept_curve(h, "alive_nn1")
    return (f"**When NN1 counts as alive.** The alive fraction counts the pixels where NN1's "
            f"last convolution outputs a positive value. NN1 alone (model "
            f"{nn1_probe.WORKING_MODEL} of the reference study, whose output lives) has an "
            f"alive fraction between {alive.min():.2g} and {alive.max():.2g} over its epochs: "
            "for a field that is near zero away from two small sources, a working NN1 is "
            "positive on a small share of the pixels, so a fixed bar such as 0.1 would call it "
            f"dead. The probe therefore calls NN1 alive while its alive fraction stays at or "
            f"above {nn1_probe.ALIVE_SHARE:g} × the working NN1's lowest, "
            f"{nn1_probe.alive_threshold(h):.2g}; a dead NN1 sits at 0.")


def _alive_curves(profile: Profile):
    """(run label, NN1's alive fraction per kept epoch) of each run with both networks."""
    for name, h in convergence.histories(profile).items():
        spec = table2_spec(RunId.parse(profile.name, name).model)
        alive = kept_curve(h, "alive_nn1")
        if spec.p1 and spec.p2 and alive.size:
            yield run_label(profile.name, name), alive


def _alive_bar() -> float | None:
    """The probe's liveness bar (:func:`diffsurr.nn1_probe.alive_threshold`), None until the
    working NN1's history is in."""
    working = _working_history()
    return None if working is None else nn1_probe.alive_threshold(working)


def nn1_crossed(profile: Profile = PROFILE) -> list[str]:
    """The runs whose NN1 alive fraction was both above and below the probe's bar over the
    epochs the projection fits (from :data:`convergence.FIT_FROM` on)."""
    if (bar := _alive_bar()) is None:
        return []
    fitted = ((label, alive[convergence.FIT_FROM - 1:]) for label, alive in _alive_curves(profile))
    return [label for label, alive in fitted if (alive < bar).any() and (alive >= bar).any()]


def nn1_lifetime_text(profile: Profile = PROFILE) -> str:
    """For each run with both networks: at how many of its kept epochs NN1's alive fraction was
    below the probe's threshold (:func:`diffsurr.nn1_probe.alive_threshold`), the first such
    epoch and the fraction at the latest one; whether NN1 counts as alive there is chosen
    from that value."""
    if (bar := _alive_bar()) is None:
        return ""
    out = []
    for label, alive in _alive_curves(profile):
        below = np.flatnonzero(alive < bar) + 1
        if not below.size:
            out.append(f"In {label} NN1's alive fraction stayed at or above the probe's bar "
                       f"({bar:.2g}) at all {alive.size} kept epochs.")
            continue
        end = ("so by the probe's own bar NN1 is not alive there" if alive[-1] < bar
               else "so by the probe's bar NN1 is alive there")
        out.append(f"In {label} NN1's alive fraction was below the probe's bar ({bar:.2g}) at "
                   f"{below.size} of {alive.size} kept epochs, first at epoch {below[0]}; at "
                   f"the latest, epoch {alive.size}, it is {fmt(alive[-1], 2)}, {end}.")
    return " ".join(out)
