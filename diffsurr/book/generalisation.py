"""The generalisation chapter (``book/generalisation.md``): its data, numbers and sentences.

:func:`load` gathers the Table 2 runs' ``results/<profile>/<run>/generalise.nc``
(:mod:`diffsurr.stages.generalise`, one file per run) along ``model`` and says which runs are
missing
and why, so that a partial study renders with the runs it has and names the others. A run's
file counts only if the run's eval.nc describes the same model.pt (``model_sha256``): a
retrained run's old generalise.nc is stale, and left out. :func:`findings` returns the
chapter's numbers and sentences, each chosen from the values (the verdict per layout by
:data:`THRESHOLD`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from .. import data
from ..stages.generalise import LAYOUTS
from ..study import GENERALISE_FILE, generalise_path
from ..profiles import Profile
from ..registry import MODELS, spec
from .report import fmt
from ..results import display_path, load_generalise, stored_model_sha
from ..runid import RunId, results_dir

STATS = ("mean_res", "p99_res", "max_res", "mean_nrmse", "rms_pde_all")
"""The statistics of generalise.nc that the chapter compares across layouts."""
REFERENCE = "training"
"""The layout every ratio is relative to: a fresh test set of the training distribution."""
TITLES = {"mean_res": "mean residual ⟨res⟩", "p99_res": "99th-percentile residual",
          "max_res": "maximum residual", "mean_nrmse": "mean nRMSE ‖ŷ − y‖₂/‖y‖₂",
          "rms_pde_all": "PDE residual (RMS, off sources)"}
"""Panel titles of the ratio figure, one panel per statistic."""
THRESHOLD = 1.25
"""A layout **degrades** the surrogates when the median, over the models read, of their nRMSE
ratio (layout / training layout) exceeds this factor (25 % worse than on the training
distribution); it **improves** them when the median is below ``1 / THRESHOLD``; in between it
is **about the same**. The verdict rests on nRMSE (relative to the field's size) because the
absolute residuals also grow or shrink with how much field a layout has."""
POOR_NRMSE = 0.3
"""Median nRMSE on the training layout above which the surrogates are called poor already on
the distribution they were trained on (then ratios near 1 say little about generalisation)."""
N_EXAMPLES = 2
"""Configurations per layout in the examples figure."""


# ---------------------------------------------------------------- loading
def checked(run: RunId, first: xr.Dataset | None) -> tuple[xr.Dataset | None, str | None]:
    """The run's generalise.nc, or None and why it cannot be shown (no file, no eval.nc, a
    stale file, or other test sets than ``first``'s)."""
    path = generalise_path(run)
    if not path.exists():
        return None, f"no {GENERALISE_FILE} (run its generalise stage)"
    eval_sha = stored_model_sha(run.dir / "eval.nc")
    if eval_sha is None:
        return None, "no eval.nc to check its model against (evaluate the run)"
    ds = load_generalise(run)
    sha = str(ds.attrs.get("model_sha256"))
    if sha != eval_sha:
        return None, (f"stale: {GENERALISE_FILE} was made with model.pt {sha[:12]}, "
                      "eval.nc describes "
                      f"{eval_sha[:12]} (the run was retrained; run its generalise stage again)")
    if first is not None and ds.attrs.get("layouts_sha256") != first.attrs.get("layouts_sha256"):
        return None, (f"other test sets than model {int(first['model'].values[0])}'s "
                      f"(layouts_sha256 {str(ds.attrs.get('layouts_sha256'))[:12]}, not "
                      f"{str(first.attrs.get('layouts_sha256'))[:12]}; run its generalise "
                      "stage again with force=True)")
    return ds, None


def load(profile: Profile, models: Sequence[int] = MODELS) -> tuple[xr.Dataset, dict[str, str]]:
    """The generalise.nc of each Table 2 run of ``models`` concatenated along ``model``, and
    ``{run label: why it is missing}`` for the runs left out (no file, no eval.nc, a stale file
    or other test sets). Per-run attributes become variables over ``model``
    (``wall_time_s``, ``model_sha256``); the attrs keep ``n_per_layout``, ``layouts``,
    ``layouts_sha256`` and ``paths`` (the files read). FileNotFoundError, listing why, if no
    run has a usable file."""
    parts, missing = [], {}
    for run in (RunId.of(profile, int(m)) for m in models):
        ds, why = checked(run, parts[0] if parts else None)
        if why is None:
            parts.append(ds)
        else:
            missing[run.label] = why
    if not parts:
        raise FileNotFoundError(
            f"no Table 2 run of profile {profile.name!r} has generalisation results: "
            + "; ".join(f"{name}: {why}" for name, why in missing.items()))
    gen = xr.concat(parts, dim="model", data_vars="minimal", coords="minimal",
                    compat="override", combine_attrs="drop")
    gen["wall_time_s"] = ("model", [float(p.attrs.get("wall_time_s", np.nan)) for p in parts])
    gen["model_sha256"] = ("model", [str(p.attrs.get("model_sha256")) for p in parts])
    first = parts[0].attrs
    gen.attrs = {k: first[k] for k in ("n_per_layout", "layouts", "layouts_sha256")
                 if k in first}
    gen.attrs["paths"] = [display_path(generalise_path(RunId.of(profile, int(m))))
                          for m in gen["model"].values]
    return gen, missing


def source(profile: Profile) -> str:
    """``results/<profile>/model_NN/generalise.nc``, as captions name the files read."""
    return f"{display_path(results_dir(profile))}/model_NN/{GENERALISE_FILE}"


def models_of(gen: xr.Dataset) -> list[int]:
    return [int(m) for m in gen["model"].values]


# ---------------------------------------------------------------- numbers
def layout_ratios(gen: xr.Dataset, stats: Sequence[str] = STATS,
                  reference: str = REFERENCE) -> xr.Dataset:
    """Each statistic on each layout divided by its value on the ``reference`` layout, per
    model (1: as on the training distribution; > 1: worse)."""
    return gen[list(stats)] / gen[list(stats)].sel(layout=reference)


def verdict(ratio: float, threshold: float = THRESHOLD) -> str:
    """"degrades", "about the same" or "improves" for a median nRMSE ratio (see
    :data:`THRESHOLD`)."""
    if ratio > threshold:
        return "degrades"
    if ratio < 1 / threshold:
        return "improves"
    return "about the same"


def pool(gen: xr.Dataset) -> list[int]:
    """The models the verdicts are read over: those with NN2 (the NN1-only models 6 and 7 fail
    on the training layout already), or every model present if none has NN2."""
    with_nn2 = [m for m in models_of(gen) if spec(m).p2 != 0]
    return with_nn2 or models_of(gen)


def others(gen: xr.Dataset) -> list[str]:
    """The layouts other than the reference, in the file's order."""
    return [str(v) for v in gen["layout"].values if str(v) != REFERENCE]


def medians(gen: xr.Dataset) -> xr.Dataset:
    """Median over :func:`pool` of each ratio (model dim gone)."""
    return layout_ratios(gen).sel(model=pool(gen)).median("model")


def verdicts(gen: xr.Dataset, threshold: float = THRESHOLD) -> dict[str, str]:
    """Layout -> verdict of the median nRMSE ratio."""
    med = medians(gen)["mean_nrmse"]
    return {name: verdict(float(med.sel(layout=name)), threshold) for name in others(gen)}


def best_model(gen: xr.Dataset, evals: xr.Dataset) -> int:
    """The model of :func:`pool` with the lowest mean residual on the study's test set."""
    test = evals["mean_res"].sel(set="test", model=pool(gen)).to_series()
    return int(test.idxmin())


def noise_factor(gen: xr.Dataset, evals: xr.Dataset) -> float:
    """Sampling noise, as a factor: the largest ratio (either way) over :func:`pool` between
    the mean residual on this stage's training-layout set and on the study's own test set."""
    m = pool(gen)
    same = gen["mean_res"].sel(layout=REFERENCE, model=m) / evals["mean_res"].sel(set="test",
                                                                               model=m)
    return float(np.exp(np.abs(np.log(same)).max()))


def _and(items: Sequence) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _models_text(models: Sequence[int]) -> str:
    return ("model " if len(models) == 1 else "models ") + _and(models)


# ---------------------------------------------------------------- sentences
def coverage_md(gen: xr.Dataset, missing: dict[str, str], models: Sequence[int] = MODELS) -> str:
    """Which of the Table 2 runs this page shows, and the missing ones with the reason."""
    have = models_of(gen)
    if not missing:
        return (f"All {len(have)} Table 2 runs have generalisation results for the model their "
                "evaluation describes; every number below is over them.")
    lines = [f"**A partial study.** Only {len(have)} of the {len(models)} Table 2 runs have "
             f"generalisation results ({_models_text(have)}); every number and figure below "
             f"is over {('this model' if len(have) == 1 else 'these models')} only. Missing:", ""]
    lines += [f"- {name}: {why}" for name, why in missing.items()]
    return "\n".join(lines)


def describe_layout(name: str, spec_: dict, placement: str) -> str:
    """"2 sources of radius 5, placed as in the training data (`code`)" and the like."""
    d = {"n_sources": data.PROBLEM["n_sources"], "radius": data.PROBLEM["radius"],
         "placement": placement, **spec_}
    where = ("touching a wall" if d["placement"] == "wall" else
             f"placed as in the training data (`{d['placement']}`)")
    plural = "s" if d["n_sources"] != 1 else ""
    ref = " — the training distribution, the reference" if name == REFERENCE else ""
    return f"- **{name}**: {d['n_sources']} source{plural} of radius {d['radius']}, {where}{ref}"


def layouts_md(gen: xr.Dataset, profile: Profile) -> str:
    """The list of layouts with their sizes, from the files' stored layout specification."""
    stored = gen.attrs.get("layouts")
    specs = json.loads(stored) if isinstance(stored, str) else (stored or LAYOUTS)
    n = int(gen.attrs.get("n_per_layout", 0))
    head = (f"Layouts ({n:,} configurations each, drawn with seeds the training data never "
            f"used, the same for every model; {len(models_of(gen))} models):")
    body = [describe_layout(str(name), specs.get(str(name), {}), profile.placement)
            for name in gen["layout"].values]
    return "\n".join([head, ""] + body)


def examples_text(gen: xr.Dataset, evals: xr.Dataset) -> str:
    """Why the examples figure shows the model it shows."""
    best = best_model(gen, evals)
    value = fmt(float(evals["mean_res"].sel(set="test", model=best)))
    k = min(N_EXAMPLES, gen.sizes["example"])
    which = ("the model with NN2 that has" if spec(best).p2 != 0 else
             "of the models shown (none has NN2), the one with")
    return (f"Model {best} is {which} the lowest mean residual on this profile's test set "
            f"({value}). One row per layout, the first {k} configurations of each; fields on "
            "[0, 1], the residual |ŷ − y| on one scale for all rows.")


def pool_text(gen: xr.Dataset) -> str:
    """Which models the verdicts are read over, and why."""
    m, have = pool(gen), models_of(gen)
    left = [x for x in have if x not in m]
    if left:
        return (f"Read over the {len(m)} models with NN2 ({_models_text(m)}; NN1-only "
                f"{_models_text(left)} left out: they fail on the training layout already).")
    if all(spec(x).p2 == 0 for x in m):
        return (f"Read over {_models_text(m)}, the only results here, although NN1-only "
                "models fail on the training layout already.")
    every = "both" if len(m) == 2 else f"all {len(m)}"
    return f"Read over {every} models shown ({_models_text(m)}, all with NN2)."


def criterion_md(gen: xr.Dataset, evals: xr.Dataset) -> str:
    """The criterion of the verdicts and the yardstick of sampling noise."""
    n_test = int(evals["n_test"].sel(model=pool(gen)).max())
    return (f"{pool_text(gen)} A layout **degrades** the surrogates here when the median over "
            f"these models of the nRMSE ratio exceeds {THRESHOLD:g} "
            f"({100 * (THRESHOLD - 1):.0f} % worse than on the training distribution), and "
            f"**improves** when it is below {1 / THRESHOLD:g}. nRMSE is the relative error; the "
            "absolute residuals also grow or shrink with how much field a layout has (more or "
            "larger sources, more field), so the verdict rests on nRMSE and the residuals are "
            "given alongside. As a yardstick for sampling noise: on the training layout, two "
            f"independent test sets (this chapter's and the study's own, {n_test:,} "
            "configurations) give mean residuals that differ by up to a factor "
            f"{fmt(noise_factor(gen, evals))} per model.")


def per_layout_md(gen: xr.Dataset) -> str:
    """One bullet per layout: the median ratios over :func:`pool` and the verdict."""
    r = layout_ratios(gen).sel(model=pool(gen))
    med, lo, hi = r.median("model"), r.min("model"), r.max("model")
    v = verdicts(gen)

    def at(ds, var, name):
        return fmt(float(ds[var].sel(layout=name)))

    return "\n".join(
        f"- **{name}**: nRMSE × {at(med, 'mean_nrmse', name)} (median; range "
        f"{at(lo, 'mean_nrmse', name)}–{at(hi, 'mean_nrmse', name)}), mean residual × "
        f"{at(med, 'mean_res', name)}, 99th percentile × {at(med, 'p99_res', name)}, maximum × "
        f"{at(med, 'max_res', name)}, PDE residual × {at(med, 'rms_pde_all', name)}: "
        f"**{v[name]}**." for name in others(gen))


def grouped(v: dict[str, str]) -> str:
    """The layouts grouped by verdict (degrades, about the same, improves), in sentences."""
    groups = {key: [n for n in v if v[n] == key] for key in ("degrades", "about the same",
                                                               "improves")}
    parts = [f"Layouts that degrade the surrogates: {', '.join(groups['degrades'])}."
             if groups["degrades"] else
             "No layout degrades the surrogates by the criterion above."]
    if groups["about the same"]:
        parts.append(f"About the same as on the training distribution: "
                     f"{', '.join(groups['about the same'])}.")
    if groups["improves"]:
        parts.append(f"Better: {', '.join(groups['improves'])}.")
    return " ".join(parts)


def _worst(gen: xr.Dataset) -> str:
    r = layout_ratios(gen)["mean_nrmse"].sel(model=pool(gen), layout=others(gen))
    layout = str(r.max("model").idxmax("layout").values)
    model = int(r.sel(layout=layout).idxmax("model").values)
    value = float(r.sel(layout=layout, model=model))
    if value > 1:
        return (f"The largest single degradation is model {model} on *{layout}*: nRMSE × "
                f"{fmt(value)}.")
    return (f"No model does worse on any layout than on the training one; the largest ratio "
            f"is model {model}'s on *{layout}*: nRMSE × {fmt(value)}.")


def base_nrmse(gen: xr.Dataset) -> float:
    """Median over :func:`pool` of the nRMSE on the training layout."""
    return float(gen["mean_nrmse"].sel(layout=REFERENCE, model=pool(gen)).median())


def _more_sources(gen: xr.Dataset) -> str | None:
    """The preprint's example, n -> n + 1 sources, if those layouts were computed."""
    more = [n for n in ("3 sources", "4 sources") if n in others(gen)]
    if not more:
        return None
    med, v = medians(gen)["mean_nrmse"], verdicts(gen)
    values = ", ".join(f"{fmt(float(med.sel(layout=n)))} for {n}" for n in more)
    if any(v[n] == "degrades" for n in more):
        end = "so the trained surrogates do not carry over to more sources without loss."
    elif base_nrmse(gen) > POOR_NRMSE:
        end = "so by this measure nothing is lost on more sources — but see the next paragraph."
    else:
        end = "so the trained surrogates carry over to more sources at this scale."
    return ("On the preprint's example, n → n + 1 sources (2 → 3, and 4): the median nRMSE "
            f"ratio is {values}, {end}")


def _scale(gen: xr.Dataset) -> str:
    base = base_nrmse(gen)
    text = (f"For scale: on the training layout itself the median nRMSE of these models is "
            f"{fmt(base)}, i.e. the typical error is {fmt(100 * base)} % of the field's L2 norm.")
    if base > POOR_NRMSE:
        text += (f" The surrogates are thus poor (median nRMSE above {POOR_NRMSE:g}) already on "
                 "the distribution they were trained on, and ratios near 1 say little about "
                 "generalisation: a model that has learnt little has little to lose.")
    return text


def answer_md(gen: xr.Dataset, profile: Profile, missing: dict[str, str] | None = None) -> str:
    """The answer to the open question at this profile, paragraph by paragraph."""
    parts = [f"**Answer at profile `{profile.name}`.** {grouped(verdicts(gen))} {_worst(gen)}",
             _more_sources(gen), _scale(gen)]
    if profile.name != "paper":
        parts.append("These models are the scaled ones (see the banner); surrogates trained "
                     "longer on more data fit the training distribution more closely, and may "
                     "lose more — or less — away from it. The numbers above hold for this "
                     "profile only.")
    if missing:
        parts.append(f"{len(missing)} Table 2 run{'s are' if len(missing) != 1 else ' is'} "
                     "missing (listed at the top of this page): the answer may change once "
                     f"{'they are' if len(missing) != 1 else 'it is'} in.")
    return "\n\n".join(p for p in parts if p)


def ratio_table(gen: xr.Dataset, var: str, label: str):
    """A styled table, one row per model: ``var`` on the training layout and its ratio on each
    other layout (colour on a log scale: red worse, blue better, full colour at a factor √10)."""
    ratios = layout_ratios(gen, (var,))[var]
    cols = {(label, REFERENCE): gen[var].sel(layout=REFERENCE).values}
    cols.update({(label, f"× {name}"): ratios.sel(layout=name).values for name in others(gen)})
    table = pd.DataFrame(cols, index=pd.Index(models_of(gen), name="model"))
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    styler = table.style.format("{:.3g}")
    for col in table.columns[1:]:
        styler = styler.background_gradient(cmap="RdBu_r", subset=[col], vmin=-0.5, vmax=0.5,
                                            gmap=np.log10(table[col].clip(lower=1e-12)))
    return styler.set_table_styles([
        {"selector": "", "props": [("font-size", "0.75em")]},
        {"selector": "th", "props": [("text-align", "center"), ("padding", "2px 4px")]},
        {"selector": "td", "props": [("text-align", "right"), ("padding", "2px 4px")]}])


@dataclass(frozen=True)
class Findings:
    """Everything the chapter prints, computed from the results."""
    models: list[int]
    best: int
    k: int
    source: str
    coverage: str
    layouts: str
    examples: str
    criterion: str
    per_layout: str
    answer: str
    ratios: xr.Dataset


def findings(profile: Profile, gen: xr.Dataset, missing: dict[str, str],
             evals: xr.Dataset, models: Sequence[int] = MODELS) -> Findings:
    """The chapter's numbers and sentences (``evals``: the shown models' eval.nc, from
    :func:`diffsurr.results.load_evals`)."""
    return Findings(
        models=models_of(gen), best=best_model(gen, evals),
        k=min(N_EXAMPLES, gen.sizes["example"]), source=source(profile),
        coverage=coverage_md(gen, missing, models), layouts=layouts_md(gen, profile),
        examples=examples_text(gen, evals), criterion=criterion_md(gen, evals),
        per_layout=per_layout_md(gen), answer=answer_md(gen, profile, missing),
        ratios=layout_ratios(gen))
