"""The Table 2 chapter: this study's residuals of the 14 models next to the preprint's.

Numbers and sentences for ``book/table2.md`` (and the summary of ``book/index.md``), from
:func:`diffsurr.book.report.table2_comparison`. The preprint's claims between models are judged
only by :mod:`diffsurr.book.claims`; this module describes the single runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..profiles import Profile
from ..registry import MODELS, spec
from .report import DEAD_MARK, DEAD_STD, NN1_ONLY, RESIDUALS, WITH_NN2, caption, eval_glob, fmt
from ..statistics import output_std
from .text import missing_note

MEAN_RES, MEAN_UNIT = RESIDUALS[0][3], RESIDUALS[0][2]
"""Table 2's column label of the mean residual ⟨res⟩ (10⁻³), and its unit."""
SEPARATED = 1.0
"""The NN1-only models are separated from the others when their smallest mean residual is
more than this many times the largest mean residual of the models with NN2."""
PAPER_PROFILE = "paper"
"""The profile at the preprint's scale (20,000 configurations, 800 epochs)."""


def table_caption(evals: xr.Dataset, profile: Profile) -> str:
    """Table 2's caption: which models it holds (all 14, or those evaluated so far)."""
    n = int(evals.sizes["model"])
    which = "the 14 models" if n == len(MODELS) else f"the {n} models evaluated so far (of 14)"
    return caption(
        "2", f"Hyperparameters of {which} and their residuals over the test set", profile,
        [eval_glob(profile), "diffsurr/table2.csv"],
        text=f"Networks on, loss weight w, dropout rates D₁–D₄ and loss; residuals over "
             f"{int(evals['n_test'].max()):,} test configurations per model, this study's "
             "(\"ours\") next to the preprint's: ⟨res⟩ in units of 10⁻³, 99-P res in units of "
             "10⁻², max res in units of 1; ratio = ours / preprint." + dead_note(evals),
        preprint="Table 2", kind="Table")


def dead_note(evals: xr.Dataset) -> str:
    """The caption's note on dead networks (†), naming the runs; "" where none is dead."""
    runs = []
    for net in ("nn1", "nn2"):
        dead = [int(m) for m in evals["model"].values
                if output_std(evals.sel(model=m), net) < DEAD_STD]
        if dead:
            runs.append(f"{net.upper()} in model{'s' if len(dead) > 1 else ''} "
                        + ", ".join(map(str, dead)))
    if not runs:
        return ""
    return (f" {DEAD_MARK}: the network is dead in this run ({'; '.join(runs)}): its output is "
            "a constant, so the model is not the one Table 2 describes and the seeds page "
            "does not use it as evidence for a claim.")


def nn1_only(df: pd.DataFrame) -> list[int]:
    """The models of ``df`` without NN2 (p₂ = 0: models 6, 7)."""
    return [int(m) for m in df.index if spec(int(m)).p2 == 0]


def with_nn2(df: pd.DataFrame) -> list[int]:
    """The models of ``df`` with NN2."""
    return [int(m) for m in df.index if spec(int(m)).p2 != 0]


def geometric_mean_ratio(df: pd.DataFrame, label: str = MEAN_RES) -> float:
    """Geometric mean over the models of ours / preprint for residual ``label``."""
    return float(np.exp(np.log(df[(label, "ours / preprint")]).mean()))


def residual_lines(df: pd.DataFrame) -> list[str]:
    """Per residual: geometric-mean ratio and range, Spearman ρ ours vs preprint over the
    models, and the lowest model here and in the preprint."""
    lines = []
    for _, _, _, label in RESIDUALS:
        ratio = df[(label, "ours / preprint")]
        rho = float(df[(label, "ours")].corr(df[(label, "preprint")], method="spearman"))
        lines.append(
            f"- **{label}**: ours is {geometric_mean_ratio(df, label):.2g} times the preprint's "
            f"(geometric mean over the {len(df)} models; range {ratio.min():.2g}–"
            f"{ratio.max():.2g}). Rank correlation between our and the preprint's values over "
            f"the models: {rho:+.2f}. Lowest: model {int(df[(label, 'ours')].idxmin())} here, "
            f"model {int(df[(label, 'preprint')].idxmin())} in the preprint.")
    return lines


