"""diffsurr.book.beyond_metrics: the metrics chapter's sentences on synthetic per-model tables."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from diffsurr.book import beyond_metrics as chapter
from diffsurr.registry import MODELS

from test_report import fake_eval


def fake_df(low=0.8, ring=0.5, pde=1e-3, shuffle_nrmse=False, one_best=False):
    """Metrics per model: errors growing with the model number; the low band holding a share
    ``low`` of the MSE; ring RMSE ``ring`` times the RMSE; PDE RMS ``pde``."""
    m = np.array(MODELS, float)
    mse = (1e-3 * m) ** 2
    mid = (1 - low) / 2
    df = pd.DataFrame({
        "mean_res": 1e-3 * m,
        "mean_nrmse": 1e-2 * (m[::-1] if shuffle_nrmse else m),
        "rmse_boundary_all": ring * np.sqrt(mse),
        "max_boundary_all": 1e-2 * m,
        "frmse_low": np.sqrt(low * mse), "frmse_mid": np.sqrt(mid * mse),
        "frmse_high": np.sqrt(mid * mse),
        "rms_pde_all": pde * (1 + 1e-3 * m), "max_pde_all": 1e-2 * m},
        index=pd.Index(list(MODELS), name="model"))
    if not one_best:
        df.loc[14, "max_pde_all"] = 0.0
    return df


def fake_data(level=0.5):
    x = np.zeros((3, 8, 8))
    x[:, 3, 3] = 1.0
    y = np.full((3, 8, 8), level)
    y[:, 3, 3] = 1.0
    return xr.Dataset({"input": (("sample", "y", "x"), x), "target": (("sample", "y", "x"), y),
                       "split": ("sample", ["train", "test", "test"])})


def test_wavenumber_text_flips():
    assert "mostly large-scale" in chapter.wavenumber_text(fake_df(low=0.8))
    assert "80 % of the mean squared error" in chapter.wavenumber_text(fake_df(low=0.8))
    assert "not large-scale" in chapter.wavenumber_text(fake_df(low=0.3))


def test_walls_text_flips():
    small = chapter.walls_text(fake_df(ring=0.5))
    assert "0.5 times the overall RMSE" in small and "smaller at the absorbing walls" in small
    assert "larger at the absorbing walls" in chapter.walls_text(fake_df(ring=2.0))


def test_physics_text_flips_with_the_scale_of_the_equation():
    data = fake_data()
    scale, exact = chapter.equation_scale(data)
    assert scale == pytest.approx(chapter.GAMMA * 0.5)
    assert exact > 0                       # a constant field does not solve the equation
    far = chapter.physics_text(fake_df(pde=10 * scale), data)
    assert "do not satisfy the equation" in far and "10.1 times γy's RMS" in far
    near = chapter.physics_text(fake_df(pde=0.1 * scale), data)
    assert "nearly satisfy the equation" in near


def test_ranking_summary_lists_agreeing_and_disagreeing_metrics():
    text = chapter.ranking_summary(fake_df(shuffle_nrmse=True))
    agree, disagree = text.split("differently")
    assert "ring RMSE" in agree and "nRMSE" not in agree.split("(ρ ≥ 0.7):")[1]
    assert "nRMSE" in disagree and "2 different models are best (1, 14)" in text
    assert "no single model is best" in text
    one = chapter.ranking_summary(fake_df(one_best=True))
    assert "1 different models are best (1)" in one and "unlike in the preprint" in one


def test_rank_correlations_need_three_models_with_nn2():
    rho = chapter.rank_correlations(fake_df())
    assert rho.loc["mean_nrmse", "all"] == pytest.approx(1.0)
    few = chapter.rank_correlations(fake_df().loc[[6, 7, 5, 9]])
    assert few["with NN2"].isna().all() and few["all"].notna().all()
    text = chapter.ranking_text(fake_df())
    assert "over all 14 models and over the 12 with NN2" in text
    assert "- nRMSE: ρ = +1.00 (all), +1.00 (with NN2); best: model 1 — the same" in text


def test_definitions_name_the_values_used():
    ev = xr.concat([fake_eval(m) for m in (5, 9)], dim="model", join="outer")
    text = chapter.definitions_text(ev)
    assert f"within {chapter.RING} of the four walls" in text and "γ = 0.0025" in text
    assert "Band edges in |k|: low [0.0," in text
    assert "Band edges" not in chapter.definitions_text(ev.drop_vars(["k_lower", "k_upper"]))


def test_table_highlights_the_lowest_value():
    html = chapter.table(fake_df()).to_html()
    assert "nRMSE" in html and chapter.HIGHLIGHT.split(";")[0] in html
