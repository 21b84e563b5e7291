"""The baselines chapter (``book/baselines.md``): is the preprint's architecture
competitive with the field's standard networks at equal budget?

:func:`load` gathers, for each network of :func:`diffsurr.study.compared_runs`
(models 9 and 12 and the profile's baselines), every seed the study trains: the run's
``eval.nc`` (test set) and ``history.nc``; the profile seed's ``generalise.nc``; and the one-run
cost file ``baselines.nc``. Runs not in yet are listed, so a study under way renders what it
has. :func:`verdict` chooses the chapter's one sentence from the numbers, with the seeds
page's criterion (:data:`diffsurr.book.comparison.SPREAD_K`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from ..baselines import ARCH_NAMES, FNO_CHANNELS, FNO_MODES, UNET_CHANNELS, baseline_profile
from ..nets import Surrogate, count_parameters
from ..profiles import Profile
from .report import fmt
from ..results import display_path, load_attrs, load_baselines_cost, load_optional
from ..runid import RunId
from ..study import baselines_path, compared_runs, generalise_path, study_runs
from .comparison import SPREAD_K
from .generalisation import checked

METRICS = {"mean_res": "⟨res⟩ (10⁻³)", "p99_res": "99-P res (10⁻²)", "max_res": "max res",
           "mean_nrmse": "nRMSE", "rmse_boundary_all": "ring RMSE", "frmse_low": "fRMSE low",
           "frmse_mid": "fRMSE mid", "frmse_high": "fRMSE high"}
"""Test-set statistics of each run (eval.nc) and their column labels."""
UNITS = {"mean_res": 1e-3, "p99_res": 1e-2}
"""Units of the Table 2 statistics, as Table 2 shows them."""
VERDICTS = ("is competitive", "is not competitive", "not resolved")


def network(run: RunId) -> str:
    """The label of a compared network: "model 9 (NN1 + NN2)", "U-Net", "FNO"."""
    arch = run.config().arch
    if arch in ARCH_NAMES:
        return ARCH_NAMES[arch]
    return f"model {run.model} ({'NN1 + NN2' if run.model == 9 else 'NN2'})"


def _parameters(run: RunId, attrs: dict) -> int:
    if "parameters" in attrs:                            # baselines record their size
        return int(attrs["parameters"])
    p = run.config()
    return count_parameters(Surrogate.from_table2(run.model, width=p.width, head=p.head,
                                                  nn1_head=p.nn1_head))


def _row(run: RunId) -> dict:
    ev = load_optional(run.dir / "eval.nc")
    test, attrs, h = ev.sel(set="test"), ev.attrs, load_attrs(run.dir / "history.nc")
    row = {"network": network(run), "baseline": run.config().arch != "table1",
           "run": run.name, "seed": run.seed,
           "parameters": _parameters(run, attrs), "epochs": run.config().epochs,
           "train_min": float(h.get("wall_time_s", np.nan)) / 60,
           "peak_gib": float(h.get("peak_rss_bytes", np.nan)) / 2**30}
    for key in METRICS:
        if key.startswith("frmse_"):
            row[key] = float(test["frmse"].values[("low", "mid", "high").index(key[6:])])
        else:
            row[key] = float(test[key])
    return row


@dataclass
class Comparison:
    """Everything the chapter shows: one row per evaluated run (``runs``), the cost file
    (None until it is made), mean nRMSE per source layout per network (``layouts``), the
    study's runs still missing, and the files read (eval.nc and the cost file; generalise.nc)."""

    profile: Profile
    runs: pd.DataFrame
    cost: xr.Dataset | None
    layouts: pd.DataFrame
    missing: list[str]
    paths: list[str]
    gen_paths: list[str]


def load(profile: Profile) -> Comparison:
    """The compared networks' results in ``results/<profile>/`` (whatever is in so far)."""
    study, rows, missing, paths, layouts = set(study_runs(profile)), [], [], [], {}
    first, gen_paths = None, []
    for base in compared_runs(profile):
        seeds = [RunId.of(base.config(), base.model, s) for s in profile.extra_seeds]
        for run in [base] + [r for r in seeds if r in study]:
            if (run.dir / "eval.nc").exists() and (run.dir / "history.nc").exists():
                rows.append(_row(run))
                paths.append(display_path(run.dir / "eval.nc"))
            else:
                missing.append(run.label)
        gen, _ = checked(base, first)
        if gen is not None:
            first = first if first is not None else gen
            layouts[network(base)] = gen["mean_nrmse"].isel(model=0).to_pandas()
            gen_paths.append(display_path(generalise_path(base)))
    cost = load_baselines_cost(profile)
    if cost is not None:
        paths.append(display_path(baselines_path(profile)))
    return Comparison(profile, pd.DataFrame(rows), cost, pd.DataFrame(layouts).T, missing, paths,
                      gen_paths)


