"""Every figure of the book, as a function of result datasets that returns a matplotlib Figure.

No file I/O and no computation of results here: the functions take what
:mod:`diffsurr.results` loads (``eval.nc``/``history.nc`` with a ``model`` dim) or arrays a page
computed, and only reshape them for drawing. Figures are built with
:class:`matplotlib.figure.Figure` (not pyplot), so nothing is shown or kept open by accident;
:func:`diffsurr.book.bookfig.glue_figure` renders them.

Preprint figures: Fig. 1 (:func:`fig1_problem`), Fig. 4 (:func:`fig4_loss`), Fig. 5
(:func:`fig5_samples`), Fig. 6a–c (:func:`fig6_fields`), Fig. 6d (:func:`fig6d_residuals`),
Fig. 7 (:func:`fig7_parts`), Fig. 8 (:func:`fig8_hist2d`), Fig. 9 (:func:`fig9_slices`, its
symmetric-log axis :func:`fig9_linthresh`),
Fig. 10 (:func:`fig10_slice_summary`), Fig. 11 (:func:`fig11_field_pdfs`), Figs. S1–S12
(:func:`supplement_slice_pdfs`, their bins :func:`supplement_edges`, :func:`has_slice_bins`). Beyond
the preprint: :func:`source_modes`,
:func:`solver_agreement`, :func:`timestep_convergence`, :func:`single_disk`,
:func:`rollback_counts`, :func:`alive_fractions`, :func:`seed_spread` (error bars over training
seeds), :func:`generalisation_examples`, :func:`generalisation_ratios` (other source
layouts), :func:`metrics_overview` (metrics beyond the preprint), :func:`payoff_map` and
:func:`matched_cost` (the pay-off chapter).

:func:`panels` lists a figure's axes without its colour bars (what tests count).

The figures live in :mod:`.style` (colours, markers, helpers), :mod:`.preprint` and
:mod:`.study`; this package hands their names on.
"""

from .style import (TEST_COLOR, TRAIN_COLOR, PRED_COLOR, TRUE_COLOR, JUMP_COLOR, FIELD_CMAP,
                    RES_CMAP, panels, mosaic, FAMILIES, LOSS_STYLE, MARKERS, LEGEND_AXES, family,
                    model_style, model_legend)
from .preprint import (placeholder, fig1_problem, source_modes, solver_agreement,
                       timestep_convergence, single_disk, fig4_loss, rollback_counts,
                       alive_fractions, fig5_samples, fig6_fields, fig6d_residuals, fig7_parts,
                       fig8_hist2d, fig9_linthresh, fig9_slices, fig10_slice_summary,
                       fig11_field_pdfs, has_slice_bins, supplement_edges, supplement_slice_pdfs)
from .study import (SEED_COLORS, seed_spread, generalisation_examples, generalisation_ratios,
                    metrics_overview, pilot_curves, surrogate_label, speed_bars, PAGE_FONT_PT,
                    PAGE_FIGURE_IN, count_label, payoff_map, MATCHED_MARKERS, SURROGATE_MARKERS,
                    matched_cost)

__all__ = ["TEST_COLOR", "TRAIN_COLOR", "PRED_COLOR", "TRUE_COLOR", "JUMP_COLOR", "FIELD_CMAP",
           "RES_CMAP", "panels", "mosaic", "FAMILIES", "LOSS_STYLE", "MARKERS", "LEGEND_AXES",
           "family", "model_style", "model_legend", "placeholder", "fig1_problem", "source_modes",
           "solver_agreement", "timestep_convergence", "single_disk", "fig4_loss",
           "rollback_counts", "alive_fractions", "fig5_samples", "fig6_fields", "fig6d_residuals",
           "fig7_parts", "fig8_hist2d", "fig9_linthresh", "fig9_slices", "fig10_slice_summary",
           "fig11_field_pdfs", "has_slice_bins", "supplement_edges", "supplement_slice_pdfs",
           "SEED_COLORS", "seed_spread", "generalisation_examples", "generalisation_ratios",
           "metrics_overview", "pilot_curves", "surrogate_label", "speed_bars", "PAGE_FONT_PT",
           "PAGE_FIGURE_IN", "count_label", "payoff_map", "MATCHED_MARKERS", "SURROGATE_MARKERS",
           "matched_cost"]
