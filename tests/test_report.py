"""Tests of diffsurr.book.report: the book's profile, result loading, Table 2 and captions.

The results are small synthetic ``eval.nc``/``history.nc`` files written by the builders
below (also used by tests/test_plots.py), in the layout of diffsurr.stages and with the
variables diffsurr.stages.evaluate writes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from diffsurr import io, metrics
from diffsurr.book import report
from diffsurr import results as result_files
from diffsurr import statistics
from diffsurr.stages import evaluate
from diffsurr.profiles import get_profile
from diffsurr.registry import MODELS, spec, table2_frame
from diffsurr.runid import RunId, results_dir

N, N_TEST, N_TRAIN, N_FIG = 16, 6, 5, 4


def fake_fields(rng, n, noise):
    """Inputs with a few source pixels, smooth targets in [0, 1], noisy predictions."""
    x = np.zeros((n, N, N))
    for k in range(n):
        i, j = rng.integers(2, N - 2, 2)
        x[k, i - 1:i + 2, j - 1:j + 2] = rng.uniform(0.2, 1.0)
    yy, xx = np.mgrid[:N, :N]
    y = np.stack([np.exp(-((yy - np.argmax(xi.max(1))) ** 2 + (xx - np.argmax(xi.max(0))) ** 2)
                         / 20) for xi in x])
    y = np.clip(y, 0, 1)
    yhat = np.clip(y + noise * rng.standard_normal(y.shape), -0.05, 1.05)
    return x, y, yhat


def fake_eval(model: int, seed: int = 0) -> xr.Dataset:
    """An eval.nc-like Dataset for ``model``, assembled as diffsurr.stages.evaluate does."""
    rng = np.random.default_rng(seed + model)
    noise = 0.01 * model
    x, y, yhat = fake_fields(rng, N_TEST, noise)
    xt, yt, yhat_t = fake_fields(rng, N_TRAIN, noise / 2)
    sets = xr.concat([evaluate._per_set("test", x, y, yhat),
                      evaluate._per_set("train", xt, yt, yhat_t)], dim="set")
    s = spec(model)
    nan = np.full((N_FIG, N, N), np.nan)
    fig = xr.Dataset({"fig_input": (("fig_sample", "y", "x"), x[:N_FIG]),
                      "fig_target": (("fig_sample", "y", "x"), y[:N_FIG]),
                      "fig_pred": (("fig_sample", "y", "x"), yhat[:N_FIG]),
                      "fig_nn1": (("fig_sample", "y", "x"), yhat[:N_FIG] if s.p1 else nan),
                      "fig_nn2": (("fig_sample", "y", "x"), yhat[:N_FIG] if s.p2 else nan)})
    spdf = metrics.slice_pdfs(y, yhat, width=0.05).rename(
        {"slice": "slice20", "lower": "lower20", "upper": "upper20", "count": "count20",
         "mean_xprime": "mean_xprime20", "std_xprime": "std_xprime20"})
    ds = xr.merge([sets, fig, spdf, metrics.field_pdfs(y, yhat),
                   metrics.hist2d(y, yhat).rename("hist2d_test"),
                   metrics.hist2d(yt, yhat_t).rename("hist2d_train")],
                  compat="override", combine_attrs="drop")
    ds.attrs = {"model": model, "n_test": N_TEST, "n_train_evaluated": N_TRAIN,
                "predict_s_per_sample": 1e-3, "wall_time_s": 0.5, "profile_name": "smoke"}
    return ds


def fake_history(model: int, steps: int = 8, jumps=(4,), rollback: bool = True) -> xr.Dataset:
    """A history.nc-like Dataset: decreasing loss, the steps in ``jumps`` rejected."""
    rng = np.random.default_rng(model)
    epoch, loss, accepted, kept, back = [], [], [], [], []
    n = 0
    for step in range(steps):
        jump = rollback and step in jumps
        epoch.append(n + 1)
        loss.append((10.0 if jump else 1.0) * 0.5 / (n + 1) * (1 + 0.05 * rng.random()))
        accepted.append(0 if jump else 1)
        kept.append(0 if jump else 1)
        back.append(max(n - 1, 0) if jump else -1)
        if jump:
            n = max(n - 1, 0)
            kept = [k if e <= n else 0 for k, e in zip(kept, epoch)]
        else:
            n += 1
    alive2 = np.linspace(0.4, 0.9, steps) if spec(model).p2 else np.full(steps, np.nan)
    alive1 = np.linspace(0.9, 1.0, steps) if spec(model).p1 else np.full(steps, np.nan)
    ds = xr.Dataset(
        {"train_loss": ("step", loss), "val_loss": ("step", np.array(loss) * 1.1),
         "accepted": ("step", np.array(accepted, np.int8)),
         "kept": ("step", np.array(kept, np.int8)), "rolled_back_to": ("step", back),
         "wall_time_s": ("step", np.arange(1.0, steps + 1)),
         "alive_nn1": ("step", alive1), "alive_nn2": ("step", alive2)},
        coords={"step": np.arange(steps), "epoch": ("step", epoch)},
        attrs={"n_rollbacks": int(sum(1 - a for a in accepted)), "best_epoch": n,
               "best_val_loss": float(min(loss)) * 1.1, "wall_time_s": float(steps)})
    return ds


def netcdf_attrs(attrs: dict) -> dict:
    """``attrs`` with booleans as 0/1 (netCDF attributes cannot be booleans)."""
    return {k: int(v) if isinstance(v, bool) else v for k, v in attrs.items()}


def write_results(root, profile, models=MODELS, steps=None):
    """Write fake eval.nc and history.nc of ``models`` (and model 9 without roll-back)."""
    base = results_dir(profile)
    base.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x, y, _ = fake_fields(rng, 10, 0.0)
    data = xr.Dataset({"input": (("sample", "y", "x"), x.astype(np.float32)),
                       "target": (("sample", "y", "x"), y.astype(np.float32)),
                       "split": ("sample", np.array(["train"] * 6 + ["val"] + ["test"] * 3))},
                      attrs={"n": 10, "git_commit": "0123456789abcdef",
                             **netcdf_attrs(profile.as_attrs()), "profile_n_samples": 10})
    io.write_netcdf(data, base / "data.nc")
    for m in models:
        d = RunId.of(profile, m).dir
        d.mkdir(parents=True, exist_ok=True)
        io.write_netcdf(fake_eval(m), d / "eval.nc")
        io.write_netcdf(fake_history(m, steps=steps or (6 + m % 3)), d / "history.nc")
    d = RunId.of(profile.replace(rollback="none"), 9).dir
    d.mkdir(parents=True, exist_ok=True)
    io.write_netcdf(fake_history(9, rollback=False), d / "history.nc")
    return base


@pytest.fixture(scope="module")
def evals(results, smoke):
    return result_files.load_evals(smoke)


# ---------------------------------------------------------------- profile and banner
def test_book_profile_env_and_default(monkeypatch):
    monkeypatch.setenv("DIFFSURR_PROFILE", "smoke")
    profile, why = report.book_profile()
    assert profile.name == "smoke" and why == "asked for by name when the book was built"
    monkeypatch.delenv("DIFFSURR_PROFILE")
    assert report.book_profile() == get_profile("auto")
    monkeypatch.setenv("DIFFSURR_PROFILE", "nonsense")
    with pytest.raises(ValueError, match="unknown profile"):
        report.book_profile()


def test_banner_names_profile_and_scale(results):
    smoke, paper = get_profile("smoke")[0], get_profile("paper")[0]
    text = report.banner(smoke, "because")
    assert "`smoke`" in text and smoke.description in text and "because" in text
    assert "10 configurations (6 train, 1 validation, 3 test)" in text and "0123456789ab" in text
    assert "n_samples = 10 in `data.nc` (profile: 300)" in text and "epochs = " not in text
    assert "not the preprint's scale" in text
    paper_text = report.banner(paper)
    assert "`paper`" in paper_text and "not the preprint's scale" not in paper_text


# ---------------------------------------------------------------- loading
def test_load_evals_has_model_dim_and_table2_columns(evals):
    assert list(evals["model"].values) == list(MODELS)
    assert evals["mean_res"].dims == ("model", "set")
    assert set(evals["set"].values) == {"test", "train"}
    # Supplement bins differ per model and slice: centres are a (model, slice20, xbin) variable
    # (files with shared bins per model: (model, xbin); tests/test_book_supplement.py).
    assert evals["xprime"].dims == ("model", "slice20", "xbin")
    assert not np.allclose(evals["xprime"].sel(model=1), evals["xprime"].sel(model=14))
    assert evals["pdf"].dims == ("model", "slice20", "xbin")
    np.testing.assert_array_equal(evals["n_test"], N_TEST)
    assert list(evals["loss"].values) == [spec(m).loss for m in MODELS]
    # The loaded values are the files' values.
    one = fake_eval(5)
    np.testing.assert_allclose(evals["mean_res"].sel(model=5), one["mean_res"])
    np.testing.assert_allclose(evals["pdf"].sel(model=5), one["pdf"].values)


def test_load_evals_missing_raises(results, smoke):
    with pytest.raises(FileNotFoundError, match="model_03_head-table1"):
        result_files.load_evals(smoke, [3], head="table1")


def test_load_histories_pads_and_keeps_counts(results, smoke):
    hist = result_files.load_histories(smoke)
    lengths = [6 + m % 3 for m in MODELS]
    assert hist.sizes["step"] == max(lengths)
    assert int(hist["train_loss"].sel(model=1).notnull().sum()) == lengths[0]
    np.testing.assert_array_equal(hist["n_rollbacks"], 1)
    last = statistics.last_valid(hist["epoch"])
    assert last.dims == ("model",) and np.isfinite(last).all()


def test_run_dir_variant_and_history(results, smoke):
    assert result_files.run_dir(smoke, 9, rollback="none").name == "model_09_rollback-none"
    h = result_files.load_history(smoke, 9, rollback="none")
    assert (h["accepted"] == 1).all() and h.attrs["path"].endswith("history.nc")


# ---------------------------------------------------------------- Table 2
def test_table2_comparison_rows_and_preprint_values(evals):
    df = report.table2_comparison(evals)
    assert len(df) == 14 and list(df.index) == list(MODELS)
    t2 = table2_frame()
    for ours, paper, unit, label in report.RESIDUALS:
        assert {"ours", "preprint", "ours / preprint"} <= set(df[label].columns)
        np.testing.assert_allclose(df[(label, "preprint")], t2[paper].values / unit)
        np.testing.assert_allclose(df[(label, "ours")],
                                   evals[ours].sel(set="test").values / unit)
        np.testing.assert_allclose(df[(label, "ours / preprint")],
                                   df[(label, "ours")] / df[(label, "preprint")])
    assert df[("Table 2", "D1")].isna().sum() == 5          # models 4, 5, 12, 13, 14
    assert list(df[("Table 2", "loss")]) == [spec(m).loss for m in MODELS]
    compact = report.table2_compact(df)
    assert len(compact) == 14 and compact[("Table 2", "networks")].loc[6] == "NN1"
    np.testing.assert_allclose(compact[(report.RESIDUALS[0][3], "ratio")],
                               df[(report.RESIDUALS[0][3], "ours / preprint")])
    assert compact[("Table 2", "D₁ D₂ D₃ D₄")].loc[12] == "— — 0.1 0.1"
    html = report.style_table2(df).to_html()
    assert "ratio" in html and "NN1+NN2" in html


def test_table2_numbers_keep_their_trailing_zeros():
    """Every number of a Table 2 column with 3 significant digits (ratios 2), zeros kept."""
    assert [report.sig(x) for x in (0.5, 12, 1.2e-5, 0.00212, 123)] == [
        "0.500", "12.0", "1.20e-05", "0.00212", "123"]
    assert report.sig(1.0, 2) == "1.0"


# ---------------------------------------------------------------- derived numbers
def test_pooled_dispersion_is_rms_of_residual():
    rng = np.random.default_rng(3)
    x, y, yhat = fake_fields(rng, 5, 0.05)
    stats = metrics.slice_stats(y, yhat, width=0.1).expand_dims(model=[1])
    rms = statistics.pooled_dispersion(stats)
    np.testing.assert_allclose(float(rms.sel(model=1)), np.sqrt(((yhat - y) ** 2).mean()),
                               rtol=1e-10)


def test_pdf_overlap_and_low_mass(evals):
    same = evals[["pdf_true", "value"]].assign(pdf_pred=evals["pdf_true"])
    np.testing.assert_allclose(statistics.pdf_overlap(same), 1.0, rtol=1e-9)
    ov = statistics.pdf_overlap(evals)
    assert ((ov > 0) & (ov <= 1 + 1e-9)).all()
    low = statistics.low_value_mass(evals)
    assert set(low.data_vars) == {"true_low", "pred_low", "true_zero", "pred_zero"}
    assert ((low["true_low"] + low["true_zero"]) <= 1 + 1e-9).all()


# ---------------------------------------------------------------- captions
def test_caption_names_figure_profile_and_data(smoke):
    text = report.caption("6d", "Residuals per model", smoke, "results/smoke/model_NN/eval.nc",
                          text="Log scale.", preprint="Fig. 6d")
    assert text.startswith("**Figure 6d** (reproduces preprint Fig. 6d).")
    assert "`smoke`" in text and "results/smoke/model_NN/eval.nc" in text
    assert "not the preprint's scale" in text and "Log scale." in text
    paper = get_profile("paper")[0]
    plain = report.caption("1.4", "A check", paper, None)
    assert "(not in the preprint)" in plain and "scale" not in plain
    assert "computed when this page was built" in plain
    assert report.caption("2", "T", None, ["a", "b"], kind="Table").startswith("**Table 2**")


def test_fmt():
    assert report.fmt(2.345e-5) == "2.35·10⁻⁵"
    assert report.fmt(0.0123) == "0.0123"
    assert report.fmt(float("nan")) == "n/a"


# ---------------------------------------------------------------- seeds, generalisation, metrics
SEEDED = (5, 6, 12)


def write_seed_results(profile, models=SEEDED, seeds=(1, 2)):
    """Fake results of ``models`` (seed 0 in model_NN) plus model_NN_seedS for the first two
    of them (so the third has one seed)."""
    base = write_results(None, profile, models=models)
    for m in models[:2]:
        for s in seeds:
            d = RunId.of(profile, m, s).dir
            d.mkdir(parents=True, exist_ok=True)
            io.write_netcdf(fake_eval(m, seed=100 * s), d / "eval.nc")
    return base


@pytest.fixture()
def seeded(tmp_path, monkeypatch, smoke):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    write_seed_results(smoke)
    return result_files.load_seed_evals(smoke, SEEDED)


def test_seed_runs_and_load_seed_evals(seeded, smoke):
    assert result_files.seed_runs(smoke, SEEDED) == {5: [0, 1, 2], 6: [0, 1, 2], 12: [0]}
    assert list(seeded["seed"].values) == [0, 1, 2]
    assert list(seeded["n_seeds"].values) == [3, 3, 1]
    # model 12 has seed 0 only: the other seeds are NaN
    assert np.isnan(seeded["mean_res"].sel(model=12, seed=[1, 2])).all()
    # the values are those of the files, seed by seed
    for s, eval_seed in ((0, 0), (1, 100), (2, 200)):
        expect = float(fake_eval(5, seed=eval_seed)["mean_res"].sel(set="test"))
        assert float(seeded["mean_res"].sel(model=5, seed=s, set="test")) == pytest.approx(expect)
    assert float(seeded["n_test"].sel(model=5, seed=1)) == N_TEST
    assert len(seeded.attrs["paths"]) == 7


def test_load_seed_evals_requires_the_profiles_seeds(seeded, smoke):
    wants = smoke.replace(extra_seeds=(1, 2, 3), seed_models=(5,))
    with pytest.raises(FileNotFoundError, match="model_05_seed3"):
        result_files.load_seed_evals(wants, SEEDED)


def fake_generalisation(models=(5, 9, 12), n_examples=3):
    """A generalisation.nc-like Dataset: layout k has residuals (1 + k/10) times the
    training layout's."""
    from diffsurr.stages.generalise import LAYOUTS
    rng = np.random.default_rng(1)
    layouts = list(LAYOUTS)
    factor = 1 + np.arange(len(layouts)) / 10
    base = rng.uniform(0.01, 0.02, (len(models), 1))
    ds = xr.Dataset(
        {name: (("model", "layout"), base * factor * scale)
         for name, scale in (("mean_res", 1), ("p99_res", 5), ("max_res", 20),
                             ("mean_nrmse", 10), ("rms_pde_all", 0.1))},
        coords={"model": list(models), "layout": layouts})
    x, y, yhat = fake_fields(rng, n_examples, 0.02)
    ds["example_input"] = (("layout", "example", "y", "x"), np.stack([x] * len(layouts)))
    ds["example_target"] = (("layout", "example", "y", "x"), np.stack([y] * len(layouts)))
    ds["example_pred"] = (("model", "layout", "example", "y", "x"),
                          np.stack([np.stack([yhat] * len(layouts))] * len(models)))
    ds.attrs = {"n_per_layout": 7}
    return ds


