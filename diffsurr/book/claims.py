"""The preprint's claims, each judged once, so every page that states one shows the same verdict.

Each :class:`Claim` quotes the preprint's words and says how this study reads them. A claim on
how models compare is judged on every matched pair of Table 2 models (same everything but the
factor in question) and on each statistic its words are about; with several training seeds per
model, a comparison counts only when the difference of the seed means exceeds the seed spread
(:data:`diffsurr.book.comparison.SPREAD_K`). A comparison is *not evidence* when one of its models
has a dead network
(its output is a constant, :data:`diffsurr.book.report.DEAD_STD`) or when the claim is about
overfitting and neither
model overfits (:data:`diffsurr.book.comparison.OVERFIT_RATIO`). The claims on roll-back and on
speed are judged from
what the study's runs and benchmark files record (:class:`Context`). Pages show verdicts only
through :func:`badge`, which tags them in the HTML so a test can check that every page agrees
(``tests/test_book_claims.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pandas as pd
import xarray as xr

from .. import results
from ..profiles import PROFILES, Profile
from ..registry import MODELS, spec, table2_frame
from .comparison import (SPREAD_K, Comparison, compare, dead_networks, overfit_ratio,
                         OVERFIT_RATIO)
from .report import DEAD_STD, fmt
from ..statistics import low_value_mass, pdf_overlap

LOW, HIGH = 0.01, 0.1
"""Fig. 11's "low non-zero values": field values in [LOW, HIGH)."""
ORDER = 10 ** 0.5
""""An order of magnitude larger": a ratio that rounds to ten on a logarithmic scale (≥ √10)."""
SPEED_FLOOR = 500.0
""""About 1000 times faster" holds at a measured speed-up of at least 500 (within a factor
of two of the claim)."""

OUTCOMES = {
    "holds": "holds",
    "fails": "fails",
    "not resolved": "is not resolved",
    "not tested": "is not tested",
}
"""A claim's verdict: *holds* (every comparison that is evidence in the claimed direction
beyond the seed spread), *fails* (one goes the other way beyond it), *not resolved* (within
the spread, or one seed only), *not tested* (no comparison is evidence at this scale, with
the reason)."""


RES, P99, MAX = "⟨res⟩ (10⁻³)", "99-P (10⁻²)", "max res"
GAP_RES, GAP_STD = "⟨res⟩ gap (10⁻³)", "slice-std gap (10⁻³)"
OVERLAP, LOW_MASS = "1 − PDF overlap", "low-mass error"
TABLE2_STATS = {RES: "paper_mean_res", P99: "paper_p99_res", MAX: "paper_max_res"}
NN1_ONLY = tuple(m for m in MODELS if spec(m).p2 == 0)
NN2_ONLY = tuple(m for m in MODELS if spec(m).p1 == 0)
WITH_NN2 = tuple(m for m in MODELS if spec(m).p2 != 0)


@dataclass(frozen=True)
class Claim:
    """One sentence of the preprint, where it says it, and how this study tests it."""

    key: str
    title: str
    quote: str
    reading: str
    choice: str = ""


