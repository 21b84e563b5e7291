"""The generalisation chapter's layer (diffsurr.book.generalisation) on small synthetic
results: per-run files gathered honestly (missing, stale and mismatched runs named, not
shown), verdicts and sentences chosen from the numbers, and a page without logic."""

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from diffsurr import io
from diffsurr.book import generalisation as G
from diffsurr.stages.generalise import LAYOUTS
from diffsurr.profiles import PROFILES
from diffsurr.runid import RunId

ROOT = Path(__file__).resolve().parent.parent
SMOKE = PROFILES["smoke"]
PAPER = PROFILES["paper"]


def fake_gen(models=(5, 9, 12), nrmse=None, base_nrmse=0.1, n_examples=3, size=8):
    """A gathered-generalisation-like Dataset: every statistic of layout k is (1 + k/10) times
    the training layout's, except nRMSE, whose ratio per layout is ``nrmse`` (layout ->
    factor, default 1 + k/10); the training-layout nRMSE is ``base_nrmse`` (times 1, 1.1, ...
    per model)."""
    layouts = list(LAYOUTS)
    factor = 1 + np.arange(len(layouts)) / 10
    nfac = np.array([(nrmse or {}).get(name, f) for name, f in zip(layouts, factor)])
    base = 0.01 * (1 + np.arange(len(models)) / 10)[:, None]
    ds = xr.Dataset({name: (("model", "layout"), base * factor * scale)
                     for name, scale in (("mean_res", 1), ("p99_res", 5), ("max_res", 20),
                                         ("rms_pde_all", 0.1))},
                    coords={"model": list(models), "layout": layouts})
    ds["mean_nrmse"] = (("model", "layout"), base / 0.01 * base_nrmse * nfac)
    rng = np.random.default_rng(0)
    field = rng.uniform(0, 1, (len(layouts), n_examples, size, size))
    ds["example_input"] = (("layout", "example", "y", "x"), field)
    ds["example_target"] = (("layout", "example", "y", "x"), field)
    ds["example_pred"] = (("model", "layout", "example", "y", "x"),
                          np.stack([field * 0.9] * len(models)))
    ds.attrs = {"n_per_layout": 7, "layouts": dict(LAYOUTS), "layouts_sha256": "a" * 64}
    return ds


def fake_evals(models=(5, 9, 12), n_test=60):
    """The eval.nc variables the chapter reads: test mean residual per model (model 12 the
    lowest) and n_test."""
    res = np.array([0.02 - 0.001 * i for i in range(len(models))])
    return xr.Dataset({"mean_res": (("model", "set"), np.stack([res, 2 * res], axis=1)),
                       "n_test": ("model", np.full(len(models), float(n_test)))},
                      coords={"model": list(models), "set": ["test", "train"]})


# ---------------------------------------------------------------- loading per-run files
@pytest.fixture()
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    return tmp_path


def _write_run(model, gen_sha="1", eval_sha="1", layouts_sha="a" * 64, scale=1.0):
    """generalise.nc (from fake_gen) and an eval.nc holding only its model_sha256."""
    run = RunId.of(SMOKE, model)
    one = fake_gen(models=(model,))
    one["mean_res"] = one["mean_res"] * scale
    one.attrs = io.provenance(None, n_per_layout=7, layouts=dict(LAYOUTS),
                              layouts_sha256=layouts_sha, model_sha256=gen_sha * 64,
                              wall_time_s=1.5, **run.attrs())
    one["layout"] = np.array(list(LAYOUTS), dtype=object)
    io.write_netcdf(one, run.dir / "generalise.nc")
    if eval_sha is not None:
        xr.Dataset(attrs={"model_sha256": eval_sha * 64}).to_netcdf(run.dir / "eval.nc")
    return run


def test_load_gathers_the_runs_and_names_the_missing_ones(results):
    _write_run(9)
    _write_run(12, scale=2.0)
    gen, missing = G.load(SMOKE)
    assert G.models_of(gen) == [9, 12]
    assert [str(v) for v in gen["layout"].values] == list(LAYOUTS)
    assert gen["example_pred"].dims[:2] == ("model", "layout")
    assert gen["example_input"].dims == ("layout", "example", "y", "x")
    np.testing.assert_allclose(gen["mean_res"].sel(model=12), 2 * gen["mean_res"].sel(model=9))
    assert list(gen["wall_time_s"].values) == [1.5, 1.5]
    assert gen.attrs["n_per_layout"] == 7
    assert gen.attrs["paths"][1].endswith("smoke/model_12/generalise.nc")
    assert list(missing) == [f"model {m}" for m in range(1, 15) if m not in (9, 12)]
    assert all("no generalise.nc" in why for why in missing.values())
    assert G.source(SMOKE).endswith("smoke/model_NN/generalise.nc")


def test_stale_unchecked_and_mismatched_files_are_left_out_with_the_reason(results):
    _write_run(9)
    _write_run(5, gen_sha="1", eval_sha="2")            # retrained after generalising
    _write_run(6, eval_sha=None)                        # nothing to check it against
    _write_run(12, layouts_sha="b" * 64)                # other test sets than model 9's
    gen, missing = G.load(SMOKE, models=(5, 6, 9, 12))
    assert G.models_of(gen) == [9]
    assert "stale" in missing["model 5"] and "1111111" in missing["model 5"]
    assert "no eval.nc" in missing["model 6"]
    assert "other test sets than model 9's" in missing["model 12"]


def test_no_run_at_all_is_a_clear_error(results):
    _write_run(5, eval_sha="2")
    with pytest.raises(FileNotFoundError, match=r"no Table 2 run .*model 5: stale.*"
                                                r"model 9: no generalise.nc"):
        G.load(SMOKE, models=(5, 9))


