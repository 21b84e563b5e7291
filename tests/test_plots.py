"""Tests of diffsurr.book.plots: every figure function returns a Figure with the expected panels,
on small synthetic result datasets (built by the helpers of tests/test_report.py)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from diffsurr.book import plots, report
from diffsurr import results as result_files
from diffsurr.book.generalisation import layout_ratios
from diffsurr.profiles import get_profile
from diffsurr.registry import MODELS, table2_frame
from test_report import fake_fields, fake_generalisation, write_results, write_seed_results


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    mp = pytest.MonkeyPatch()
    mp.setenv("DIFFSURR_RESULTS", str(root))
    smoke = get_profile("smoke")[0]
    write_results(root, smoke)
    out = {"evals": result_files.load_evals(smoke), "hist": result_files.load_histories(smoke),
           "h_none": result_files.load_history(smoke, 9, rollback="none"),
           "h_rb": result_files.load_history(smoke, 9)}
    yield out
    mp.undo()


def n_panels(fig):
    assert isinstance(fig, Figure)
    fig.canvas.draw()                     # the figure must also render without error
    return len(plots.panels(fig))


def test_mosaic_tiles_with_nan_gaps():
    fields = np.arange(6 * 3 * 4, dtype=float).reshape(6, 3, 4)
    m = plots.mosaic(fields, ncols=4, pad=1)
    assert m.shape == (2 * 3 + 1, 4 * 4 + 3)
    np.testing.assert_array_equal(m[:3, :4], fields[0])
    np.testing.assert_array_equal(m[4:7, 5:9], fields[5])
    assert np.isnan(m[3]).all() and np.isnan(m[:, 4]).all()
    assert np.isnan(m[4:, 10:]).all()                       # two empty tiles in row 2


def test_problem_figures():
    rng = np.random.default_rng(0)
    x, y, yhat = fake_fields(rng, 5, 0.01)
    assert n_panels(plots.fig1_problem(x[0], y[0])) == 2
    assert n_panels(plots.source_modes(x[0], y[0], yhat[0])) == 4
    assert n_panels(plots.solver_agreement({"clamped": [1e-14, 0.0], "production": [3e-15]})) == 1
    assert n_panels(plots.timestep_convergence([100, 200, 400], [1e-1, 1e-3, 1e-7])) == 1
    r = np.linspace(6, 60, 50)
    assert n_panels(plots.single_disk(r, np.exp(-r / 20), r, np.exp(-r / 20))) == 1
    assert n_panels(plots.single_disk(r, np.exp(-r / 20), r, np.exp(-r / 20),
                                      rel_err=0 * r, r_eff=4.8)) == 2


def test_fig4_marks_jumps(loaded):
    fig = plots.fig4_loss(loaded["h_none"], loaded["h_rb"],
                          jumps_none=np.arange(loaded["h_none"].sizes["step"]) == 3, model=9)
    assert n_panels(fig) == 2
    green = to_rgba(plots.JUMP_COLOR)
    for ax, expected in zip(plots.panels(fig), (1, int((loaded["h_rb"]["accepted"] == 0).sum()))):
        circles = [ln for ln in ax.get_lines() if to_rgba(ln.get_markeredgecolor()) == green]
        assert len(circles) == 1 and len(circles[0].get_xdata()) == expected


def test_training_figures(loaded):
    assert n_panels(plots.rollback_counts(loaded["hist"])) == 1
    fig = plots.alive_fractions(loaded["hist"])
    assert n_panels(fig) == 2
    nn2_ax, nn1_ax = plots.panels(fig)
    assert len(nn2_ax.get_lines()) == len(report.WITH_NN2)
    assert len(nn1_ax.get_lines()) == len(report.WITH_NN1)


def test_results_figures(loaded):
    ev = loaded["evals"]
    m = ev.sel(model=12)
    assert n_panels(plots.fig5_samples(m["fig_input"], m["fig_target"], m["fig_pred"])) == 3
    res = np.abs(m["fig_target"] - m["fig_pred"]).values
    rel = res / (m["fig_target"].values + 1e-5)
    assert n_panels(plots.fig6_fields(m["fig_target"], res, rel)) == 3
    fig = plots.fig6d_residuals(ev, table2_frame())
    assert n_panels(fig) == 1 and len(plots.panels(fig)[0].get_lines()) == 6
    assert len(plots.panels(plots.fig6d_residuals(ev))[0].get_lines()) == 3
    assert n_panels(plots.fig7_parts(ev.sel(model=7)["fig_nn1"], ev.sel(model=5)["fig_nn2"])) == 2
    assert n_panels(plots.fig8_hist2d(ev)) == 4
    assert n_panels(plots.fig8_hist2d(ev, models=(9,))) == 2
    assert n_panels(plots.fig9_slices(ev)) == len(MODELS)
    assert n_panels(plots.fig9_slices(ev.sel(model=[1, 2, 3, 4, 5]),
                                      stat="mean_abs_res")) == 5
    assert n_panels(plots.fig10_slice_summary(ev)) == 2
    assert n_panels(plots.fig10_slice_summary(ev, mean_stat="mean_xprime")) == 2
    assert n_panels(plots.fig11_field_pdfs(ev)) == 4
    assert n_panels(plots.fig11_field_pdfs(ev, models=(2, 3, 11))) == 3


def test_supplement_has_all_values_plus_20_slices(loaded):
    ev = loaded["evals"]
    fig = plots.supplement_slice_pdfs(ev.sel(model=9), title="Model 9")
    assert n_panels(fig) == 21
    titles = [ax.get_title() for ax in plots.panels(fig)]
    assert titles[0].startswith("all values") and titles[-1].startswith("slice 20")
    # a model dim of length one is accepted too
    assert n_panels(plots.supplement_slice_pdfs(ev.sel(model=[9]))) == 21


def test_figures_do_not_touch_pyplot(loaded):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.fig9_slices(loaded["evals"])
    assert plt.get_fignums() == before


def test_seed_spread_dots_and_error_bars(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    smoke = get_profile("smoke")[0]
    write_seed_results(smoke)
    seeds = result_files.load_seed_evals(smoke, (5, 6, 12))
    test = seeds.sel(set="test")
    fig = plots.seed_spread({"mean": test["mean_res"], "p99": test["p99_res"],
                             "max": test["max_res"]})
    assert n_panels(fig) == 3
    ax = plots.panels(fig)[0]
    dots = [ln for ln in ax.get_lines() if ln.get_label().startswith("seed")]
    assert len(dots) == 3                                   # one series per seed
    assert sum(np.isfinite(ln.get_ydata()).sum() for ln in dots) == 7   # 3 + 3 + 1 runs
    # error bars only for the two models with several seeds, at their mean
    bars = [c for c in ax.containers if c.get_label() == "mean ± std"]
    assert len(bars) == 1
    y = bars[0].lines[0].get_ydata()
    np.testing.assert_allclose(y, test["mean_res"].sel(model=[5, 6]).mean("seed").values)


def test_generalisation_figures():
    gen = fake_generalisation(models=(5, 9, 12))
    gen["layout"] = [str(v) for v in gen["layout"].values]
    fig = plots.generalisation_examples(gen, 9, n_examples=2)
    assert n_panels(fig) == 4 * gen.sizes["layout"]
    assert plots.panels(fig)[0].get_ylabel() == "training"
    ratios = layout_ratios(gen)
    fig = plots.generalisation_ratios(ratios, {"mean_res": "mean", "mean_nrmse": "nRMSE",
                                               "max_res": "max"}, highlight=[9])
    assert n_panels(fig) == 3
    ax = plots.panels(fig)[0]
    lines = [ln for ln in ax.get_lines() if ln.get_label() in {"5", "9", "12"}]
    assert len(lines) == 3 and max(ln.get_linewidth() for ln in lines) == \
        [ln for ln in lines if ln.get_label() == "9"][0].get_linewidth()


def test_metrics_overview(loaded):
    df = report.metrics_frame(loaded["evals"])
    fig = plots.metrics_overview(df, highlight=report.NN1_ONLY)
    assert n_panels(fig) == 4
    bars = plots.panels(fig)[0].patches
    assert len(bars) == 3 * len(df)
    scatter = plots.panels(fig)[1].get_lines()
    assert len(scatter) == len(df)


def test_every_model_has_its_own_style_and_families_their_colour_maps():
    styles = {m: plots.model_style(m) for m in MODELS}
    keys = {(to_rgba(s["color"]), s["ls"], s["marker"]) for s in styles.values()}
    assert len(keys) == len(MODELS)
    assert {plots.family(m) for m in MODELS} == {name for name, _ in plots.FAMILIES}
    assert styles[9]["ls"] == "--" and styles[5]["ls"] == "-"         # MAE, MSE
    blue, orange = to_rgba(styles[9]["color"]), to_rgba(styles[12]["color"])
    assert blue[2] > blue[0] and orange[0] > orange[2]                  # NN1 + NN2, NN2 only


def test_multi_model_figures_are_legible(loaded):
    from diffsurr.book import bookfig

    for fig in (plots.alive_fractions(loaded["hist"]), plots.rollback_counts(loaded["hist"])):
        assert bookfig.small_text(fig) == []
    gen = fake_generalisation(models=tuple(MODELS))
    gen["layout"] = [str(v) for v in gen["layout"].values]
    fig = plots.generalisation_ratios(layout_ratios(gen), {"mean_res": "mean", "max_res": "max",
                                                           "mean_nrmse": "nRMSE"})
    assert bookfig.small_text(fig) == [] and n_panels(fig) == 3
    legend = [t.get_text() for ax in fig.axes for lg in [ax.get_legend()] if lg
              for t in lg.get_texts()]
    assert "NN1 + NN2" in legend and "9 (MAE)" in legend and "6 (MSE)" in legend


def test_a_rollback_figure_of_zeros_says_so(loaded):
    hist = loaded["hist"].copy()
    hist["n_rollbacks"] = hist["n_rollbacks"] * 0
    texts = [t.get_text() for t in plots.rollback_counts(hist).axes[0].texts]
    assert any("every count is 0" in t for t in texts)