CLAIMS = {c.key: c for c in (
    Claim("nn1-fails", "NN1 alone fails",
          "\"Models 6 and 7, which only use NN 1 (p₁ = 1 and p₂ = 0), yield mean residuals an "
          "order of magnitude larger than models that use both or only NN 2\" (Sec. 3)",
          "each NN1-only model (6, 7) has a mean test residual at least √10 times that of "
          "each model with NN2",
          "\"an order of magnitude\" is read as a ratio that rounds to ten on a logarithmic "
          "scale (≥ √10 ≈ 3.2); the preprint's own ratios are 22–39"),
    Claim("nn2-works", "NN2 alone works",
          "\"The autoencoder (NN 2) is capable of approximating the diffusion field on its "
          "own, the convolutional network (NN 1) is not\" (Sec. 5)",
          "each NN2-only model (4, 5, 12, 13, 14) has a lower mean test residual than each "
          "NN1-only model (6, 7)",
          "the sentence contrasts NN2 with NN1 alone; whether the sum of both networks does "
          "better is the next claim, not this one"),
    Claim("sum-beats-nn2", "NN1 + NN2 beats NN2 alone",
          "\"However, if we use the two networks together we find that the prediction is more "
          "accurate than NN 2 alone\" (Sec. 5)",
          "in each matched pair (11 vs 12, 3 vs 5, 2 vs 4: same loss, w and NN2 dropout) the "
          "model with both networks has the lower test residual, on Table 2's three "
          "statistics",
          "\"more accurate\" names no statistic, so all three of Table 2 are judged"),
    Claim("mae-beats-mse", "MAE beats MSE",
          "MSE models \"do not predict low non-zero field values correctly. Thus we recommend "
          "using MAE\" (Sec. 3, Fig. 11); MAE \"produces better predictions than MSE\" "
          "(Sec. 5)",
          "in each matched pair (12 vs 5, 11 vs 3, 10 vs 2: same networks, dropout and w) the "
          "MAE model has the lower mean test residual, the smaller mismatch of the field PDFs "
          "and the smaller error of the mass of low values",
          f"low values are the field values in [{LOW:g}, {HIGH:g}); the PDF statistics follow "
          "the Fig. 11 argument, the mean residual the \"better predictions\""),
    Claim("low-dropout-nn2", "Low NN2 dropout is best",
          "\"We also tested different hyperparameters values for the dropout. We found that "
          "low dropout values for NN 2 yield the best results\" (Sec. 3)",
          "in each matched pair (5 vs 4, 14 vs 13: NN2 only, same loss and w, D₃ = D₄ = 0.1 "
          "against 0.3) the low-dropout model has the lower test residual, on Table 2's three "
          "statistics",
          "\"the best results\" names no statistic, so all three of Table 2 are judged; pairs "
          "that also change NN1's dropout are not matched"),
    Claim("w100-overfits-less", "w = 100 reduces overfitting",
          "\"This suggests that the exponential weight helps reduce overfitting\" (Sec. 3, "
          "Fig. 8; again in Sec. 5)",
          "in each matched pair (9 vs 11, 8 vs 10: w = 100 against w = 1) the w = 100 model has "
          "the smaller test − training gap of the mean and of the 99th-percentile residual, "
          "where one of the two overfits",
          f"overfitting is a mean test residual more than {OVERFIT_RATIO:g} times the "
          "training one; without it there is nothing to reduce"),
    Claim("mse-overfits-more", "MSE overfits more than MAE",
          "\"This difference between training and test sets suggests that MSE is more prone "
          "to overfitting the data than MAE\" (Sec. 5; Sec. 3, Fig. 9)",
          "in each matched pair (5 vs 12, 3 vs 11, 2 vs 10) the MSE model has the larger "
          "test − training gap of the mean residual and of the slice-averaged standard "
          "deviation of the residual (Fig. 9's envelope), where one of the two overfits",
          f"overfitting as in the claim above (test/training mean residual > {OVERFIT_RATIO:g})"),
    Claim("rollback-converges", "Roll-back improves convergence",
          "\"To improve convergence during training, we apply a training approach that uses "
          "roll-back to reject stochastic changes to the network that increase the loss "
          "function\" (Abstract; Sec. 2, Eq. 3, Fig. 4)",
          "model 9 trained with the roll-back rule reaches a lower mean test residual than "
          "model 9 trained without it, from the same seed",
          "testable only where the rule can fire: more epochs than its window m and at least "
          "one roll-back in the study"),
    Claim("speed-1000x", "About 1000× faster",
          "\"The trained neural network approximation is about 1000 times faster than the "
          "direct calculation for individual replicas\" (Abstract); \"using a NVIDIA Quadro "
          "RTX 6000, each diffusion solution is about 1000 times faster using the trained NN "
          "solver compared to the Julia code\" (Sec. 4)",
          f"on a GPU, model 9 at the preprint's width predicts a sample at least {SPEED_FLOOR:g} "
          "times faster than time stepping (the preprint's direct calculation) solves one, "
          "measured side by side on a quiet machine",
          "the claim is about a GPU surrogate against the authors' time stepping; the fastest "
          "exact solver is a separate finding of the speed-up chapter"),
)}

