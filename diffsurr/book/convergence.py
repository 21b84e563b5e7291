"""The convergence chapter (``book/convergence.md``): does more training change the verdicts?

Reads ``results/convergence/`` (per run: history.nc, the milestones' eval-EEE.nc and the last
epoch's eval.nc); the NN1 sections are :mod:`diffsurr.book.nn1_alive`. A run not in yet is
listed, never filled in.

The projection to the preprint's 800 epochs fits a power law ⟨res⟩ ∝ epoch^b to the run's
smoothed validation loss from epoch :data:`FIT_FROM` on (the loss is recorded every epoch, the
test residual only at the milestones) and carries the last measured test residual along it;
the interval comes from the slope's standard error (Student t, 95 %).
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage, stats

from .. import nn1_probe, plateau
from ..pilot import kept_curve
from ..nets import Surrogate, count_parameters
from ..profiles import PROFILES, Profile
from ..registry import spec as table2_spec, table2_frame
from .report import caption, fmt
from .text import models_text
from ..results import load_optional, load_seed_evals
from ..runid import RunId, run_label
from ..study import eval_name, history_name, study_runs
from . import claims

PROFILE = PROFILES["convergence"]
TARGET_EPOCHS = 800
"""The preprint's epochs, to which the trends are extrapolated."""
FIT_FROM = 8
"""First epoch of the power-law fit (earlier epochs are the fast initial descent)."""
PENDING = "not in yet"
"""A milestone's verdict on a claim that needs a run not trained to that epoch yet."""
STATS = {"mean_res": ("⟨res⟩", 1e-3), "p99_res": ("99-P", 1e-2), "max_res": ("max", 1.0)}


def epochs_evaluated(profile: Profile = PROFILE) -> list[int]:
    """The milestones and the last epoch, in order."""
    return sorted({*profile.milestones, profile.epochs})


def _eval_name(profile: Profile, epoch: int) -> str:
    return eval_name(None if epoch == profile.epochs else epoch)


def _evaluations(profile: Profile, runs=None):
    """(run, epoch, its eval file) for every evaluated epoch so far of ``runs`` (default the
    study's); the epoch of a run stopped early on a plateau is its last (its later milestones
    hold that model, so that epoch is yielded once)."""
    for run in study_runs(profile) if runs is None else runs:
        h = load_optional(run.dir / "history.nc")
        done = set()
        for epoch in epochs_evaluated(profile):
            ev = load_optional(run.dir / _eval_name(profile, epoch))
            if ev is None:
                continue
            last = int(h.attrs.get("n_epochs", profile.epochs)) if h is not None else epoch
            if (reached := min(epoch, last)) not in done:
                done.add(reached)
                yield run, reached, ev


def milestone_table(profile: Profile = PROFILE) -> pd.DataFrame:
    """One row per (run, epoch) evaluated so far: test mean, 99-P and max residual."""
    rows = [{"run": run.name, "model": run.model, "seed": run.seed, "epoch": epoch,
             **{k: float(ev.sel(set="test")[k]) for k in STATS}}
            for run, epoch, ev in _evaluations(profile)]
    return pd.DataFrame(rows, columns=["run", "model", "seed", "epoch", *STATS])


NEAR = 5
"""Grid spacings from a source pixel within which a pixel counts as near the sources."""
SHOWN = {"NN1 largest output": "NN1 largest output",
         "peak near": "fields with NN1's peak near a source",
         "res near": "⟨res⟩ near sources (10⁻³)", "res away": "⟨res⟩ away (10⁻³)",
         "pixels near": "pixels near sources"}