def separation(df: pd.DataFrame, which: str = "ours") -> float:
    """Smallest mean residual of the NN1-only models over the largest of the models with NN2."""
    col = df[(MEAN_RES, which)]
    return float(col.loc[nn1_only(df)].min() / col.loc[with_nn2(df)].max())


def best_ratio(df: pd.DataFrame, which: str = "ours") -> float:
    """Smallest mean residual of the NN1-only models over the smallest of the models with NN2."""
    col = df[(MEAN_RES, which)]
    return float(col.loc[nn1_only(df)].min() / col.loc[with_nn2(df)].min())


def nn1_text(df: pd.DataFrame) -> str:
    """Whether the NN1-only models' mean residuals lie above all others (:data:`SEPARATED`),
    and how far the best of them is from the best model with NN2, here and in the preprint.
    A description of single runs: the claim "NN1 alone fails" is judged in
    :mod:`diffsurr.book.claims`."""
    if not nn1_only(df) or not with_nn2(df):
        return missing_note(NN1_ONLY if not nn1_only(df) else WITH_NN2, join="or")
    nn1, sep = nn1_only(df), separation(df)
    col = df[(MEAN_RES, "ours")]
    low, worst = int(col.loc[nn1].idxmin()), int(col.loc[with_nn2(df)].idxmax())
    state = (f"separated from all others: the lower of them, model {low}, has {sep:.1f} times "
             f"the mean residual of the worst model with NN2 (model {worst})" if sep > SEPARATED
             else f"not separated from all others: the lower of them, model {low}, has "
             f"{sep:.2f} times the mean residual of the worst model with NN2 (model {worst})")
    paper = ("as in the preprint" if (sep > SEPARATED) == (separation(df, "preprint") > SEPARATED)
             else "unlike the preprint")
    return (f"The NN1-only models ({', '.join(map(str, nn1))}) are {state}, {paper} "
            f"({separation(df, 'preprint'):.1f} times there). The better of them has "
            f"{best_ratio(df):.1f} times the mean residual of the best model with NN2 "
            f"(preprint: {best_ratio(df, 'preprint'):.0f} times).")


def nn1_claim_text(badge: str) -> str:
    """Where the claim "NN1 alone fails" is judged, with its verdict ``badge``
    (:func:`diffsurr.book.claims.badge` of ``verdicts["nn1-fails"]``)."""
    return ("Whether NN1 alone fails beyond the spread of training seeds, as the preprint "
            f"claims, is judged on the seeds page: {badge}.")


def scale_text(profile: Profile, evals: xr.Dataset) -> str:
    """What the ratios measure at this profile's scale."""
    if profile.name == PAPER_PROFILE:
        return ("These numbers come from the preprint's scale, so the ratios measure how well "
                "the reproduction matches the preprint.")
    return (f"At profile `{profile.name}` the networks are trained on "
            f"{int(evals.attrs.get('profile_n_samples', 0)):,} configurations for "
            f"{int(evals.attrs.get('profile_epochs', 0))} epochs instead of 20,000 for 800, so "
            "larger residuals than the preprint's are expected; the rank correlation says "
            "whether the models still order themselves as in the preprint. A rank correlation "
            "near zero means the differences between models are not resolved at this scale.")


def glance(df: pd.DataFrame, n_test: int) -> str:
    """The landing page's summary: models in, lowest mean residual here and in the preprint,
    :func:`nn1_text` and the geometric-mean ratio, as bullets."""
    ours, paper = df[(MEAN_RES, "ours")], df[(MEAN_RES, "preprint")]
    best, best_paper = int(ours.idxmin()), int(paper.idxmin())
    return "\n".join([
        f"- {len(df)} of the 14 Table 2 models were trained and evaluated on {n_test:,} test "
        "configurations each.",
        f"- Lowest mean test residual: model {best} ({fmt(ours[best] * MEAN_UNIT)}); in the "
        f"preprint, model {best_paper} ({fmt(paper[best_paper] * MEAN_UNIT)}).",
        "- " + nn1_text(df),
        f"- Our mean residuals are on average (geometric mean over the {len(df)} models) "
        f"{geometric_mean_ratio(df):.2g} times the preprint's."])