_PAIRS = {
    "nn1-fails": lambda: [(b, a) for a in NN1_ONLY for b in WITH_NN2],
    "nn2-works": lambda: [(a, b) for a in NN2_ONLY for b in NN1_ONLY],
    "sum-beats-nn2": lambda: [(11, 12), (3, 5), (2, 4)],
    "mae-beats-mse": lambda: [(12, 5), (11, 3), (10, 2)],
    "low-dropout-nn2": lambda: [(5, 4), (14, 13)],
    "w100-overfits-less": lambda: [(9, 11), (8, 10)],
    "mse-overfits-more": lambda: [(12, 5), (11, 3), (10, 2)],
}
"""Each comparison claim's pairs (claimed lower, other), in Table 2's terms (for "NN1 alone
fails" the claimed lower is the model with NN2, times :data:`ORDER`)."""
_STATS = {
    "nn1-fails": (RES,), "nn2-works": (RES,), "sum-beats-nn2": (RES, P99, MAX),
    "mae-beats-mse": (RES, OVERLAP, LOW_MASS), "low-dropout-nn2": (RES, P99, MAX),
    "w100-overfits-less": (GAP_RES, "99-P gap (10⁻²)"),
    "mse-overfits-more": (GAP_RES, GAP_STD),
}
OVERFITTING = ("w100-overfits-less", "mse-overfits-more")


@dataclass(frozen=True)
class Context:
    """What the study's scale allows, beyond the per-seed evaluations: the caveat every verdict
    carries, the roll-back rule's window and how often it fired, and the speed measurements
    (one dict per benchmark file: ``device``, ``gpu``, ``loaded``, ``vs_stepping``,
    ``vs_exact``)."""

    caveat: str = ""
    improving: str = ""
    epochs: int | None = None
    m: int | None = None
    n_rollbacks: int | None = None
    rollback_pair: tuple[float, float] | None = None
    speed: tuple[dict, ...] = ()


def context(profile: Profile) -> Context:
    """The :class:`Context` of a profile's results: its scale caveat (and how many runs were
    still improving at their last epoch), roll-backs over the study's histories, model 9 with
    and without roll-back where both are evaluated, and every benchmark file's speed."""
    from .speedup import load_benchmarks, speed_evidence

    hist = results.history_summaries(profile)
    caveat = scale_caveat(profile)
    n = int((hist["best_epoch"] == hist["n_epochs"]).sum())
    improving = (f"{n} of {len(hist)} runs had their best epoch at their last, still "
                 "improving" if caveat and len(hist) else "")
    pair = None
    if results.evaluated_models(profile, [9]) and results.evaluated_models(profile, [9],
                                                                         rollback="none"):
        pair = tuple(float(results.load_evals(profile, [9], **over)["mean_res"]
                           .sel(set="test", model=9)) for over in ({}, {"rollback": "none"}))
    return Context(caveat=caveat, improving=improving, epochs=profile.epochs, m=profile.m,
                   n_rollbacks=int(hist["n_rollbacks"].sum()) if len(hist) else None,
                   rollback_pair=pair, speed=speed_evidence(load_benchmarks()[0]))


@dataclass
class Verdict:
    claim: Claim
    outcome: str
    reason: str
    comparisons: list[Comparison] = field(default_factory=list)
    evidence: str = ""
    caveat: str = ""
    improving: str = ""


def statistics(seeds: xr.Dataset) -> dict[str, tuple[xr.DataArray, float]]:
    """The statistics the claims compare, over (model, seed), with the unit each is shown in."""
    test, train = seeds.sel(set="test"), seeds.sel(set="train")
    have = test["pdf_pred"].notnull().any("value")
    mass = low_value_mass(test, LOW, HIGH)
    out = {
        RES: (test["mean_res"], 1e-3),
        P99: (test["p99_res"], 1e-2),
        OVERLAP: ((1 - pdf_overlap(test)).where(have), 1.0),
        LOW_MASS: (np.abs(mass["pred_low"] - mass["true_low"]).where(have), 1.0),
        GAP_RES: (test["mean_res"] - train["mean_res"], 1e-3),
        "99-P gap (10⁻²)": (test["p99_res"] - train["p99_res"], 1e-2),
    }
    if "max_res" in seeds:
        out[MAX] = (test["max_res"], 1.0)
    if "std_xprime" in seeds:
        std = seeds["std_xprime"].mean("slice", skipna=True)
        out[GAP_STD] = (std.sel(set="test") - std.sel(set="train"), 1e-3)
    return out