def near_sources(profile: Profile = PROFILE) -> pd.DataFrame:
    """Per run and evaluated epoch, from the test fields each evaluation stores (``fig_*``):
    NN1's largest unweighted output (NaN where NN1 is off; no target exceeds 1), the share of
    fields whose NN1 peaks within :data:`NEAR` spacings of a source pixel, and the mean
    absolute residual near the sources and away from them; the study's runs and the longer
    NN1 probe's (:data:`diffsurr.nn1_probe.LONG_RUNS`). ``fields`` identifies the stored
    inputs, so that only evaluations of the same fields are compared."""
    rows = []
    runs = [*study_runs(profile), *nn1_probe.LONG_RUNS.values()]
    for run, epoch, ev in _evaluations(profile, runs):
        x = ev["fig_input"].values
        r = np.abs(ev["fig_pred"].values - ev["fig_target"].values)
        near = np.stack([ndimage.distance_transform_edt(f == 0) <= NEAR for f in x])
        nn1 = ev["fig_nn1"].values
        on = np.isfinite(nn1).any()
        peaks = [near[i].flat[np.nanargmax(nn1[i])] for i in range(len(x))] if on else [np.nan]
        rows.append({"run": run_label(profile.name, run.name), "model": run.model,
                     "epoch": epoch, "fields": hashlib.sha256(x.tobytes()).hexdigest(),
                     "n fields": len(x), "NN1 largest output": np.nanmax(nn1) if on else np.nan,
                     "peak near": np.mean(peaks), "res near": r[near].mean(),
                     "res away": r[~near].mean(), "pixels near": near.mean()})
    return pd.DataFrame(rows, columns=["run", "model", "epoch", "fields", "n fields", *SHOWN])


