"""The supplement chapter: the PDF of the signed residual x′ = (ŷ − y)/√2 per slice of field
value (preprint Supplement A, Figs. S1–S12), one figure per model.

Figures, captions and sentences for ``book/supplement.md``. The PDFs come from ``eval.nc``
(:func:`diffsurr.metrics.slice_pdfs`): files written since per-slice bins give each slice
its own bins; older files share one set of bins per model, and the page says so.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import bookfig, plots
from ..metrics import SLICE_PDF_HALF_WIDTH
from ..profiles import Profile
from ..registry import MODELS
from .report import caption, eval_sources, fmt
from .predictions import FIELD_BOUND, models_text, pathological, pct
from .text import missing_figure

SUPPLEMENT_FIGURES = {m: f"S{i}" for i, m in enumerate((1, 2, 3, 5, 6, 8, 9, 10, 11, 12, 13, 14),
                                                       start=1)}
"""The preprint's Figs. S1–S12 show these models, in this order (not 4 and 7)."""
MIN_PIXELS = 100
"""A slice enters the comparison of its PDF with its Gaussian only with at least this many
pixels."""
MIN_BINS_PER_STD = 2.0
"""... and only when its standard deviation spans more than this many of its bins (otherwise
the bins cannot resolve its peak)."""
DPI = 90
"""Resolution of the 14 figures (21 panels each)."""


def shared_bin_models(evals: xr.Dataset) -> list[int]:
    """Models whose files share one set of bins over all slices (written before per-slice
    bins)."""
    return [int(m) for m in evals["model"].values
            if not plots.has_slice_bins(evals.sel(model=m))]


def bin_widths(ev: xr.Dataset) -> np.ndarray:
    """Bin width of each slice of one model (shared bins: the same for every slice)."""
    _, edges = plots.supplement_edges(ev)
    return edges[:, 1] - edges[:, 0]


def peakedness(ev: xr.Dataset) -> np.ndarray:
    """Per slice of one model with at least :data:`MIN_PIXELS` pixels and a standard deviation
    over :data:`MIN_BINS_PER_STD` bins: the PDF's peak over its Gaussian's peak 1/(σ√(2π))
    (> 1: more sharply peaked than the Gaussian of the same standard deviation)."""
    sd, count = ev["std_xprime20"].values, ev["count20"].values
    ok = (count >= MIN_PIXELS) & np.isfinite(sd) & (sd > MIN_BINS_PER_STD * bin_widths(ev))
    peak = np.nanmax(ev["pdf"].values[ok], axis=1, initial=-np.inf)
    return peak * sd[ok] * np.sqrt(2 * np.pi)


def resolved(evals: xr.Dataset) -> tuple[int, int]:
    """(slices with at least :data:`MIN_PIXELS` pixels that the bins resolve, all slices with
    at least that many pixels), over the models of ``evals``."""
    res = tot = 0
    for m in evals["model"].values:
        ev = evals.sel(model=m)
        big = ev["count20"].values >= MIN_PIXELS
        tot += int(big.sum())
        res += int((big & (ev["std_xprime20"].values > MIN_BINS_PER_STD * bin_widths(ev))).sum())
    return res, tot


def bins_text(evals: xr.Dataset) -> str:
    """How the PDFs are binned, and how many slices the bins resolve."""
    res, tot = resolved(evals)
    shared = shared_bin_models(evals)
    nbins = int(evals.sizes["xbin"])
    count = (f"{res} of the {tot} slices with at least {MIN_PIXELS} pixels have a standard "
             f"deviation wider than {MIN_BINS_PER_STD:g} bins.")
    own = (f"{nbins} equal bins over the slice's mean ± {SLICE_PDF_HALF_WIDTH:g} standard "
           "deviations (the panel over all values likewise), so that a narrow slice is "
           "resolved; values beyond are not drawn")
    old = (f"share one set of {nbins} bins over ± the model's largest |x′|, so that a slice "
           "much narrower than that range falls into one or two bins and shows as a spike")
    if not shared:
        out = evals["count20"].sum() - evals["count_in_range"].sum()
        return (f"Each slice has its own bins: {own} ({int(out):,} of "
                f"{int(evals['count20'].sum()):,} pixels). " + count)
    if len(shared) == evals.sizes["model"]:
        return ("These evaluation files were written before per-slice bins: all slices of a "
                f"model {old}. " + count + " Evaluating the models again gives each slice its "
                "own bins.")
    return (f"The files of {'model' if len(shared) == 1 else 'models'} {models_text(shared)} "
            f"were written before per-slice bins: their slices {old}. The other models' slices "
            f"have their own bins: {own}. " + count)