def _excluded(key: str, a: int, b: int, dead: dict, ratio: xr.DataArray) -> str:
    """Why the comparison of models a and b is not evidence for claim ``key`` ("" if it is)."""
    gone = [f"{net} dead in model {m} (its output is a constant)"
            for m in (a, b) for net in dead.get(m, [])]
    if gone:
        return "; ".join(gone)
    if key in OVERFITTING and max(float(ratio.sel(model=m)) for m in (a, b)) <= OVERFIT_RATIO:
        return (f"neither model overfits (test/training mean residual "
                f"{fmt(float(ratio.sel(model=a)))} and {fmt(float(ratio.sel(model=b)))}, "
                f"threshold {OVERFIT_RATIO:g})")
    return ""


def _comparisons(key: str, seeds: xr.Dataset, stats: dict) -> list[Comparison]:
    """Every comparison of claim ``key`` whose two models are in ``seeds``."""
    have = {int(m) for m in seeds["model"].values}
    dead, ratio = dead_networks(seeds), overfit_ratio(seeds)
    factor = ORDER if key == "nn1-fails" else 1.0
    out = []
    for lower, other in _PAIRS[key]():
        if not {lower, other} <= have:
            continue
        excluded = _excluded(key, lower, other, dead, ratio)
        out += [compare(stats[stat][0], stat, stats[stat][1], lower, other, lower,
                        factor=factor, excluded=excluded)
                for stat in _STATS[key] if stat in stats]
    return out


def judge(comparisons: list[Comparison]) -> tuple[str, str]:
    """A claim's outcome (:data:`OUTCOMES`) and its reason, from its comparisons."""
    if not comparisons:
        return "not tested", "the models it needs are not in these results"
    valid = [c for c in comparisons if c.outcome != "not evidence"]
    if not valid:
        reasons = list(dict.fromkeys(c.excluded for c in comparisons))
        return "not tested", "no comparison is evidence: " + "; ".join(reasons)
    kinds = [c.outcome for c in valid]
    if "contradicted" in kinds:
        return "fails", "at least one comparison goes the other way beyond the seed spread"
    if all(k == "supported" for k in kinds):
        return "holds", ("every comparison that is evidence is in the claimed direction beyond the "
                         "seed spread")
    if "one seed" in kinds:
        return "not resolved", "no model compared has several seeds, so no spread is known"
    return "not resolved", "at least one comparison is within the seed spread"


def _excluded_summary(comparisons: list[Comparison]) -> str:
    """Why comparisons are not evidence, grouped: 'NN1 dead in models 8, 9; no model overfits'."""
    dead: dict[str, list[int]] = {}
    other = []
    for c in comparisons:
        for m, net in re.findall(r"(NN\d) dead in model (\d+)", c.excluded):
            dead.setdefault(m, [])
            if int(net) not in dead[m]:
                dead[m].append(int(net))
        if "overfits" in c.excluded and "neither model overfits" not in other:
            other.append("neither model overfits")
    parts = [f"{net} dead (output constant) in model{'s' if len(ms) > 1 else ''} "
             + ", ".join(map(str, sorted(ms))) for net, ms in dead.items()]
    return "; ".join(parts + other)


def _count(comparisons: list[Comparison]) -> str:
    """'3 of 6 comparisons supported, 1 contradicted, …' (the landing table's evidence)."""
    n = len(comparisons)
    kinds = pd.Series([c.outcome for c in comparisons]).value_counts()
    parts = [f"{kinds[k]} {k}" for k in ("supported", "contradicted", "within spread",
                                         "one seed", "not evidence") if k in kinds]
    pairs = len({(c.model_a, c.model_b) for c in comparisons})
    why = _excluded_summary([c for c in comparisons if c.excluded])
    return (f"{pairs} pair{'s' if pairs != 1 else ''}, {n} comparisons: " + ", ".join(parts)
            + (f" ({why})" if why else ""))