def test_metrics_frame_and_rank_agreement(evals):
    df = report.metrics_frame(evals)
    assert list(df.columns) == [k for k, _ in report.METRIC_COLUMNS] and len(df) == 14
    test = evals.sel(set="test")
    np.testing.assert_allclose(df["frmse_mid"], test["frmse"].sel(band=2).values)
    np.testing.assert_allclose(df["rms_pde_all"], test["rms_pde_all"].values)
    # the bands' squares add up to the mean squared error (Parseval)
    np.testing.assert_allclose((df[["frmse_low", "frmse_mid", "frmse_high"]] ** 2).sum(axis=1),
                               statistics.pooled_dispersion(evals).sel(set="test").values ** 2,
                               rtol=1e-6)
    toy = pd.DataFrame({"mean_res": [1, 2, 3, 4], "same": [10, 20, 30, 40],
                        "reverse": [4, 3, 2, 1]})
    rho = statistics.rank_agreement(toy)
    assert rho["same"] == pytest.approx(1.0) and rho["reverse"] == pytest.approx(-1.0)
    assert "mean_res" not in rho.index


def test_a_study_under_way_loads_what_is_in_and_says_what_is_not(tmp_path, monkeypatch, smoke):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    write_seed_results(smoke)                      # models 5, 6, 12; seeds 1, 2 of 5 and 6
    ev = result_files.load_study_evals(smoke)
    assert list(ev["model"].values) == [5, 6, 12]
    assert ev.attrs["missing"] == [m for m in MODELS if m not in (5, 6, 12)]
    wants = smoke.replace(extra_seeds=(1, 2, 3), seed_models=(5, 9))
    with pytest.raises(FileNotFoundError, match="model_05_seed3"):
        result_files.load_seed_evals(wants, SEEDED)
    part = result_files.load_seed_evals(wants, (5, 9, 12), partial=True)
    assert part["n_seeds"].sel(model=5) == 3 and list(part["model"].values) == [5, 12]
    assert any("model_05_seed3" in p for p in part.attrs["missing"])
    assert any("model_09/" in p for p in part.attrs["missing"])
    done, missing = result_files.study_progress(smoke)
    assert done == ["model_05", "model_06", "model_12"] and "model_01" in missing
    banner = report.banner(smoke)
    assert f"**This study is still under way**: 3 of {len(done) + len(missing)} runs" in banner
    assert "(not yet: model 1, model 2," in banner and "model_01" not in banner


def test_the_nn1_variant_loads_what_is_evaluated(tmp_path, monkeypatch, smoke):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    wants = smoke.replace(nn1_variant_models=(6, 9))
    assert (result_files.load_nn1_variant(smoke) is None
            and result_files.load_nn1_variant(wants) is None)
    d = result_files.run_dir(wants, 9, nn1_head="d2-first")
    d.mkdir(parents=True)
    io.write_netcdf(fake_eval(9), d / "eval.nc")
    assert list(result_files.load_nn1_variant(wants)["model"].values) == [9]
