"""The reference study chapter: Table 2 on the authors' data, at CPU scale.

Reads only committed files of ``results/reference/`` and ``results/pilot/`` (history.nc,
eval.nc); a run not yet trained is listed as missing, never filled in. The pilot's curves
and plateau test (:mod:`diffsurr.pilot`) say why the reference schedule was chosen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .. import pilot
from ..baselines import ARCH_NAMES
from .comparison import SPREAD_K
from ..profiles import PROFILES, Profile
from ..registry import MODELS, spec, table2_frame
from .report import RESIDUALS, fmt, style_table2, table2_comparison
from ..results import load_evals, load_optional
from ..runid import RunId, run_label
from ..study import study_runs

PROFILE = PROFILES["reference"]
TARGET_MEAN_RES = 5e-3
"""The mean test residual the best model with NN2 should reach at this scale (the preprint's
best: 2.04e-3; the ``ci`` profile's: about 2e-2)."""
GiB = 2 ** 30


def status(profile: Profile = PROFILE) -> pd.DataFrame:
    """One row per run of the study (:func:`diffsurr.study.study_runs`): whether it is trained
    and evaluated, its epochs, best epoch, roll-backs, wall time, peak memory, commit."""
    rows = []
    for run in study_runs(profile):
        h, e = load_optional(run.dir / "history.nc"), load_optional(run.dir / "eval.nc")
        a = h.attrs if h is not None else {}
        rows.append({
            "run": run.name, "model": run.model, "seed": run.seed, "arch": run.config().arch,
            "trained": h is not None, "evaluated": e is not None,
            "epochs": int(h["kept"].sum()) if h is not None else np.nan,
            "best epoch": a.get("best_epoch", np.nan),
            "roll-backs": a.get("n_rollbacks", np.nan),
            "wall time (min)": a.get("stage_wall_time_s", np.nan) / 60,
            "peak memory (GiB)": a.get("peak_rss_bytes", np.nan) / GiB,
            "mean res (10⁻³)": (float(e["mean_res"].sel(set="test")) / 1e-3
                                if e is not None else np.nan),
            "commit": str(a.get("git_commit", ""))[:7]})
    return pd.DataFrame(rows).set_index("run")


CLAMPED = "_mode-clamped_placement-preprint"
"""The run-name suffix of the clamped-reading runs."""
MIN_RANKED = 3
"""A rank correlation over fewer models than this is not given."""


def labelled(df: pd.DataFrame, profile: Profile = PROFILE) -> pd.DataFrame:
    """``df`` (indexed by run name) with each run's label (:attr:`diffsurr.runid.RunId.label`)
    as its index, the name every table and figure of the book gives a run."""
    return df.rename(index=lambda name: run_label(profile.name, name)).rename_axis("run")


def status_shown(st: pd.DataFrame) -> pd.DataFrame:
    """:func:`status` as the page shows it: one state column, short headers, run labels."""
    state = np.where(st["evaluated"], "evaluated", np.where(st["trained"], "trained", "missing"))
    out = pd.DataFrame({"state": state, "epochs": st["epochs"], "best": st["best epoch"],
                        "roll-backs": st["roll-backs"], "min": st["wall time (min)"].round(0),
                        "GiB": st["peak memory (GiB)"].round(1),
                        "⟨res⟩ 10⁻³": st["mean res (10⁻³)"].round(2), "commit": st["commit"]},
                       index=st.index)
    return labelled(out.astype(object).where(out.notna(), "—"))


def progress_text(st: pd.DataFrame) -> str:
    """How many runs are in, and which are still missing."""
    done = st["evaluated"]
    if done.all():
        return f"All {len(st)} runs of the study are trained and evaluated."
    return (f"{int(done.sum())} of {len(st)} runs are trained and evaluated; still missing: "
            + "; ".join(run_label(PROFILE.name, r) for r in st.index[~done])
            + ". They are listed here, not "
            "estimated: every number below comes from the runs that are in.")


def table2_runs(st: pd.DataFrame) -> list[int]:
    """The Table 2 models (seed 0, the profile's own values) that are evaluated."""
    names = {RunId.of(PROFILE, m).name: m for m in MODELS}
    return [names[r] for r in st.index if r in names and st.loc[r, "evaluated"]]


def table2(st: pd.DataFrame) -> pd.DataFrame:
    """:func:`diffsurr.book.report.table2_comparison` of the evaluated Table 2 runs (empty if
    none)."""
    models = table2_runs(st)
    return table2_comparison(load_evals(PROFILE, models)) if models else pd.DataFrame()


def table2_shown(df: pd.DataFrame):
    """The table as the page shows it, or a line saying that no model is in yet."""
    if df.empty:
        from IPython.display import Markdown
        return Markdown("*No Table 2 model is evaluated yet.*")
    return style_table2(df)


def table2_text(df: pd.DataFrame) -> str:
    """:func:`agreement` and :func:`best_with_nn2`, or nothing while no model is in."""
    return "" if df.empty else agreement(df) + " " + best_with_nn2(df)


def agreement(df: pd.DataFrame) -> str:
    """Geometric-mean ratio ours / preprint per residual, and Spearman's ρ over the models."""
    parts = []
    for _, _, _, label in RESIDUALS:
        ratio = df[(label, "ours / preprint")]
        rho = df[(label, "ours")].corr(df[(label, "preprint")], method="spearman")
        ranked = f", rank correlation {rho:+.2f}" if len(df) >= MIN_RANKED else ""
        parts.append(f"{label}: ours / preprint {fmt(np.exp(np.log(ratio).mean()), 2)} "
                     f"(geometric mean; range {fmt(ratio.min(), 2)}–{fmt(ratio.max(), 2)})"
                     + ranked)
    rank = ("; ρ near 1 that the models order themselves as in the preprint"
            if len(df) >= MIN_RANKED else
            f"; no rank correlation is given over fewer than {MIN_RANKED} models")
    return (f"Over the {_count(len(df), 'model')} in, " + "; ".join(parts) + ". A ratio near "
            "1 means the reproduction matches the preprint's single run" + rank + ".")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def best_with_nn2(df: pd.DataFrame) -> str:
    """The best model with NN2 on the mean test residual, against :data:`TARGET_MEAN_RES`."""
    label = RESIDUALS[0][3]
    nn2 = [m for m in df.index if spec(m).p2 != 0]
    if not nn2:
        return "No model with NN2 is evaluated yet."
    best = df.loc[nn2, (label, "ours")].idxmin()
    value = df.loc[best, (label, "ours")] * 1e-3
    reach = "reaches" if value <= TARGET_MEAN_RES else "does not reach"
    return (f"The best model with NN2 is model {best}, mean test residual {fmt(value)} "
            f"(preprint's best: {fmt(table2_frame()['paper_mean_res'].min())}); it {reach} "
            f"this study's target for the reference scale, {fmt(TARGET_MEAN_RES)}.")


def rollback_ratios(history: xr.Dataset, m: int) -> np.ndarray:
    """Per kept epoch n ≥ 2: L(n) / mean of the up to ``m`` kept losses before it, the ratio
    Eq. 3 compares with C (the rule itself waits for m accepted epochs)."""
    loss = history["train_loss"].values[history["kept"].values == 1]
    return np.array([loss[n] / loss[max(0, n - m):n].mean() for n in range(1, len(loss))])


def rollback_table(profile: Profile = PROFILE) -> pd.DataFrame:
    """Per trained run: roll-backs, epochs, and the largest loss ratio of Eq. 3 (with the
    window cut to the epochs there are) against C."""
    rows = []
    for run in study_runs(profile):
        h = load_optional(run.dir / "history.nc")
        if h is not None:
            ratios = rollback_ratios(h, profile.m)
            rows.append({"run": run.name, "epochs": len(ratios) + 1,
                         "roll-backs": int(h.attrs["n_rollbacks"]),
                         "largest L(n) / mean of earlier":
                             float(ratios.max()) if ratios.size else np.nan})
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()


def rollback_text(rb: pd.DataFrame, profile: Profile = PROFILE) -> str:
    """Whether the roll-back rule fired, and how far the losses were from firing it."""
    if rb.empty:
        return "No run is trained yet."
    fired = int(rb["roll-backs"].sum())
    worst = float(rb["largest L(n) / mean of earlier"].max())
    can = int(rb["epochs"].max()) > profile.m
    return (f"Roll-backs over the {_count(len(rb), 'trained run')}: {fired}. "
            + ("" if can else f"Eq. 3 compares an epoch's loss with the mean of the previous "
               f"m = {profile.m} accepted epochs, so with {profile.epochs} epochs the rule "
               "cannot fire at all. ")
            + f"The largest ratio of an epoch's training loss to the mean of the earlier ones "
            f"(window cut to the epochs there are) is {worst:.2f}, against C = {profile.C:g}: "
            + ("no epoch came near a jump." if worst < profile.C / 2 else
               "some epochs came within a factor 2 of a jump."))


def budget_text(st: pd.DataFrame, profile: Profile = PROFILE, jobs: int = 2) -> str:
    """Measured wall time per training by network kind, and the whole study's projected time
    with ``jobs`` trainings side by side, against the 8-hour and 45-minute budgets."""
    done = st[st["trained"]]
    if done.empty:
        return "No run is trained yet, so no time can be given."
    kind = st["model"].map(lambda m: "NN1 + NN2" if spec(m).p1 and spec(m).p2 else
                           ("NN1 only" if spec(m).p1 else "NN2 only"))
    kind = kind.where(st["arch"] == "table1", st["arch"].map(ARCH_NAMES))
    minutes = done["wall time (min)"].groupby(kind[st["trained"]])
    per_kind, fastest, longest, n = minutes.mean(), minutes.min(), minutes.max(), minutes.size()
    ranges = {k: f"{per_kind[k]:.0f} min" + (f" ({fastest[k]:.0f}–{longest[k]:.0f})"
                                             if n[k] > 1 else "")
              for k in per_kind.index}
    known = kind.map(per_kind)
    part = "" if known.notna().all() else " (kinds not yet timed left out)"
    over = int((done["wall time (min)"] > 45).sum())
    return ("Measured wall time per training (mean by kind, range in brackets): "
            + ", ".join(f"{k} {v}" for k, v in ranges.items())
            + f"; {over} of {len(done)} trainings took longer than the 45-minute budget. These "
            f"are wall times on a shared 2-core machine with {jobs} trainings side by side; "
            "where other work ran alongside, a training took longer, hence the ranges. The "
            f"whole study of {len(st)} runs, {jobs} at a time, projects to "
            f"{known.sum() / jobs / 60:.1f} h at the mean times and "
            f"{kind.map(fastest).sum() / jobs / 60:.1f} h at the fastest of each kind{part} "
            f"(budget 8 h). Peak memory per training: up to "
            f"{done['peak memory (GiB)'].max():.1f} GiB.")


def readings(profile: Profile = PROFILE) -> pd.DataFrame:
    """The test residuals (:data:`RESIDUALS`) of each model trained on both readings of a
    source: on the production reading (the authors' code; mean, std and n over the evaluated
    seeds) and on the clamped one (the preprint's text; one seed), each against its own targets.
    Empty while no clamped run is evaluated."""
    rows = []
    for run in study_runs(profile):
        cfg = run.config()
        e = load_optional(run.dir / "eval.nc") if cfg.arch == "table1" else None
        if e is not None:
            rows.append({"model": run.model, "reading": cfg.mode,
                         **{label: float(e[var].sel(set="test")) / unit
                            for var, _, unit, label in RESIDUALS}})
    df = pd.DataFrame(rows, columns=["model", "reading", *(r[3] for r in RESIDUALS)])
    clamped = df["reading"] == "clamped"
    both = set(df.loc[clamped, "model"]) & set(df.loc[~clamped, "model"])
    df = df[df["model"].isin(both)]
    return df.groupby(["model", "reading"]).agg(["mean", "std", "count"])


def readings_shown(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`readings` as the page shows it: per model, a row per reading (mean ± std (n)) and
    a row with the ratio clamped / production of the means."""
    rows = {}
    for model in sorted(df.index.get_level_values("model").unique()):
        for reading in ("production", "clamped"):
            rows[(model, reading)] = {
                label: fmt(m) + (f" ± {fmt(sd, 2)}" if n > 1 else "") + f" (n = {n:.0f})"
                for label, (m, sd, n) in ((r[3], df.loc[(model, reading), r[3]])
                                          for r in RESIDUALS)}
        mean = df.xs(model, level="model").xs("mean", axis=1, level=1)
        rows[(model, "clamped / production")] = (mean.loc["clamped"] / mean.loc["production"]
                                                 ).map("{:.2f}".format).to_dict()
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(["model", "reading"])


def readings_text(df: pd.DataFrame) -> str:
    """What the source model changes for the surrogates: the clamped / production ratio of the
    mean test residual per model, and whether each difference exceeds the seed spread
    (|Δ| > k·√(s_p² + s_c²), the clamped run's std estimated with the production seeds'
    relative spread, as on the seeds page)."""
    if df.empty:
        return ("*No model is evaluated on both readings yet: this section fills in when the "
                "clamped runs are in.*")
    res = df[RESIDUALS[0][3]]
    prod, clamped = res.xs("production", level="reading"), res.xs("clamped", level="reading")
    ratio = clamped["mean"] / prod["mean"]
    spread = np.hypot(prod["std"], prod["std"] / prod["mean"] * clamped["mean"])
    beyond = (clamped["mean"] - prod["mean"]).abs() > SPREAD_K * spread
    models = ", ".join(str(m) for m in ratio.index)
    some = 0 < beyond.sum() < len(beyond)
    which = f" ({', '.join(str(m) for m in beyond.index[beyond])})" if some else ""
    verdict = (f"beyond the seed spread for {int(beyond.sum())} of {len(beyond)} models{which}"
               if spread.notna().all() else "not comparable with a seed spread (one seed only)")
    times = (f"{ratio.iloc[0]:.2f} times" if len(ratio) == 1 else
             f"{ratio.min():.2f}–{ratio.max():.2f} times")
    return (f"Trained on the clamped reading (the preprint's text, preprint placement), "
            f"model{'s' if len(ratio) > 1 else ''} {models} reach{'' if len(ratio) > 1 else 'es'} "
            f"mean test residuals {times} those on the production reading (the authors' code, "
            "code placement): "
            + ("higher on the clamped reading for every model" if (ratio > 1).all() else
               "lower on the clamped reading for every model" if (ratio < 1).all() else
               "higher for some models and lower for others")
            + f", {verdict} (k = {SPREAD_K:g}, as on the seeds page). Each reading's residuals "
            "are measured against its own targets, so this compares how well the same networks "
            "and schedule learn each problem, not the two problems' fields.")


def pilot_table(profile: Profile = PROFILE) -> pd.DataFrame:
    """The pilot's runs: NN2 width, lr, time per epoch, best validation loss, the plateau
    test over the last fifth of the epochs (also over the first ``profile.epochs``, the
    reference schedule), and the test residuals."""
    rows = []
    for run in pilot.RUNS:
        h, e = load_optional(run.dir / "history.nc"), load_optional(run.dir / "eval.nc")
        if h is None:
            continue
        p = run.config()
        val = pilot.kept_curve(h)
        test = e.sel(set="test") if e is not None else None
        rows.append({
            "run": run.name, "NN2 width": p.width, "lr": p.lr, "epochs": len(val),
            "s / epoch": h.attrs["wall_time_s"] / len(val),
            "best val loss": float(val.min()), "best epoch": int(h.attrs["best_epoch"]),
            "improvement, last fifth (%)": 100 * pilot.plateau_improvement(val),
            "plateau": pilot.on_plateau(val),
            "improvement, reference epochs (%)":
                100 * pilot.plateau_improvement(val[:profile.epochs]),
            "epoch-to-epoch (%)": float(np.median(np.abs(np.diff(val)) / val[:-1])),
            "mean res (10⁻³)": float(test["mean_res"]) / 1e-3 if test is not None else np.nan,
            "99-P res (10⁻²)": float(test["p99_res"]) / 1e-2 if test is not None else np.nan,
            "max res": float(test["max_res"]) if test is not None else np.nan})
    return pd.DataFrame(rows, columns=list(rows[0]) if rows else ["run"]).set_index("run")


def pilot_shown(pt: pd.DataFrame) -> pd.DataFrame:
    """:func:`pilot_table` as the page shows it: short headers, rounded."""
    return pd.DataFrame({
        "width": pt["NN2 width"], "lr": pt["lr"], "s/epoch": pt["s / epoch"].round(0),
        "best val": pt["best val loss"].map(lambda v: fmt(v)), "best ep.": pt["best epoch"],
        "last fifth %": pt["improvement, last fifth (%)"].round(1), "plateau": pt["plateau"],
        "⟨res⟩ 10⁻³": pt["mean res (10⁻³)"].round(2), "99-P 10⁻²": pt["99-P res (10⁻²)"].round(2),
        "max": pt["max res"].round(3)}, index=pt.index.map(lambda r: run_label("pilot", r)))


def pilot_curves() -> dict[str, xr.Dataset]:
    """Histories of the pilot's runs, by the run's label with its width and lr."""
    out = {}
    for run in pilot.RUNS:
        h = load_optional(run.dir / "history.nc")
        if h is not None:
            p = run.config()
            out[f"{run.label}: width {p.width:g}, lr {p.lr:g}"] = h
    return out


def choice_text(pt: pd.DataFrame, profile: Profile = PROFILE) -> str:
    """What the pilot chose and whether the chosen setting reached a plateau."""
    chosen = pt[(pt["NN2 width"] == profile.width) & (pt["lr"] == profile.lr)]
    if chosen.empty:
        return "The pilot has no run with the reference setting."
    row = chosen.iloc[0]
    widest = "the widest" if row["NN2 width"] >= pt["NN2 width"].max() else "not the widest"
    return (f"The reference study uses NN2 width {profile.width:g} and lr {profile.lr:g}: "
            f"{widest} width of the pilot, and the setting whose validation loss "
            f"{'reached' if row['plateau'] else 'did not reach'} a plateau (improvement over "
            f"the last fifth of its {int(row['epochs'])} epochs: "
            f"{row['improvement, last fifth (%)']:.1f} %, "
            f"threshold {100 * pilot.PLATEAU_IMPROVEMENT:g} %). Over its first {profile.epochs} "
            f"epochs, the reference schedule, the improvement over the last fifth is "
            f"{row['improvement, reference epochs (%)']:.1f} %. The curves are noisy at this "
            "learning rate: from one epoch "
            f"to the next the validation loss changes by {100 * row['epoch-to-epoch (%)']:.0f} % "
            "(median), so \"plateau\" here means no further progress beyond that noise.")


def differences(profile: Profile = PROFILE) -> pd.DataFrame:
    """What differs from the preprint's training at this scale."""
    paper = PROFILES["paper"]
    rows = [("NN2 width", "1 (50.3 M parameters)", f"{profile.width:g}"),
            ("NN2 output head", "Table 1 (ConvT → ReLU → BatchNorm)", profile.head),
            ("epochs", f"{paper.epochs}", f"{profile.epochs}"),
            ("learning rate (Adam)", f"{paper.lr:g}", f"{profile.lr:g}"),
            ("validation", "none (80/20 train/test)",
             f"{profile.val_fraction:.0%} of the training part"),
            ("model kept", "lowest loss regardless of epoch (authors' code: on the test set)",
             "the epoch of lowest validation loss"),
            ("data", "production sources, code placement (authors' code)",
             f"{profile.mode} sources, {profile.placement} placement")]
    return pd.DataFrame(rows, columns=["", "preprint", "reference"]).set_index("")