def _rollback(ctx: Context) -> tuple[str, str, str]:
    if ctx.epochs is None or ctx.m is None:
        return "not tested", "these results record no roll-back information", ""
    if ctx.epochs <= ctx.m:
        why = (f"inactive at this scale (needs more than m = {ctx.m} epochs; these runs have "
               f"{ctx.epochs})")
        return "not tested", why, why
    if not ctx.n_rollbacks:
        why = f"the rule never fired in these runs ({ctx.epochs} epochs, m = {ctx.m})"
        return "not tested", why, why
    if ctx.rollback_pair is None:
        return ("not tested", "model 9 without roll-back is not in these results",
                f"{ctx.n_rollbacks} roll-backs; no run without the rule to compare")
    with_rb, without = ctx.rollback_pair
    outcome = "holds" if with_rb < without else "fails"
    ev = (f"model 9: {fmt(with_rb / 1e-3)}·10⁻³ with roll-back, {fmt(without / 1e-3)}·10⁻³ "
          "without (one seed each)")
    return outcome, ev + "; one seed, no spread", ev


def _speed(ctx: Context) -> tuple[str, str, str]:
    quiet_gpu = [s for s in ctx.speed if s["gpu"] and not s["loaded"]]
    if quiet_gpu:
        s = max(quiet_gpu, key=lambda s: s["vs_stepping"])
        ok = s["vs_stepping"] >= SPEED_FLOOR
        ev = (f"on {s['device']} the surrogate is {fmt(s['vs_stepping'])}× faster than time "
              f"stepping (threshold {SPEED_FLOOR:g}×)")
        return ("holds" if ok else "fails"), ev, ev
    cpu = "; ".join(f"on {s['device']}{' (a loaded machine)' if s['loaded'] else ''} the "
                    f"surrogate is {fmt(s['vs_stepping'])}× faster than time stepping and "
                    f"{fmt(1 / s['vs_exact'])}× slower than the fastest exact solver"
                    for s in ctx.speed if not s["gpu"])
    why = ("the preprint's figure is a GPU surrogate (NVIDIA Quadro RTX 6000) against its "
           "Julia time stepping, and no GPU has been measured here")
    return "not tested", why + (f" ({cpu})" if cpu else ""), why + (f"; {cpu}" if cpu else "")


def verdicts(seeds: xr.Dataset, ctx: Context | None = None) -> dict[str, Verdict]:
    """Every claim of :data:`CLAIMS` judged on the per-seed results
    (:func:`diffsurr.results.load_seed_evals`) and the study's :class:`Context`."""
    ctx = ctx or Context()
    stats = statistics(seeds)
    out = {}
    for key, claim in CLAIMS.items():
        if key in _PAIRS:
            cs = _comparisons(key, seeds, stats)
            outcome, reason = judge(cs)
            out[key] = Verdict(claim, outcome, reason, cs, _count(cs) if cs else reason,
                               ctx.caveat, ctx.improving)
        else:
            outcome, reason, evidence = (_rollback if key == "rollback-converges" else _speed)(ctx)
            out[key] = Verdict(claim, outcome, reason, [], evidence, ctx.caveat, ctx.improving)
    return out


def judged(profile: Profile, seeds: xr.Dataset | None = None) -> dict[str, Verdict]:
    """:func:`verdicts` of a profile's results with their :func:`context` (``seeds`` from
    :func:`diffsurr.results.load_seed_evals` unless given), as every page shows them."""
    seeds = seeds if seeds is not None else results.load_seed_evals(profile, partial=True)
    return verdicts(seeds, context(profile))


def scale_caveat(profile: Profile) -> str:
    """How the profile's training differs from the preprint's ("" for ``paper``)."""
    paper = PROFILES["paper"]
    if profile.name == "paper":
        return ""
    parts = [f"{profile.epochs} of the preprint's {paper.epochs} epochs"]
    if profile.lr != paper.lr:
        parts.append(f"lr {fmt(profile.lr / paper.lr)}× the preprint's {fmt(paper.lr, 1)}")
    if profile.width != paper.width:
        parts.append(f"NN2 at {Fraction(profile.width).limit_denominator(64)} width")
    if profile.nn1_lr_scale != 1:
        parts.append(f"NN1's lr × {profile.nn1_lr_scale:g}")
    return "at " + ", ".join(parts)