# ---------------------------------------------------------------- numbers and verdicts
def test_layout_ratios():
    r = G.layout_ratios(fake_gen())
    assert set(r.data_vars) == set(G.STATS)
    np.testing.assert_allclose(r["mean_res"].sel(layout="training"), 1.0)
    np.testing.assert_allclose(r["mean_nrmse"].isel(layout=3), 1.3)


@pytest.mark.parametrize("ratio, expected", [
    (G.THRESHOLD * 1.01, "degrades"), (G.THRESHOLD, "about the same"), (1.0, "about the same"),
    (1 / G.THRESHOLD, "about the same"), (0.99 / G.THRESHOLD, "improves")])
def test_verdict_by_the_named_threshold(ratio, expected):
    assert G.verdict(ratio) == expected


def test_verdicts_read_the_median_over_the_models_with_nn2():
    gen = fake_gen(models=(6, 9, 12), nrmse={"3 sources": 2.0})
    assert G.pool(gen) == [9, 12]
    gen["mean_nrmse"].loc[{"model": 6, "layout": "1 source"}] = 100.0   # NN1-only: ignored
    v = G.verdicts(gen)
    assert v["3 sources"] == "degrades" and v["1 source"] == "about the same"
    assert "NN1-only model 6 left out" in G.pool_text(gen)
    assert G.best_model(gen, fake_evals((6, 9, 12))) == 12


def test_the_answer_follows_the_numbers():
    """The same page, other numbers: the verdicts and the sentences change with them."""
    fine = fake_gen(nrmse={name: 1.0 for name in LAYOUTS})
    worse = fake_gen(nrmse={**dict.fromkeys(LAYOUTS, 1.0), "3 sources": 1.8, "4 sources": 2.5,
                            "radius 8": 0.5})
    worse["mean_nrmse"].loc[{"model": 12, "layout": "4 sources"}] *= 1.2
    a, b = G.answer_md(fine, SMOKE), G.answer_md(worse, SMOKE)
    assert "No layout degrades the surrogates" in a
    assert "carry over to more sources at this scale" in a
    assert "No model does worse on any layout" in a
    assert "Layouts that degrade the surrogates: 3 sources, 4 sources." in b
    assert "Better: radius 8." in b
    assert "do not carry over to more sources without loss" in b
    assert "largest single degradation is model 12 on *4 sources*: nRMSE × 3" in b
    assert "scaled ones" in a and "scaled ones" not in G.answer_md(fine, PAPER)
    med = G.per_layout_md(worse)
    assert "- **4 sources**: nRMSE × 2.5 (median; range 2.5–3)" in med
    assert "**degrades**" in med and "**improves**" in med


def test_poor_surrogates_are_called_poor():
    poor = G.answer_md(fake_gen(nrmse={name: 1.0 for name in LAYOUTS}, base_nrmse=0.5), SMOKE)
    assert f"median nRMSE above {G.POOR_NRMSE:g}" in poor
    assert "nothing is lost on more sources — but see the next paragraph" in poor
    good = G.answer_md(fake_gen(base_nrmse=0.05), SMOKE)
    assert "poor" not in good


def test_a_missing_run_is_said_not_hidden():
    gen = fake_gen(models=(9, 12))
    missing = {"model 5": "no generalise.nc (run its generalise stage)"}
    cov = G.coverage_md(gen, missing)
    assert cov.startswith("**A partial study.** Only 2 of the 14 Table 2 runs")
    assert "- model 5: no generalise.nc" in cov and "models 9 and 12" in cov
    assert G.coverage_md(gen, {}, models=(9, 12)).startswith("All 2 Table 2 runs")
    f = G.findings(SMOKE, gen, missing, fake_evals((9, 12)))
    assert f.models == [9, 12] and f.best == 12 and f.k == 2
    assert "1 Table 2 run is missing" in f.answer
    assert "Model 12 is the model with NN2" in f.examples
    assert "7 configurations each" in f.layouts and "- **wall contact**: 2 sources" in f.layouts
    assert f"exceeds {G.THRESHOLD:g}" in f.criterion and "60 configurations" in f.criterion


def test_noise_factor_and_ratio_table():
    gen = fake_gen(models=(9, 12))
    evals = fake_evals((9, 12))
    evals["mean_res"].loc[{"set": "test"}] = gen["mean_res"].sel(layout="training").values / 2
    assert G.noise_factor(gen, evals) == pytest.approx(2.0)
    table = G.ratio_table(gen, "mean_nrmse", "nRMSE").data
    assert list(table.index) == [9, 12] and table.shape == (2, len(LAYOUTS))
    assert table.columns[1] == ("nRMSE", "× 1 source")


# ---------------------------------------------------------------- the page
def _code_cells(path):
    return re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", path.read_text(), re.S)


NO_LOGIC = (ast.FunctionDef, ast.Lambda, ast.If, ast.IfExp, ast.For, ast.While,
            ast.comprehension)


def test_the_page_only_prints_computed_text():
    """No definitions, conditions or loops in the page, no cell over 12 lines: its logic is
    in diffsurr.book.generalisation, where it is tested."""
    cells = _code_cells(ROOT / "book" / "generalisation.md")
    assert cells
    for cell in cells:
        code = "\n".join(ln for ln in cell.splitlines() if not ln.startswith(":"))
        assert len([ln for ln in code.splitlines() if ln.strip()]) <= 12, cell
        found = [type(node).__name__ for node in ast.walk(ast.parse(code))
                 if isinstance(node, NO_LOGIC)]
        assert not found, (found, cell)
