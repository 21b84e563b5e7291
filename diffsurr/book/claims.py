"""The preprint's claims, each judged once, so every page that states one shows the same verdict.

A claim is read as comparisons between two Table 2 models on one statistic (the preprint
compared single training runs). With several training seeds per model, a comparison counts
only when the difference of the seed means exceeds the seed spread (:data:`SPREAD_K`); the
claim's verdict (:data:`OUTCOMES`) follows from its comparisons' outcomes. Pages show verdicts
only through :func:`badge`, which tags them in the HTML so a test can check that every page
agrees (``tests/test_book_claims.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from ..registry import MODELS, spec, table2_frame
from ..report import fmt, low_value_mass, pdf_overlap

SPREAD_K = 2.0
"""A difference Δ = m_a − m_b of two models' seed means exceeds the seed spread when
|Δ| > SPREAD_K · sqrt(s_a² + s_b²) (sample standard deviations over seeds, ddof = 1): larger
than two single runs, one of each model, would typically differ by seed noise alone."""
ESTIMATED_SPREAD = "median coefficient of variation of the models with several seeds"
"""A model trained with one seed has no spread of its own; its standard deviation is estimated
as its value times the median, over the models with several seeds, of their std / |mean| on
the same statistic (and the comparison is marked as using an estimated spread)."""
LOW, HIGH = 0.01, 0.1
"""Fig. 11's "low non-zero values": field values in [LOW, HIGH)."""

OUTCOMES = {
    "holds": "holds",
    "fails": "fails",
    "not resolved": "is not resolved",
    "not tested": "is not tested",
}
"""A claim's verdict: *holds* (every comparison in the claimed direction beyond the seed
spread), *fails* (one goes the other way beyond it, or a needed comparison is not met),
*not resolved* (within the spread, or one seed only), *not tested* (models missing)."""

COMPARISON = {
    "supported": "in the claimed direction and larger than the seed spread",
    "within spread": "within the seed spread",
    "contradicted": "against the claimed direction and larger than the seed spread",
    "one seed": "not judged: no model has several seeds, so the difference cannot be "
                "compared with seed noise",
}
"""A comparison's outcome, in words."""

RES = "⟨res⟩ (10⁻³)"
NN1_ONLY = tuple(m for m in MODELS if spec(m).p2 == 0)
NN2_ONLY = tuple(m for m in MODELS if spec(m).p1 == 0)
BOTH = tuple(m for m in MODELS if spec(m).p1 != 0 and spec(m).p2 != 0)


@dataclass(frozen=True)
class Claim:
    """One sentence of the preprint, where it says it, and how this study tests it."""

    key: str
    title: str
    quote: str
    reading: str


CLAIMS = {c.key: c for c in (
    Claim("nn1-fails", "NN1 alone fails",
          "models 6 and 7, NN1 only, have mean residuals \"an order of magnitude larger\" than "
          "the models that use NN2 (Sec. 3, Table 2)",
          "model 6 has a higher mean test residual than each model with NN2"),
    Claim("nn2-works", "NN2 alone works",
          "\"The autoencoder (NN 2) is capable of approximating the diffusion field on its "
          "own\" (Sec. 5)",
          "each NN2-only model beats NN1 alone (model 6), and none is worse than a model with "
          "both networks, on the mean test residual"),
    Claim("sum-beats-nn2", "NN1 + NN2 beats NN2 alone",
          "\"if we use the two networks together we find that the prediction is more accurate "
          "than NN 2 alone\" (Sec. 5)",
          "model 11 (NN1 + NN2) has a lower mean test residual than model 12 (NN2 only; same "
          "dropout, loss and w)"),
    Claim("mae-beats-mse", "MAE beats MSE",
          "MSE models \"do not predict low non-zero field values correctly\"; MAE is "
          "recommended (Secs. 3, 5, Fig. 11)",
          "model 12 (MAE) beats model 5 (MSE; otherwise identical) on the mean test residual, "
          "the mismatch of the field PDFs and the error of the mass of low values"),
    Claim("w100-overfits-less", "w = 100 reduces overfitting",
          "the exponential weight w = 100 \"helps reduce overfitting\" (Fig. 8, Sec. 5)",
          "model 9 (w = 100) has a smaller test − training gap than model 11 (w = 1, otherwise "
          "identical) in the mean and the 99th-percentile residual"),
)}