def criterion_text() -> str:
    """How a comparison and a claim are judged, with this module's thresholds (seeds page)."""
    return (
        "**Criterion.** For two models a and b with seed means m_a, m_b and sample standard "
        "deviations s_a, s_b (ddof = 1) of a statistic, the difference Δ = m_a − m_b *exceeds "
        f"the seed spread* when **|Δ| > k · √(s_a² + s_b²)**, with k = {SPREAD_K:g}.\n\n"
        "This asks whether two single training runs, one of each model (which is what the "
        "preprint compared), would differ by more than seed noise typically makes them "
        "differ; it is stricter than a test on the means (whose standard errors are s/√n). A "
        "comparison is *supported* when Δ has the claimed sign and exceeds the spread, "
        "*contradicted* when it has the opposite sign and exceeds it, and *within the spread* "
        "otherwise. A model trained with one seed has no spread of its own: its standard "
        "deviation is estimated as its value times the median relative spread (std / mean) "
        "of the models with several seeds; such comparisons are kept, shown and marked "
        "\"single-seed model\".\n\n"
        "A comparison is **not evidence** when one of its two models has a dead network (its "
        f"unweighted output varies by less than {fmt(DEAD_STD, 1)} over the test fields: its "
        "final ReLU passes nothing and the network contributes a constant, so the model is "
        "not the one Table 2 describes), or when the claim is about overfitting and neither "
        f"model overfits (mean test residual at most {OVERFIT_RATIO:g} times the training "
        "one). A claim **holds** when every comparison that is evidence is supported, "
        "**fails** when one is contradicted, is **not resolved** otherwise, and is **not "
        "tested** when no comparison is evidence at this scale, with the reason. Each claim "
        "is judged on every matched pair Table 2 offers and on each statistic its words are "
        "about; the preprint's own single runs are shown beside ours.")


def badge(v: Verdict, scale: bool = True) -> str:
    """The verdict as pages show it: bold, tagged with its claim for the one-verdict test, and
    followed by the scale it holds at (unless ``scale`` is False, where the page states the
    scale right beside it)."""
    at = f" <em>({v.caveat})</em>" if scale and v.caveat else ""
    return (f'<span class="claim" data-claim="{v.claim.key}" data-outcome="{v.outcome}">'
            f"<strong>{OUTCOMES[v.outcome]}</strong></span>{at}")


def _preprint(c: Comparison) -> str:
    """'; preprint: a vs b (supports)' for a statistic of Table 2, else ''."""
    column = TABLE2_STATS.get(c.stat)
    if column is None:
        return ""
    paper = table2_frame()[column]
    pa, pb = (float(paper.sel(model=m)) for m in (c.model_a, c.model_b))
    scaled = {c.model_a: pa, c.model_b: pb}
    scaled[c.lower] *= c.factor
    agrees = (scaled[c.model_a] < scaled[c.model_b]) == (c.lower == c.model_a)
    return (f"; preprint: {fmt(pa / c.unit)} vs {fmt(pb / c.unit)}, "
            f"{'supports' if agrees else 'contradicts'} the claim")


def preprint_support(v: Verdict) -> str:
    """Per statistic of Table 2, in how many of the claim's pairs the preprint's own numbers
    point the claimed way ("" when the claim uses none of Table 2's statistics)."""
    parts = []
    for stat in dict.fromkeys(c.stat for c in v.comparisons if c.stat in TABLE2_STATS):
        cs = [c for c in v.comparisons if c.stat == stat]
        n = sum("supports" in _preprint(c) for c in cs)
        parts.append(f"{stat.split(' (')[0]} in {n} of {len(cs)}")
    return ("The preprint's own Table 2 points the claimed way on " + ", ".join(parts) + "."
            if parts else "")