def peakedness_text(evals: xr.Dataset) -> str:
    """Whether the resolved slices are more sharply peaked than their Gaussians."""
    pooled = np.concatenate([peakedness(evals.sel(model=m)) for m in evals["model"].values])
    if not pooled.size:
        return ("No slice of any model has enough pixels, resolved by the bins, to compare its "
                "PDF with the Gaussian.")
    return (f"In {pct(float((pooled > 1).mean()))} of the {pooled.size} resolved slices the "
            f"PDF peaks higher than its Gaussian (median ratio of the peaks "
            f"{fmt(float(np.median(pooled)))}): "
            + ("the residuals are mostly more sharply peaked than a Gaussian of the same "
               "standard deviation, which means heavier tails, so a slice's standard deviation "
               "overstates the typical error and understates the outliers."
               if np.median(pooled) > 1 else
               "the Gaussians of the slices' mean and standard deviation describe them fairly.")
            + " Slices near 1 are empty or nearly so when a model never predicts such high "
            "values.")


def pathological_text(evals: xr.Dataset) -> str:
    """The models the results page calls pathological, and where their values land here."""
    bad = pathological(evals)
    if not bad:
        return ""
    return (f"{'Model' if len(bad) == 1 else 'Models'} {models_text(bad)} "
            f"{'is' if len(bad) == 1 else 'are'} pathological (largest residual above "
            f"{FIELD_BOUND:g}, the field's bound; see the Results page). Slices 1 and 20 also "
            "hold every pixel whose (y + ŷ)/2 lies below 0 or above 1: that is where "
            "predictions far outside the field's range (ŷ above 2 or below −1) land.")


def title(ev: xr.Dataset) -> str:
    """"Model 9 (MAE, w = 100, p₁ = 1, p₂ = 1)"."""
    return (f"Model {int(ev['model'])} ({str(ev['loss'].values)}, w = {float(ev['w']):g}, "
            f"p₁ = {float(ev['p1']):g}, p₂ = {float(ev['p2']):g})")


def figure_caption(ev: xr.Dataset, profile: Profile, bad: bool) -> str:
    """The caption of one model's figure: filled slices, the slice of the largest |mean x′|."""
    m = int(ev["model"])
    counts = ev["count20"].values
    mean = ev["mean_xprime20"].where(ev["count20"] > 0)
    if (counts > 0).any():
        worst = int(np.abs(mean).idxmax("slice20"))
        text = (f"{int((counts > 0).sum())} of 20 slices hold pixels; the largest |mean x′| is "
                f"in slice {worst} ({fmt(float(mean.sel(slice20=worst)))}).")
    else:
        text = "No slice holds pixels."
    if bad:
        text += (f" Model {m} is pathological (largest residual "
                 f"{fmt(float(ev['max_res'].max()))}).")
    ref = SUPPLEMENT_FIGURES.get(m)
    if not ref:
        text += " The preprint has no supplementary figure for this model."
    return caption(f"A.{m}", f"{title(ev)}: PDF of x′ = (ŷ − y)/√2 over all test values and per "
                   "slice of 0.05, with the Gaussian of each slice's mean and standard deviation",
                   profile, eval_sources(profile, [m]), text=text,
                   preprint=f"Fig. {ref}" if ref else None)


def glue_figures(evals: xr.Dataset, profile: Profile) -> list[str]:
    """Glue every Table 2 model's figure and caption as ``fig-supplement-NN`` (a note for a
    model not evaluated yet); returns the names."""
    bad = set(pathological(evals))
    have = {int(m) for m in evals["model"].values}
    names = []
    for m in MODELS:
        name = f"fig-supplement-{m:02d}"
        if m in have:
            ev = evals.sel(model=m)
            bookfig.glue_figure(name, plots.supplement_slice_pdfs(ev, title=title(ev)),
                                figure_caption(ev, profile, m in bad), dpi=DPI)
        else:
            bookfig.glue_figure(name, *missing_figure([m], profile.name))
        names.append(name)
    return names