@dataclass
class Comparison:
    """Models a and b compared on one statistic; the claim is that ``lower`` has the lower
    value (``need`` "lower": beyond the seed spread; "not higher": not higher beyond it)."""

    stat: str
    unit: float
    model_a: int
    model_b: int
    lower: int
    mean_a: float
    std_a: float
    n_a: int
    mean_b: float
    std_b: float
    n_b: int
    need: str = "lower"
    estimated: bool = False

    @property
    def delta(self) -> float:
        return self.mean_a - self.mean_b

    @property
    def spread(self) -> float:
        return float(np.hypot(self.std_a, self.std_b))

    @property
    def outcome(self) -> str:
        """A key of :data:`COMPARISON`."""
        if not np.isfinite(self.spread):
            return "one seed"
        if abs(self.delta) <= SPREAD_K * self.spread:
            return "supported" if self.need == "not higher" else "within spread"
        return "supported" if self.agrees else "contradicted"

    @property
    def agrees(self) -> bool:
        """Whether the difference points the claimed way (whatever its size)."""
        return self.delta != 0 and (self.delta < 0) == (self.lower == self.model_a)

    def words(self) -> str:
        note = " (a single-seed model's spread estimated)" if self.estimated else ""
        if self.need == "not higher" and self.outcome == "supported":
            return "not higher beyond the seed spread, as claimed" + note
        if self.outcome in ("supported", "contradicted"):
            return COMPARISON[self.outcome] + note
        side = "in the claimed direction" if self.agrees else "against the claimed direction"
        return f"{side}, but {COMPARISON[self.outcome]}{note}"


@dataclass
class Verdict:
    claim: Claim
    outcome: str
    reason: str
    comparisons: list[Comparison] = field(default_factory=list)


def seed_stats(da: xr.DataArray, dim: str = "seed") -> xr.Dataset:
    """Mean, sample standard deviation (ddof = 1; NaN with fewer than two values) and number
    of values of ``da`` over ``dim`` (NaN values, seeds a model lacks, are skipped)."""
    n = da.notnull().sum(dim)
    mean = da.mean(dim, skipna=True)
    var = ((da - mean) ** 2).sum(dim, skipna=True) / (n - 1).where(n > 1)
    return xr.Dataset({"mean": mean, "std": np.sqrt(var), "n": n})


def compare(values: xr.DataArray, stat: str, unit: float, a: int, b: int, lower: int,
            need: str = "lower") -> Comparison:
    """Models ``a`` and ``b`` of ``values`` (dims model, seed) compared on their seed
    statistics; a single-seed model's std is estimated (:data:`ESTIMATED_SPREAD`)."""
    st = seed_stats(values)
    seeded = st["n"] >= 2
    cv = float((st["std"] / np.abs(st["mean"])).where(seeded).median()) if seeded.any() else np.nan
    out, estimated = [], False
    for m in (a, b):
        mean, std, n = float(st["mean"].sel(model=m)), float(st["std"].sel(model=m)), int(st["n"].sel(model=m))
        if n == 1 and np.isfinite(cv):
            std, estimated = cv * abs(mean), True
        out += [mean, std, n]
    return Comparison(stat, unit, a, b, lower, *out, need=need, estimated=estimated)


def statistics(seeds: xr.Dataset) -> dict[str, tuple[xr.DataArray, float]]:
    """The statistics the claims compare, over (model, seed), with the unit each is shown in."""
    test, train = seeds.sel(set="test"), seeds.sel(set="train")
    have = test["pdf_pred"].notnull().any("value")
    mass = low_value_mass(test, LOW, HIGH)
    return {
        RES: (test["mean_res"], 1e-3),
        "1 − PDF overlap": ((1 - pdf_overlap(test)).where(have), 1.0),
        "low-mass error": (np.abs(mass["pred_low"] - mass["true_low"]).where(have), 1.0),
        "⟨res⟩ gap (10⁻³)": (test["mean_res"] - train["mean_res"], 1e-3),
        "99-P gap (10⁻²)": (test["p99_res"] - train["p99_res"], 1e-2),
    }