def setup_text(comp: Comparison) -> str:
    """What the baselines are and how they were trained (from the code's constants)."""
    p = comp.profile
    fno_epochs = baseline_profile(p, "fno").epochs
    return (f"A **U-Net** (two 2×2 poolings, channels {'/'.join(map(str, UNET_CHANNELS))}, skip "
            f"connections, ReLU output; written here) and a **Fourier neural operator** "
            f"(`neuraloperator`'s FNO, {FNO_MODES} modes per direction, {FNO_CHANNELS} hidden "
            f"channels, 4 Fourier layers) were trained on the same data, split and trainer as "
            f"Table 2's models (batch {p.batch_size}, Adam {fmt(p.lr)}, the preprint's roll-back "
            f"rule, best validation epoch kept), with model 12's loss (MAE, w = 1) and no "
            f"dropout. The U-Net trains {p.epochs} epochs, as models 9 and 12; the FNO "
            f"{fno_epochs}, because on the reference CPU one FNO training step costs about 2.7 of "
            f"model 12's (Table B1's step column gives this run's measurement): the budget per "
            f"training, not the schedule, is what is held equal.")


def _spread(df: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per network: mean, sample std (ddof = 1; NaN for one seed) and number of seeds."""
    g = df.groupby("network", sort=False)[key]
    return pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "n": g.size()})


def _pm(mean: float, std: float, n: float, unit: float = 1.0) -> str:
    """"4.96 ± 0.19" (in ``unit``), or the mean alone for one seed."""
    if n < 2:
        return fmt(mean / unit)
    return f"{fmt(mean / unit)} ± {fmt(std / unit, 2)}"


def cost_table(comp: Comparison) -> pd.DataFrame:
    """Table B1: size, training budget (epochs, wall time) and the cost measured side by side
    (a training step and a forward pass, also relative to model 12's)."""
    df = comp.runs
    if df.empty:
        return pd.DataFrame()
    by = df.groupby("network", sort=False)
    out = pd.DataFrame({"parameters": by["parameters"].first(), "epochs": by["epochs"].first(),
                        "training (min)": by["train_min"].mean().round(1),
                        "peak memory (GiB)": by["peak_gib"].max().round(1)})
    if comp.cost is not None:
        cost = comp.cost.to_dataframe().set_index(pd.Index(
            [network(RunId.parse(comp.profile.name, r)) for r in comp.cost["run"].values]))
        ref = cost.loc["model 12 (NN2)"]
        out["step ÷ model 12"] = (cost["train_step_s"] / ref["train_step_s"]).round(2)
        out["forward (ms)"] = cost["infer_s"] * 1e3
        out["forward ÷ model 12"] = (cost["infer_s"] / ref["infer_s"]).round(2)
    return out.rename_axis("network")


def accuracy_table(comp: Comparison) -> pd.DataFrame:
    """Table B2: test-set accuracy, mean ± std over seeds for Table 2's statistics, seed means
    for the others."""
    df = comp.runs
    if df.empty:
        return pd.DataFrame()
    out = pd.DataFrame(index=pd.Index(df["network"].unique(), name="network"))
    out["seeds"] = df.groupby("network", sort=False).size()
    for key, label in METRICS.items():
        s = _spread(df, key)
        if key in UNITS or key == "max_res":
            out[label] = [_pm(*s.loc[n], unit=UNITS.get(key, 1.0)) for n in out.index]
        else:
            out[label] = s["mean"]
    return out


def _versus(s: pd.DataFrame, std: pd.Series, p: str, b: str) -> tuple[float, float, str]:
    """(Δ = mean_p − mean_b, SPREAD_K·√(s_p² + s_b²), where baseline ``b`` lies: 'lower than' |
    'higher than' | 'within the seed spread of' preprint network ``p``)."""
    delta, spread = s.loc[p, "mean"] - s.loc[b, "mean"], SPREAD_K * float(np.hypot(std[p], std[b]))
    how = ("lower than" if delta > spread else "higher than" if -delta > spread
           else "within the seed spread of")
    return delta, spread, how


def _judge(comp: Comparison) -> dict:
    """The verdict's numbers: ``key`` (one of :data:`VERDICTS`) and, once both kinds of network
    are in, the best preprint network ``p``, the best baseline ``b``, their seed means, the
    spread, and the loss-matched model 12 (``matched``); ``why`` where it is not judged."""
    df = comp.runs
    if df.empty:
        return {"key": VERDICTS[2], "why": "Not resolved yet: none of the compared runs is "
                                           "evaluated."}
    s = _spread(df, "mean_res")
    is_base = df.groupby("network", sort=False)["baseline"].first()
    if not is_base.any() or is_base.all():
        which = "no baseline" if not is_base.any() else "neither model 9 nor model 12"
        return {"key": VERDICTS[2],
                "why": f"Not resolved yet: {which} is evaluated (the study is under way)."}
    cv = (s["std"] / s["mean"]).dropna()
    if cv.empty:
        return {"key": VERDICTS[2], "why": "Not resolved: no network has several seeds, so a "
                                           "difference cannot be told from seed noise."}
    std = s["std"].fillna(s["mean"] * float(cv.median()))
    p, b = s[~is_base]["mean"].idxmin(), s[is_base]["mean"].idxmin()
    delta, spread, how = _versus(s, std, p, b)
    matched = [n for n in s.index if str(n).startswith("model 12") and n != p]
    return {"key": VERDICTS[1] if delta > spread else VERDICTS[0] if -delta > spread
            else VERDICTS[2], "s": s, "std": std, "p": p, "b": b, "delta": delta,
            "spread": spread, "how": how, "matched": matched[0] if matched else None}


def short(comp: Comparison) -> str:
    """The verdict in one line: the two networks' mean test residuals and the outcome."""
    j = _judge(comp)
    if "why" in j:
        return j["why"]
    s = j["s"]
    head = ("whether the preprint's architecture is competitive at equal budget is not "
            "resolved" if j["key"] == VERDICTS[2] else f"the preprint's architecture {j['key']} "
            "at equal budget")
    return (f"{head}: the best baseline, the {j['b']}, reaches {fmt(s.loc[j['b'], 'mean'] / 1e-3)}"
            f"·10⁻³, {j['how']} {j['p']}, {fmt(s.loc[j['p'], 'mean'] / 1e-3)}·10⁻³ (mean test "
            "residual over seeds).")


def verdict(comp: Comparison) -> tuple[str, str]:
    """(one of :data:`VERDICTS`, the sentence): the best baseline against the best of models 9
    and 12 on the mean test residual (seed means), the difference judged against
    ``SPREAD_K`` · √(s_a² + s_b²) as on the seeds page (a one-seed network's std estimated
    from the median relative spread of those with several): *is competitive* when the
    preprint's network is lower beyond the spread, *is not competitive* when the baseline is,
    *not resolved* otherwise. The sentence also compares the baseline with model 12, which
    shares its loss."""
    j = _judge(comp)
    if "why" in j:
        return j["key"], j["why"]
    key, s, std, p, b = j["key"], j["s"], j["std"], j["p"], j["b"]
    size = comp.runs.groupby("network", sort=False)["parameters"].first()
    minutes = comp.runs.groupby("network", sort=False)["train_min"].mean()
    head = ("**Whether the preprint's architecture is competitive at equal budget is not "
            "resolved**" if key == VERDICTS[2] else
            f"**The preprint's architecture {key} at equal budget**")
    same_loss = ""
    if j["matched"]:
        m = j["matched"]
        d12, spread12, how12 = _versus(s, std, m, b)
        same_loss = (f" Against {m}, which shares the baselines' loss, the {b} is {how12} it "
                     f"({fmt(s.loc[m, 'mean'] / 1e-3)}·10⁻³; difference {fmt(abs(d12) / 1e-3)}"
                     f"·10⁻³, spread {fmt(spread12 / 1e-3)}·10⁻³).")
    return key, (
        f"{head} on this study's data: the best "
        f"baseline, the {b}, with {size[b]:,} parameters and {fmt(minutes[b], 2)} min of "
        f"training, reaches a mean test residual of {fmt(s.loc[b, 'mean'] / 1e-3)}·10⁻³, "
        f"{j['how']} the best of the preprint's networks, {p}, with {size[p]:,} parameters and "
        f"{fmt(minutes[p], 2)} min: {fmt(s.loc[p, 'mean'] / 1e-3)}·10⁻³ (difference "
        f"{fmt(abs(j['delta']) / 1e-3)}·10⁻³; seed spread {SPREAD_K:g}·√(s_a² + s_b²) = "
        f"{fmt(j['spread'] / 1e-3)}·10⁻³, as on the seeds page).{same_loss}")


def missing_text(comp: Comparison) -> str:
    """Which compared runs are not in yet, or that all are."""
    if not comp.missing:
        return f"All {len(comp.runs)} compared runs are in `results/{comp.profile.name}/`."
    return (f"*Not in yet (this study is still under way): {'; '.join(comp.missing)} in "
            f"`results/{comp.profile.name}/`; the tables show the runs that are.*")


def layouts_table(comp: Comparison) -> pd.DataFrame:
    """Table B3: mean nRMSE per source layout (rows: networks, profile seed), or a one-cell
    note while no compared run is generalised."""
    if comp.layouts.empty:
        return pd.DataFrame({"": ["Not in yet: no compared run has a generalise.nc."]})
    return comp.layouts


def cost_note(comp: Comparison) -> str:
    """Where the cost columns come from, or why they are not shown yet."""
    if comp.cost is None:
        return (f"The cost columns appear once `{display_path(baselines_path(comp.profile))}` "
                "is made (the baselines stage, after every compared run is trained).")
    a = comp.cost.attrs
    threads = int(a.get("torch_threads", 1))
    return (f"\"step\": one training step (batch {comp.profile.batch_size}) relative to model "
            f"12's; \"forward\": a forward pass per sample at batch {a.get('infer_batch')}; both "
            f"measured side by side in one run on {a.get('device_name')} "
            f"({threads} {'thread' if threads == 1 else 'threads'}, as each training ran). "
            "\"training\": the "
            "training's wall time (mean over seeds), measured while the machine ran other jobs, "
            "so only roughly comparable.")