def near_sources_shown(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`near_sources` as the page shows it ('—' where NN1 is off; run labels do not
    wrap)."""
    out = table.assign(run=table["run"].str.replace(" ", "\u00a0")).set_index(
        ["run", "epoch"])[list(SHOWN)]
    off = ~np.isfinite(out["NN1 largest output"])
    out["NN1 largest output"] = [fmt(v) for v in out["NN1 largest output"]]
    out["peak near"] = [f"{100 * v:.0f} %" for v in out["peak near"]]
    out.loc[off, ["NN1 largest output", "peak near"]] = "—"
    for col in ("res near", "res away"):
        out[col] = [fmt(v / 1e-3) for v in out[col]]
    out["pixels near"] = [f"{100 * v:.1f} %" for v in out["pixels near"]]
    return out.rename(columns=SHOWN)


def near_sources_text(table: pd.DataFrame) -> str:
    """Where each run with both networks errs at its latest evaluated epoch, against the run of
    NN2 alone with the same loss at that epoch on the same fields: the share of the gap in mean
    residual between them that lies near the sources; the sentence's end is chosen from it."""
    if table.empty:
        return "No run is evaluated yet."
    spec = {int(m): table2_spec(int(m)) for m in table["model"].unique()}
    both = table[table["model"].map(lambda m: bool(spec[m].p1 and spec[m].p2))]
    if both.empty:
        return "No run with both networks is evaluated yet."
    out = [f"From the {int(table['n fields'].iloc[0])} test fields each evaluation stores; a "
           f"pixel is near the sources within {NEAR} grid spacings of a source pixel."]
    for label, g in both.groupby("run", sort=False):
        g = g.sort_values("epoch")
        last = g.iloc[-1]
        alone = table[(table["epoch"] == last["epoch"]) & (table["fields"] == last["fields"])
                      & table["model"].map(lambda m: not spec[m].p1
                                           and spec[m].loss == spec[int(last["model"])].loss)]
        earlier = ", ".join(f"{fmt(v)} at epoch {e}" for e, v in zip(
            g["epoch"].iloc[:-1], g["NN1 largest output"].iloc[:-1]))
        earlier = f" ({earlier})" if earlier else ""
        text = (f"In {label} at epoch {int(last['epoch'])}, NN1's largest output is "
                f"{fmt(last['NN1 largest output'])}{earlier}, and in "
                f"{100 * last['peak near']:.0f} % of the fields it peaks near a source.")
        if not alone.empty:
            c, pix = alone.iloc[0], last["pixels near"]
            near = pix * (last["res near"] - c["res near"])
            gap = near + (1 - pix) * (last["res away"] - c["res away"])
            text += (f" Its mean residual near the sources is {fmt(last['res near'] / 1e-3)}·10⁻³ "
                     f"against {fmt(c['res near'] / 1e-3)}·10⁻³ for {c['run']} (NN2 alone, "
                     f"the same loss), and away from them {fmt(last['res away'] / 1e-3)} "
                     f"against {fmt(c['res away'] / 1e-3)}·10⁻³; ")
            if gap <= 0:
                text += f"on these fields its mean residual is not above {c['run']}'s."
            else:
                text += (f"{100 * near / gap:.0f} % of the gap lies near the sources, on "
                         f"{100 * pix:.0f} % of the pixels: " + (
                             "what separates it from NN2 alone is NN1's output at the sources."
                             if near / gap > 0.5 else "most of the gap lies away from them."))
        out.append(text)
    return " ".join(out)


def histories(profile: Profile = PROFILE, runs=None) -> dict[str, xr.Dataset]:
    """The history of every run (of ``runs``, default the study's) by run name: its
    history.nc, or for an unfinished run the history up to its latest milestone
    (history-EEE.nc)."""
    out = {}
    for run in study_runs(profile) if runs is None else runs:
        names = ["history.nc"] + [history_name(e) for e in sorted(profile.milestones,
                                                                  reverse=True)]
        found = (load_optional(run.dir / name) for name in names)
        if (h := next((h for h in found if h is not None), None)) is not None:
            out[run.name] = h
    return out


def unfinished(history: xr.Dataset) -> bool:
    """Whether ``history`` is of a training that has not ended (a milestone's history)."""
    return history.attrs.get("stopped") == "running"


def missing(profile: Profile = PROFILE) -> list[str]:
    """The runs (and milestones) not evaluated yet, by run label: a run with no evaluation,
    and per run each milestone below its latest evaluation or, while it is unfinished (its
    history says so), not reached yet."""
    table = milestone_table(profile)
    have = set(zip(table["run"], table["epoch"]))
    runs = {r for r, _ in have}
    hists = histories(profile)
    out = [r.label for r in study_runs(profile) if r.name not in runs]
    return out + [f"{run_label(profile.name, r)} at epoch {e}" for r in sorted(runs)
                  for e in epochs_evaluated(profile)
                  if (r, e) not in have and (unfinished(hists[r])
                                             or e <= max(ep for rr, ep in have if rr == r))]


def missing_text(profile: Profile = PROFILE) -> str:
    """Which runs (and milestones) are not in yet, or that all are."""
    gone = missing(profile)
    total = len(study_runs(profile))
    if not gone:
        return f"All {total} runs of the convergence study are in."
    return (f"Not in yet ({len(gone)}): " + "; ".join(gone) + ". Every number "
            "below comes from the runs that are in.")


def projections_shown(proj: pd.DataFrame, profile: Profile = PROFILE) -> pd.DataFrame:
    """:func:`projections` with each run's label as its index."""
    return proj.rename(index=lambda name: run_label(profile.name, name))


def projection_text(proj: pd.DataFrame, crossed=()) -> str:
    """How the projection is made and where it is not to be trusted (``crossed``: the runs
    of :func:`nn1_crossed`)."""
    if proj.empty:
        return "No convergence run is in yet, so nothing is projected."
    caveat = "" if not crossed else (
        f" In {models_text(crossed)} NN1's alive fraction crossed the probe's bar within the "
        "fitted epochs: the fit spans a change of the model, not one trend, so "
        f"{'its' if len(crossed) == 1 else 'their'} projection is not to be trusted.")
    return (f"Each projection fits ⟨res⟩ ∝ epoch^b to the run's validation loss (Eq. 1, "
            f"smoothed by a centred running median over {plateau.SMOOTH} epochs) from epoch "
            f"{FIT_FROM} "
            f"on, and carries the last measured test residual along it to {TARGET_EPOCHS} "
            "epochs; the interval is the slope's 95 % t-interval. It is a trend, not a "
            "prediction: it assumes the loss keeps falling as one power of the epoch over a "
            "range ten to a hundred times longer than the one fitted, at a learning rate 200 "
            "times the preprint's, and that the test residual follows the validation loss; a "
            "plateau, a roll-back or a learning-rate schedule would each break it." + caveat)


def trend(history: xr.Dataset, start: int = FIT_FROM) -> tuple[float, float, int]:
    """(slope b, its standard error, number of epochs) of log(validation loss) against
    log(epoch) over the kept epochs from ``start`` on, the loss smoothed by a centred running
    median over :data:`diffsurr.plateau.SMOOTH` epochs (the last ones, without a full window,
    left out)."""
    val = kept_curve(history)
    half = plateau.SMOOTH // 2
    centred = np.array([np.median(val[k - half:k + half + 1])
                        for k in range(half, val.size - half)])
    epoch = np.arange(half + 1, val.size - half + 1)
    keep = epoch >= start
    if keep.sum() < 4:
        return np.nan, np.nan, int(keep.sum())
    fit = stats.linregress(np.log(epoch[keep]), np.log(centred[keep]))
    return float(fit.slope), float(fit.stderr), int(keep.sum())


def projection(res: float, epoch: int, slope: float, stderr: float, n: int,
               target: int = TARGET_EPOCHS) -> tuple[float, float, float]:
    """(projected value, low, high) at ``target`` epochs of a value ``res`` measured at
    ``epoch``, carried along epoch^slope; the interval from the slope's 95 % t-interval."""
    if not np.isfinite(slope) or n < 4:
        return np.nan, np.nan, np.nan
    t = stats.t.ppf(0.975, n - 2)
    factor = np.log(target / epoch)
    return tuple(float(res * np.exp((slope + k * t * stderr) * factor)) for k in (0, -1, 1))


def projections(profile: Profile = PROFILE) -> pd.DataFrame:
    """Per run with a last evaluation: its last test mean residual, the fitted slope and the
    projection to :data:`TARGET_EPOCHS` with its interval, next to the preprint's value."""
    table, hists = milestone_table(profile), histories(profile)
    paper = table2_frame()["paper_mean_res"]
    rows = []
    for run, g in table.groupby("run", sort=False):
        if run not in hists:
            continue
        last = g.loc[g["epoch"].idxmax()]
        b, se, n = trend(hists[run])
        mid, lo, hi = projection(last["mean_res"], int(last["epoch"]), b, se, n)
        rows.append({"run": run, "epochs": int(last["epoch"]),
                     "⟨res⟩ (10⁻³)": last["mean_res"] / 1e-3,
                     "slope b": b, "± (95 %)": stats.t.ppf(0.975, n - 2) * se if n > 3 else np.nan,
                     f"at {TARGET_EPOCHS} (10⁻³)": mid / 1e-3, "low": lo / 1e-3, "high": hi / 1e-3,
                     "preprint (10⁻³)": float(paper.sel(model=int(last["model"]))) / 1e-3})
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()


def milestone_seeds(profile: Profile = PROFILE) -> dict[int, xr.Dataset]:
    """The study's per-seed evaluations (:func:`diffsurr.results.load_seed_evals`) at each
    evaluated epoch that has any."""
    out = {}
    for epoch in epochs_evaluated(profile):
        try:
            out[epoch] = load_seed_evals(profile, partial=True, name=_eval_name(profile, epoch))
        except FileNotFoundError:
            continue
    return out


def milestone_verdicts(profile: Profile = PROFILE, by_epoch: dict | None = None
                       ) -> dict[int, dict[str, claims.Verdict]]:
    """The comparison claims judged on the runs' evaluations at each milestone (through
    :func:`diffsurr.book.claims.verdicts`; roll-back from the histories up to that epoch), or
    :data:`PENDING` where the verdict needs (:func:`_needed`) an unfinished run that has not
    reached the milestone; ``by_epoch``: :func:`milestone_seeds`, when the page has read them
    already."""
    hists = histories(profile)
    out = {}
    by_epoch = milestone_seeds(profile) if by_epoch is None else by_epoch
    for epoch, seeds in by_epoch.items():
        fired = sum(int((h["accepted"].values[h["epoch"].values <= epoch] == 0).sum())
                    for h in hists.values())
        ctx = claims.Context(caveat=f"at {epoch} epochs", epochs=epoch, m=profile.m,
                             n_rollbacks=fired)
        vs = claims.verdicts(seeds, ctx)
        out[epoch] = {k: v for k, v in vs.items() if k != "speed-1000x"}
    behind = {e: [RunId.parse(profile.name, n) for n, h in hists.items()
                  if unfinished(h) and int(h.attrs["n_epochs"]) < e]
              for e in out}
    for epoch in sorted(out):
        for key, v in out[epoch].items():
            if short := [r for r in behind[epoch] if _needed(r, v, profile)]:
                out[epoch][key] = dataclasses.replace(
                    v, outcome=PENDING, reason=f"runs not trained to epoch {epoch} yet: "
                    + ", ".join(r.label for r in short))
    return out


def _needed(run: RunId, verdict: claims.Verdict, profile: Profile) -> bool:
    """Whether ``verdict``, judged without ``run``, may lack evidence ``run`` would bring: it
    was not tested, ``run`` is a further seed (the seed spread every comparison uses), or
    ``run``'s model is one the verdict compares."""
    models = {m for c in verdict.comparisons for m in (c.model_a, c.model_b)}
    return (verdict.outcome == "not tested" or run.seed in profile.extra_seeds
            or run.model in models)


def verdict_changes(by_epoch: dict[int, dict[str, claims.Verdict]]) -> pd.DataFrame:
    """One row per claim, one column per epoch: the verdict in words, and whether it changed."""
    if not by_epoch:
        return pd.DataFrame()
    epochs = sorted(by_epoch)
    keys = list(by_epoch[epochs[0]])
    df = pd.DataFrame({f"{e} epochs": [by_epoch[e][k].outcome for k in keys] for e in epochs},
                      index=pd.Index([claims.CLAIMS[k].title for k in keys], name="claim"))
    df["changed"] = ["yes" if len(set(row) - {PENDING}) > 1 else "no"
                     for row in df.itertuples(index=False)]
    return df


def changes_text(df: pd.DataFrame) -> str:
    """Which verdicts changed between the first and the last epoch evaluated."""
    if df.empty:
        return "No convergence run is evaluated yet, so no verdict has been judged at a milestone."
    cols = [c for c in df.columns if c != "changed"]
    changed = df.index[df["changed"] == "yes"].tolist()
    span = f"between {cols[0]} and {cols[-1]}" if len(cols) > 1 else f"at {cols[0]} only"
    if len(cols) == 1:
        return f"Only one epoch is evaluated so far ({cols[0]}): nothing to compare yet."
    if not changed:
        return f"No verdict changed {span} on the runs in so far."
    return (f"Verdicts that changed {span}: " + "; ".join(
        f"*{c}* ({' → '.join(df.loc[c, cols])})" for c in changed) + ".")


def runs_table(profile: Profile = PROFILE) -> pd.DataFrame:
    """One row per run that is in: epochs trained and why it stopped (or, unfinished, the
    milestone it reached), its best epoch, its roll-backs, NN1's alive fraction at its last
    accepted epoch (models with NN1) and its CPU hours so far."""
    rows = []
    for name, h in histories(profile).items():
        done = h.attrs.get("stopped")
        alive = kept_curve(h, "alive_nn1")
        rows.append({
            "run": run_label(profile.name, name),
            "epochs": int(h.attrs["n_epochs"]),
            "state": {"epochs": "done", "plateau": "stopped on a plateau"}.get(
                done, "unfinished"),
            "best epoch": int(h.attrs["best_epoch"]),
            "roll-backs": int(h.attrs["n_rollbacks"]),
            "NN1 alive at the last epoch": (fmt(alive[-1], 2) if alive.size and
                                            np.isfinite(alive[-1]) else "—"),
            "CPU hours": fmt(training_cpu_hours(h), 2)})
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()


def training_cpu_hours(history: xr.Dataset) -> float:
    """A training's CPU hours: its wall time summed over every resumed part (the trainer's
    ``wall_time_s``, not one stage's) × its torch threads."""
    return float(history.attrs["wall_time_s"]) * int(history.attrs.get("torch_threads", 1)) / 3600


def best_text(profile: Profile = PROFILE) -> str:
    """The best run's test residuals against the preprint's best model, with its parameters
    and CPU time."""
    table = milestone_table(profile)
    if table.empty:
        return "No convergence run is evaluated yet."
    best = table.loc[table["mean_res"].idxmin()]
    paper = table2_frame()
    pm = int(paper["paper_mean_res"].idxmin())
    run = RunId.parse(profile.name, best["run"])
    net = Surrogate.from_table2(run.model, width=profile.width, head=profile.head)
    full = Surrogate.from_table2(run.model)
    h = load_optional(run.dir / "history.nc")
    hours = training_cpu_hours(h) if h is not None else np.nan
    reach = ("reaches" if best["mean_res"] <= float(paper["paper_mean_res"].sel(model=pm))
             else "does not reach")
    return (f"The lowest mean test residual of any convergence run is "
            f"{fmt(best['mean_res'] / 1e-3)}·10⁻³ ({run.label} at {int(best['epoch'])} epochs; "
            f"99-P {fmt(best['p99_res'] / 1e-2)}·10⁻², max {fmt(best['max_res'])}); it {reach} "
            f"the preprint's best, model {pm} "
            f"({fmt(float(paper['paper_mean_res'].sel(model=pm)) / 1e-3)}"
            f"·10⁻³, 99-P {fmt(float(paper['paper_p99_res'].sel(model=pm)) / 1e-2)}·10⁻², max "
            f"{fmt(float(paper['paper_max_res'].sel(model=pm)))}), with {count_parameters(net):,} "
            f"parameters ({count_parameters(full):,} at the preprint's width) and "
            f"{fmt(hours, 2)} CPU hours of training (wall time × torch threads, over every "
            "resumed part, on a machine shared with other work).")


def figure_caption(profile: Profile = PROFILE) -> str:
    """Fig. C2's caption (:func:`figure`)."""
    return caption(
        "C2", "Test residual against epoch, and the training loss with its roll-backs", None,
        f"results/{profile.name}/model_*/{{history,eval,eval-*}}.nc",
        text="a) Mean test residual at each evaluated epoch (circles, log–log), the projection "
             "to 800 epochs (dashed) with its 95 % interval (bar) and the preprint's value of "
             "the same model (open square). b) Training loss of every attempted epoch; ×: an "
             "epoch the roll-back rule undid.")


def figure(profile: Profile = PROFILE):
    """a) test mean residual at each evaluated epoch per run (log–log) with the projection to
    800 epochs and its interval, the preprint's value at 800; b) training loss per attempted
    epoch with roll-backs marked."""
    from matplotlib.figure import Figure

    table, hists, proj = milestone_table(profile), histories(profile), projections(profile)
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    a, b = fig.subplots(1, 2)
    for i, (run, g) in enumerate(table.groupby("run", sort=False)):
        colour = f"C{i % 10}"
        a.plot(g["epoch"], g["mean_res"] / 1e-3, "o-", color=colour,
               label=run_label(profile.name, run))
        if run in proj.index and np.isfinite(proj.loc[run, "low"]):
            p, last = proj.loc[run], g["epoch"].max()
            x = np.array([last, TARGET_EPOCHS])
            a.plot(x, [p["⟨res⟩ (10⁻³)"], p[f"at {TARGET_EPOCHS} (10⁻³)"]], "--", color=colour)
            a.vlines(TARGET_EPOCHS, p["low"], p["high"], color=colour, lw=3, alpha=0.4)
            a.plot(TARGET_EPOCHS * 1.08, p["preprint (10⁻³)"], "s", mfc="none", color=colour)
    for i, (run, h) in enumerate(hists.items()):
        ep, loss = h["epoch"].values, h["train_loss"].values
        b.plot(ep, loss, ".-", color=f"C{i % 10}", lw=0.8, ms=3, label=run_label(profile.name, run))
        jumps = h["accepted"].values == 0
        b.plot(ep[jumps], loss[jumps], "x", color="k", ms=7)
    if table.empty:
        for ax in (a, b):
            ax.text(0.5, 0.5, "no convergence run in yet", ha="center", va="center",
                    transform=ax.transAxes)
    else:
        a.set(xscale="log", yscale="log")
    a.set(xlabel="epoch", ylabel="mean test residual (10⁻³)",
          title="a) test residual and projection")
    if hists:
        b.set_yscale("log")
    b.set(xlabel="attempted epoch", ylabel="training loss (Eq. 1)",
          title="b) training loss; ×: rolled back")
    for ax in (a, b):
        ax.tick_params(labelsize=9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return fig