def _pairs(seeds: xr.Dataset) -> dict[str, list[tuple]]:
    """(statistic, a, b, claimed lower[, need]) of each claim, for the models present."""
    have = {int(m) for m in seeds["model"].values}
    n = seeds["n_seeds"].to_series()
    seeded = {m for m in have if n[m] >= 2}

    def pick(models):        # the models with several seeds, else all present
        present = [m for m in models if m in have]
        return [m for m in present if m in seeded] or present

    res = RES
    nn1 = [6] if 6 in have else []
    return {
        "nn1-fails": [(res, a, b, b) for a in nn1 for b in pick(NN2_ONLY + BOTH)],
        "nn2-works": [(res, a, b, a, "lower" if b in nn1 else "not higher")
                      for a in pick(NN2_ONLY) for b in nn1 + pick(BOTH)],
        "sum-beats-nn2": [(res, 11, 12, 11)] if {11, 12} <= have else [],
        "mae-beats-mse": [(s, 12, 5, 12) for s in (res, "1 − PDF overlap", "low-mass error")
                          if {5, 12} <= have],
        "w100-overfits-less": [(s, 9, 11, 9) for s in ("⟨res⟩ gap (10⁻³)", "99-P gap (10⁻²)")
                               if {9, 11} <= have],
    }


def judge(comparisons: list[Comparison]) -> tuple[str, str]:
    """A claim's outcome (:data:`OUTCOMES`) and its reason, from its comparisons."""
    kinds = [c.outcome for c in comparisons]
    if not kinds:
        return "not tested", "the models it needs are not in these results"
    if "contradicted" in kinds:
        return "fails", "at least one comparison goes the other way beyond the seed spread"
    if all(k == "supported" for k in kinds):
        return "holds", "every comparison is in the claimed direction beyond the seed spread"
    if "one seed" in kinds:
        return "not resolved", "no model compared has several seeds, so no spread is known"
    return "not resolved", "at least one comparison is within the seed spread"


def verdicts(seeds: xr.Dataset) -> dict[str, Verdict]:
    """Every claim of :data:`CLAIMS` judged on the per-seed results (:func:`diffsurr.report.
    load_seed_evals`)."""
    stats = statistics(seeds)
    out = {}
    for key, pairs in _pairs(seeds).items():
        cs = [compare(stats[p[0]][0], p[0], stats[p[0]][1], *p[1:]) for p in pairs]
        out[key] = Verdict(CLAIMS[key], *judge(cs), cs)
    return out


def badge(v: Verdict) -> str:
    """The verdict as pages show it: bold, tagged with its claim for the one-verdict test."""
    return (f'<span class="claim" data-claim="{v.claim.key}" data-outcome="{v.outcome}">'
            f"<strong>{OUTCOMES[v.outcome]}</strong></span>")


def bullet(c: Comparison) -> str:
    """One comparison in words; for the mean residual also the preprint's single-run values."""
    u = c.unit
    spread = fmt(SPREAD_K * c.spread / u) if np.isfinite(c.spread) else "n/a"
    paper = table2_frame()["paper_mean_res"]
    preprint = (f"; preprint: {fmt(float(paper.sel(model=c.model_a)) / u)} vs "
                f"{fmt(float(paper.sel(model=c.model_b)) / u)}" if c.stat == RES else "")
    return (f"- {c.stat}: model {c.model_a} {fmt(c.mean_a / u)} vs model {c.model_b} "
            f"{fmt(c.mean_b / u)} (Δ = {fmt(c.delta / u)}, {SPREAD_K:g}·spread = {spread}"
            f"{preprint}): {c.words()}.")


def section(v: Verdict) -> str:
    """A claim's paragraph: the preprint's words, this study's reading, each comparison, verdict."""
    return (f"**{v.claim.title}.** The preprint: {v.claim.quote}. Read here as: "
            f"{v.claim.reading}.\n\n" + "\n".join(bullet(c) for c in v.comparisons)
            + f"\n\nThe claim {badge(v)}: {v.reason}.")


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
    scale = ("These runs are at the preprint's scale." if profile_name == "paper" else
             "These are scaled runs (see the banner): a claim not resolved here may still hold "
             "at the preprint's scale, and one that holds here was tested at this scale only.")
    return f"At profile `{profile_name}`, " + "; ".join(groups) + ". " + scale


def comparison_table(vs: dict[str, Verdict]) -> pd.DataFrame:
    """One row per comparison (index: claim, statistic), for the seeds page's table."""
    return pd.DataFrame([{"claim": v.claim.title, "statistic": c.stat,
             "model a": f"{c.model_a}: {pm(c.mean_a / c.unit, c.std_a / c.unit, c.n_a)}",
             "model b": f"{c.model_b}: {pm(c.mean_b / c.unit, c.std_b / c.unit, c.n_b)}",
             "claimed lower": c.lower, "Δ = a − b": fmt(c.delta / c.unit),
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