def bullet(c: Comparison) -> str:
    """One comparison in words; for Table 2's statistics also the preprint's single-run values."""
    u = c.unit
    spread = fmt(SPREAD_K * c.spread / u) if np.isfinite(c.spread) else "n/a"
    factor = f"{fmt(c.factor)}·" if c.factor != 1 else ""
    seeds = " [single-seed model]" if c.single_seed else ""
    return (f"- {c.stat}: model {c.model_a} {fmt(c.mean_a / u)} vs model {c.model_b} "
            f"{fmt(c.mean_b / u)} (claimed lower: {factor}model {c.lower}; Δ = "
            f"{fmt(c.delta / u)}, {SPREAD_K:g}·spread = {spread}{_preprint(c)}){seeds}: "
            f"{c.words()}.")


def section(v: Verdict) -> str:
    """A claim's paragraph: the preprint's words, this study's reading and why, each
    comparison, what the preprint's own Table 2 says, the verdict and its scale."""
    choice = f" Chosen reading: {v.claim.choice}." if v.claim.choice else ""
    body = ("\n".join(bullet(c) for c in v.comparisons) if v.comparisons
            else f"- {v.evidence}.")
    support = preprint_support(v)
    return (f"**{v.claim.title}.** The preprint: {v.claim.quote}. Read here as: "
            f"{v.claim.reading}.{choice}\n\n{body}\n\n"
            + (f"{support} " if support else "")
            + f"The claim {badge(v)}: {v.reason}.")


_VERBS = {"holds": ("holds", "hold"), "fails": ("fails", "fail"),
          "not resolved": ("is not resolved", "are not resolved"),
          "not tested": ("is not tested", "are not tested")}


def summary(vs: dict[str, Verdict], profile_name: str) -> str:
    """One sentence grouping the claims by verdict, and what the profile's scale means for it."""
    groups = []
    for outcome, (one, many) in _VERBS.items():
        titles = [f"*{v.claim.title}*" for v in vs.values() if v.outcome == outcome]
        if titles:
            names = titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]
            groups.append(f"{names} {one if len(titles) == 1 else many}")
    caveat = next((v.caveat for v in vs.values() if v.caveat), "")
    scale = ("These runs are at the preprint's scale." if profile_name == "paper" else
             f"These are scaled runs ({caveat or 'see the banner'}): every verdict, *holds* "
             "and *fails* alike, is a verdict at this scale only.")
    return f"At profile `{profile_name}`, " + "; ".join(groups) + ". " + scale


def comparison_table(vs: dict[str, Verdict]) -> pd.DataFrame:
    """One row per comparison (index: claim, statistic), for the seeds page's table; model a
    is the one the claim says is lower (times its factor, for "an order of magnitude")."""
    return pd.DataFrame([{"claim": v.claim.title, "statistic": c.stat,
             "a (claimed lower)": f"{c.model_a}: {pm(c.mean_a / c.unit, c.std_a / c.unit, c.n_a)}"
                                  + (f" ×{fmt(c.factor)}" if c.factor != 1 else ""),
             "b": f"{c.model_b}: {pm(c.mean_b / c.unit, c.std_b / c.unit, c.n_b)}",
             "Δ = a − b": fmt(c.delta / c.unit),
             f"{SPREAD_K:g}·spread": fmt(SPREAD_K * c.spread / c.unit), "outcome": c.outcome}
            for v in vs.values() for c in v.comparisons]).set_index(["claim", "statistic"])


def pm(mean: float, std: float, n: int, digits: int = 3) -> str:
    """"mean ± std" for n ≥ 2, "mean (n = 1)" otherwise."""
    if n >= 2 and np.isfinite(std):
        return f"{fmt(mean, digits)} ± {float(f'{float(std):.2g}'):g}"
    return f"{fmt(mean, digits)} (n = {int(n)})"


_BADGE = re.compile(r'data-claim="([^"]+)" data-outcome="([^"]+)"')


def rendered_outcomes(pages: dict[str, str]) -> dict[str, dict[str, set[str]]]:
    """Claim -> outcome -> pages showing it, from rendered HTML pages (name -> text)."""
    out: dict[str, dict[str, set[str]]] = {}
    for name, html in pages.items():
        for key, outcome in _BADGE.findall(html):
            out.setdefault(key, {}).setdefault(outcome, set()).add(name)
    return out
