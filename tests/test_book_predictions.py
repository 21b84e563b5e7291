"""diffsurr.book.predictions: the results chapter (Figs. 5–11) on synthetic evaluations; each
conclusion sentence is also fed numbers that flip it."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from diffsurr import results as result_files
from diffsurr.book import plots
from diffsurr.book import claims, predictions as chapter
from diffsurr.profiles import get_profile
from diffsurr.registry import MODELS, table2_frame



@pytest.fixture(scope="module")
def base(results, smoke):
    return result_files.load_evals(smoke, MODELS)


@pytest.fixture()
def ev(base):
    return base.copy(deep=True)


def verdict(key="nn1-fails", outcome="holds"):
    return claims.Verdict(claims.CLAIMS[key], outcome, "a reason")


def set_value(ev, var, model, value, set_name=None):
    sel = {"model": model} if set_name is None else {"model": model, "set": set_name}
    ev[var].loc[sel] = value


def test_models_text_and_percentages():
    assert chapter.models_text([1, 2, 3]) == "1, 2 and 3"
    assert chapter.models_text([4]) == "4" and chapter.models_text([]) == "none"
    assert chapter.pct(0.000214) == "0.0214 %"


def test_pathological_models_are_named(ev):
    assert chapter.pathological(ev) == []
    assert "at most 1" in chapter.pathological_text(ev)
    set_value(ev, "max_res", 9, 32.5, "test")
    set_value(ev, "max_res", 10, 48.7, "train")
    assert chapter.pathological(ev) == [9, 10]
    text = chapter.pathological_text(ev)
    assert "Models 9 and 10 have a largest residual above 1" in text
    assert "up to 48.7 for model 10" in text
    assert "is not measured in this profile" in text and "long tail" not in text
    set_value(ev, "max_res", 12, 1.5, "test")                      # NN2 only
    text = chapter.pathological_text(ev)
    assert "For models 9 and 10 the suspected cause" in text
    assert "Model 12 does not use NN1; the cause is not known" in text
    assert chapter.in_range(ev, [5, 9, 11, 12]) == [5, 11]


def test_the_nn1_variant_confirms_or_refutes_the_cause_per_model(ev):
    set_value(ev, "max_res", 6, 5.6, "test")
    set_value(ev, "max_res", 9, 32.5, "test")
    variant = ev.sel(model=[6, 9]).copy(deep=True)
    variant["max_res"].loc[{"model": 9}] = 0.96
    variant["max_res"].loc[{"model": 6}] = 4.0
    text = chapter.cause_text(ev, variant)
    assert "of model 9 from 32.5 to 0.96" in text and "the cause is confirmed" in text
    assert "of model 6 from 5.6 to 4" in text and "this is not the cause" in text
    variant["max_res"].loc[{"model": 6}] = 0.5
    text = chapter.cause_text(ev, variant)
    assert "models 6 and 9 stay within the bound" in text and "not the cause" not in text
    variant["max_res"].loc[{"model": [6, 9]}] = 2.0
    assert "the cause is confirmed" not in chapter.cause_text(ev, variant)
    set_value(ev, "max_res", 10, 3.0, "test")                      # NN1, no variant run
    assert "For model 10 this cause is not measured" in chapter.cause_text(ev, variant)
    assert "For models 6, 9 and 10 the suspected cause (NN1's last" in chapter.cause_text(ev, None)
    assert "Trained again" not in chapter.cause_text(ev, None)


def test_error_locations_sentence_flips():
    loc = {"top_near_source": 0.9, "near_source": 0.1, "top_near_wall": 0.05,
           "near_wall": 0.1, "rel_wall": 0.6, "rel_elsewhere": 0.2}
    assert chapter.error_locations_text(loc).endswith("both hold here.")
    assert chapter.error_locations_text({**loc, "rel_wall": 0.1}).endswith(
        "the first holds and the second does not.")
    assert chapter.error_locations_text({**loc, "top_near_source": 0.05}).endswith(
        "the second holds and the first does not.")
    assert chapter.error_locations_text({**loc, "top_near_source": 0.05, "rel_wall": 0.1}
                                        ).endswith("neither holds here.")


def test_error_locations_of_the_fields(ev):
    loc = chapter.error_locations(ev)
    assert set(loc) == {"top_near_source", "near_source", "top_near_wall", "near_wall",
                        "rel_wall", "rel_elsewhere"}
    assert all(0 <= loc[k] <= 1 for k in ("top_near_source", "near_source", "near_wall"))


def test_tail_leaves_out_pathological_models_and_compares(ev):
    text = chapter.tail_text(ev)
    assert "(1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13 and 14)" in text and "long tail" not in text
    ev["mean_res"].loc[{"set": "test"}] = ev["p99_res"].sel(set="test") / 1000
    assert "larger than the preprint's" in chapter.tail_text(ev)
    ev["mean_res"].loc[{"set": "test"}] = ev["p99_res"].sel(set="test") / 1.01
    assert "smaller than the preprint's" in chapter.tail_text(ev)
    set_value(ev, "max_res", 9, 30.0, "test")
    assert "(1, 2, 3, 4, 5, 8, 10, 11, 12, 13 and 14)" in chapter.tail_text(ev)
    ev["max_res"].loc[{"set": "test"}] = 5.0
    assert "Every model with NN2 is pathological" in chapter.tail_text(ev)


def test_best_models_sentence_flips(ev):
    for v in ("mean_res", "p99_res", "max_res"):
        ev[v].loc[{"set": "test"}] = 1.0
        set_value(ev, v, 5, 0.5, "test")
    text = chapter.best_text(ev)
    assert "agree on the best model" in text and "do not agree" not in text
    assert "is the preprint's" in text                     # the preprint's best mean: model 5
    set_value(ev, "max_res", 12, 0.1, "test")
    set_value(ev, "mean_res", 5, 2.0, "test")
    text = chapter.best_text(ev)
    assert "do not agree" in text and "is not the preprint's" in text


def test_nn1_text_shows_the_badge_and_does_not_judge(ev):
    text = chapter.nn1_text(ev, verdict("nn1-fails", "fails"))
    assert 'data-claim="nn1-fails" data-outcome="fails"' in text and "a reason" in text
    assert "The NN1-only models (6 and 7)" in text


def test_parts_sentence_flips(ev):
    r = {"nn1_sources": 0.1, "nn1_field": 0.3, "nn2_sources": 0.2, "nn2_field": 0.03}
    text = chapter.parts_text(ev, r)
    assert "NN1 is better than NN2 on the sources and NN2 is better than NN1" in text
    text = chapter.parts_text(ev, {**r, "nn1_sources": 0.3, "nn2_field": 0.5})
    assert "NN1 is not better than NN2 on the sources and NN2 is not better" in text
    assert set(chapter.parts_residuals(ev)) == set(r)


def test_fig8_counts_the_pixels_outside_its_range(ev):
    out = chapter.hist2d_outside(ev)
    assert list(zip(out["model"], out["set"])) == [(9, "test"), (9, "train"),
                                                   (11, "test"), (11, "train")]
    pixels = ev.sizes["y"] * ev.sizes["x"]
    first = out.iloc[0]
    assert first["pixels"] == int(ev["n_test"].sel(model=9)) * pixels
    assert first["outside"] == first["pixels"] - int(ev["hist2d_test"].sel(model=9).sum())
    h = ev["hist2d_test"].sel(model=9).values
    i, j = np.unravel_index(np.argmax(h), h.shape)
    taken = int(h[i, j])
    ev["hist2d_test"].loc[{"model": 9}] = np.where(np.arange(h.size).reshape(h.shape)
                                                   == i * h.shape[1] + j, 0, h)
    again = chapter.hist2d_outside(ev).iloc[0]
    assert again["outside"] == first["outside"] + taken
    assert again["fraction"] == pytest.approx(again["outside"] / again["pixels"])
    lo, hi = chapter.hist2d_range(ev)
    assert (lo, hi) == (0.0, 1.1)
    text = chapter.outside_text(chapter.hist2d_outside(ev), lo, hi)
    assert f"a) {int(again['outside']):,} of {int(again['pixels']):,}" in text and "d) " in text
    _, cap = chapter.fig8(ev, get_profile("smoke")[0])
    assert "not drawn: a) " in cap and f"× {pixels:,} pixels" in cap


def test_fig8_text_names_the_pixels_beyond_the_axes(ev):
    v = verdict("w100-overfits-less", "not resolved")
    text = chapter.fig8_text(ev, v)
    assert "exceed the axes' span" not in text
    assert 'data-claim="w100-overfits-less" data-outcome="not resolved"' in text
    set_value(ev, "max_res", 9, 32.6, "test")
    assert "The largest residuals of model 9 (32.6) exceed the axes' span of 1.1" in \
        chapter.fig8_text(ev, v)


def test_fig9_sentences_flip(ev):
    v = verdict("mse-overfits-more", "not tested")
    ev["std_xprime_avg"].loc[{"set": "train"}] = 1.0
    for m in (4, 5):
        set_value(ev, "std_xprime_avg", m, 0.5, "train")
    text = chapter.fig9_text(ev, v)
    assert "Here MSE gives the smaller spread on the training set" in text
    assert 'data-claim="mse-overfits-more"' in text
    for m in (4, 5):
        set_value(ev, "std_xprime_avg", m, 2.0, "train")
    assert "MSE does not give the smaller spread" in chapter.fig9_text(ev, v)
    # spread growing with the slice number, then shrinking
    s = ev["slice"].values.astype(float)
    ev["std_xprime"][:] = np.broadcast_to(s, ev["std_xprime"].shape)
    ev["count"][:] = 10
    assert "as the preprint's" in chapter.fig9_text(ev, v)
    ev["std_xprime"][:] = np.broadcast_to(-s, ev["std_xprime"].shape)
    assert "does not hold for most of them" in chapter.fig9_text(ev, v)
    assert chapter.spread_growth(ev, [4]) == (0, 2)


def test_fig9_without_an_in_range_mse_model(ev):
    for m in (1, 2, 3, 4, 5):
        set_value(ev, "max_res", m, 3.0, "test")
    text = chapter.fig9_text(ev, verdict("mse-overfits-more"))
    assert "No MSE model with NN2 stays within the field's bound" in text
    assert "pathological models left out: 1, 2, 3, 4 and 5" in text


def test_fig10_sentence_flips(ev):
    ev["mean_abs_res_avg"].loc[{"set": "test"}] = 1.0
    ev["mean_res"].loc[{"set": "test"}] = 1.0
    set_value(ev, "mean_abs_res_avg", 12, 0.5, "test")
    set_value(ev, "mean_res", 12, 0.5, "test")
    assert chapter.fig10_text(ev).endswith("The two rankings agree on the best model.")
    set_value(ev, "mean_res", 5, 0.1, "test")
    assert chapter.fig10_text(ev).endswith(
        "Weighting slices equally changes which model looks best.")


def test_fig11_table_and_rules(ev):
    t = chapter.fig11_table(ev).data
    assert list(t.index) == [2, 3, 11, 12] and list(t[("loss", "")]) == ["MSE", "MSE", "MAE", "MAE"]
    assert t.columns.nlevels == 2 and ("mass below 0.01", "true") in t.columns
    assert "border-top" in chapter.fig11_table(ev).to_html()
    assert 'data-claim="mae-beats-mse"' in chapter.fig11_text(verdict("mae-beats-mse"))


def test_every_figure_comes_with_its_caption(ev):
    smoke = get_profile("smoke")[0]
    for f in (chapter.fig5, chapter.fig6, chapter.fig6d, chapter.fig7, chapter.fig8,
              chapter.fig9, chapter.fig10, chapter.fig11):
        fig, cap = f(ev, smoke)
        assert isinstance(fig, Figure) and cap.startswith("**Figure")
    assert "symmetric-logarithmic, linear within" in chapter.fig9(ev, smoke)[1]
    assert chapter.fig5_text(ev).startswith("On these 4 configurations model 12")


def test_fig9_axis_shows_the_means(ev):
    lin = plots.fig9_linthresh(ev)
    means = np.abs(ev["mean_xprime"].values)
    assert lin == pytest.approx(np.quantile(means[np.isfinite(means) & (means > 0)], 0.25))
    ax = plots.panels(plots.fig9_slices(ev.sel(model=[5, 9])))[0]
    assert ax.get_yscale() == "symlog"


def test_a_study_under_way_shows_what_is_in_and_names_what_is_missing(ev):
    """Models 2, 7 and 11 not evaluated yet: the figures and sentences that need them say so;
    the others use the models that are in (and the preprint's numbers of the same models)."""
    smoke = get_profile("smoke")[0]
    part = ev.sel(model=[m for m in MODELS if m not in (2, 7, 11)])
    fig, cap = chapter.fig11(part, smoke)
    assert isinstance(fig, Figure) and "needs models 2 and 11" in cap
    assert "needs model 11" in chapter.fig8_text(part, verdict("w100-overfits-less"))
    assert ("needs model 7" in chapter.fig7_text(part)
            and "needs model 7" in chapter.fig7(part, smoke)[1])
    assert "needs models 2 and 11" in chapter.fig11_table(part).to_html()
    assert chapter.fig5_text(part).startswith("On these")          # model 12 is in
    assert "model 7" not in chapter.nn1_text(part, verdict()).split("times")[0]
    assert "11" not in chapter.tail_text(part).split("(")[1].split(")")[0]
    set_value(part, "mean_res", 12, 1e-9, "test")
    assert "is not the preprint's" in chapter.best_text(part)
    paper_best = min((m for m in part["model"].values),
                     key=lambda m: table2_frame()["paper_mean_res"].sel(model=m))
    assert f"In the preprint's Table 2: models {paper_best}" in chapter.best_text(part)
    for f in (chapter.fig6d, chapter.fig9, chapter.fig10):
        assert isinstance(f(part, smoke)[0], Figure)
    chapter.fig9_text(part, verdict("mse-overfits-more")), chapter.fig10_text(part)
