"""diffsurr.book.table2: Table 2's sentences on synthetic residuals (no files needed)."""

import numpy as np
import xarray as xr

from diffsurr.book import report
from diffsurr.book import table2 as chapter
from diffsurr.profiles import PROFILES
from diffsurr.registry import MODELS, table2_frame


def fake_df(nn1_factor=30.0, scale=2.0):
    """Table 2 with our residuals ``scale`` times the preprint's for the models with NN2 and
    ``nn1_factor`` times the largest of them for the NN1-only models."""
    paper = table2_frame()
    res = {k: paper[p].values * scale for k, p, _, _ in report.RESIDUALS}
    nn1 = np.isin(np.array(MODELS), report.NN1_ONLY)
    for k in res:
        res[k][nn1] = res[k][~nn1].max() * nn1_factor * np.array([1.0, 1.5])
    ds = xr.Dataset({k: (("set", "model"), np.stack([v, v])) for k, v in res.items()},
                    coords={"set": ["test", "train"], "model": list(MODELS)})
    return report.table2_comparison(ds)


def test_residual_lines_ratio_and_rank():
    lines = chapter.residual_lines(fake_df(nn1_factor=1000))
    assert len(lines) == 3 and lines[0].startswith("- **⟨res⟩ (10⁻³)**")
    df = fake_df(nn1_factor=1.0 / 3)
    assert chapter.geometric_mean_ratio(df) < 2.0
    paper = table2_frame()["paper_mean_res"]
    assert f"model {int(paper.idxmin())} in the preprint" in chapter.residual_lines(df)[0]


def test_nn1_text_flips_with_the_separation():
    df = fake_df()
    assert chapter.nn1_only(df) == list(report.NN1_ONLY)
    sep = chapter.nn1_text(df)
    assert "are separated from all others" in sep and "model 6, has 30.0 times" in sep
    assert "as in the preprint" in sep
    mixed = chapter.nn1_text(fake_df(nn1_factor=0.5))
    assert "not separated from all others" in mixed and "0.50 times" in mixed
    assert "unlike the preprint" in mixed
    no_nn1 = df.drop(index=list(report.NN1_ONLY))
    assert "needs model 6 or 7, not yet evaluated" in chapter.nn1_text(no_nn1)
    assert chapter.nn1_text(df.drop(index=7)).startswith("The NN1-only models (6) are")


def test_scale_text_names_the_profile():
    evals = xr.Dataset(attrs={"profile_n_samples": 1000, "profile_epochs": 20})
    assert "preprint's scale" in chapter.scale_text(PROFILES["paper"], evals)
    ci = chapter.scale_text(PROFILES["ci"], evals)
    assert "`ci`" in ci and "1,000 configurations for 20 epochs" in ci


def test_glance_uses_the_chapter_sentences():
    df = fake_df()
    text = chapter.glance(df, 200)
    assert "14 of the 14 Table 2 models" in text and "200 test" in text
    assert chapter.nn1_text(df) in text
    assert f"{chapter.geometric_mean_ratio(df):.2g} times the preprint's" in text


def test_nn1_claim_text_shows_the_badge_it_is_given():
    assert chapter.nn1_claim_text("<b>holds</b>").endswith("seeds page: <b>holds</b>.")


def test_the_caption_says_which_models_the_table_holds():
    evals = xr.Dataset({"n_test": ("model", [4000.0] * 14)}, coords={"model": list(MODELS)})
    assert "of the 14 models and" in chapter.table_caption(evals, PROFILES["reference"])
    part = chapter.table_caption(evals.sel(model=[1, 5, 9]), PROFILES["reference"])
    assert "of the 3 models evaluated so far (of 14)" in part and "4,000 test" in part


def test_a_dead_network_is_marked_in_table2_and_its_caption():
    fig = np.random.default_rng(0).random((14, 2, 3, 3))
    fig_nn1 = fig.copy()
    fig_nn1[8] = 0.25                                   # model 9: NN1's output a constant
    fig_nn1[[3, 4, 11, 12, 13]] = np.nan                # NN2-only models: no NN1
    evals = xr.Dataset({"n_test": ("model", [4000.0] * 14),
                        "fig_nn1": (("model", "fig_sample", "y", "x"), fig_nn1),
                        "fig_nn2": (("model", "fig_sample", "y", "x"), fig)},
                       coords={"model": list(MODELS)})
    text = chapter.table_caption(evals, PROFILES["reference"])
    assert "†: the network is dead in this run (NN1 in model 9)" in text
    paper = table2_frame()
    res = {k: (("set", "model"), np.stack([paper[p].values] * 2))
           for k, p, _, _ in report.RESIDUALS}
    df = report.table2_comparison(evals.assign(res).assign_coords(set=["test", "train"]))
    nets = report.table2_compact(df)[("Table 2", "networks")]
    assert nets[9] == "NN1†+NN2" and nets[8] == "NN1+NN2" and nets[12] == "NN2"
