"""The baselines chapter: what it loads from a (tiny, real) study, its table, and the verdict
chosen from the numbers with the seeds page's criterion."""

import pandas as pd
import pytest

from diffsurr.baselines import UNet
from diffsurr.book import baselines as chapter
from diffsurr.nets import count_parameters
from diffsurr.profiles import get_profile
from diffsurr.stages import data as stage_data
from diffsurr.stages.baselines import baselines_stage
from diffsurr.stages.evaluate import evaluate_stage
from diffsurr.stages.generalise import generalise_stage
from diffsurr.stages.train import train_stage
from diffsurr.study import baseline_runs, compared_runs


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Models 9 and 12 and a U-Net with two seeds, tiny, trained, evaluated and generalised."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIFFSURR_RESULTS", str(tmp_path_factory.mktemp("results")))
        p = get_profile("smoke")[0].replace(n_samples=60, epochs=1, baselines="unet",
                                            extra_seeds=(1,))
        stage_data.data_stage(p)
        for run in compared_runs(p) + baseline_runs(p)[1:]:
            train_stage(run, progress=False)
            evaluate_stage(run)
        for run in compared_runs(p):
            generalise_stage(run, n=4)
        baselines_stage(p, steps=1, min_s=0.01)
        yield p


def test_loads_every_compared_run_with_its_seeds_cost_and_layouts(study):
    comp = chapter.load(study)
    assert comp.missing == [] and chapter.missing_text(comp).startswith("All 4 compared runs")
    assert list(comp.runs["network"]) == ["model 9 (NN1 + NN2)", "model 12 (NN2)", "U-Net",
                                          "U-Net"]
    assert list(comp.runs["seed"]) == [0, 0, 0, 1] and comp.runs["baseline"].sum() == 2
    assert comp.runs["parameters"].iloc[2] == count_parameters(UNet())
    assert list(comp.layouts.index) == ["model 9 (NN1 + NN2)", "model 12 (NN2)", "U-Net"]
    assert "training" in comp.layouts.columns and comp.cost is not None
    assert len(comp.gen_paths) == 3 and all(p.endswith("generalise.nc") for p in comp.gen_paths)
    cost, acc = chapter.cost_table(comp), chapter.accuracy_table(comp)
    assert list(cost.index) == list(acc.index) == ["model 9 (NN1 + NN2)", "model 12 (NN2)", "U-Net"]
    assert cost.loc["model 12 (NN2)", "step ÷ model 12"] == 1.0
    assert cost.loc["model 12 (NN2)", "forward ÷ model 12"] == 1.0
    assert cost.loc["U-Net", "parameters"] == count_parameters(UNet())
    assert acc.loc["U-Net", "seeds"] == 2 and acc.loc["model 9 (NN1 + NN2)", "seeds"] == 1
    assert "±" in acc.loc["U-Net", "⟨res⟩ (10⁻³)"]
    assert "±" not in acc.loc["model 9 (NN1 + NN2)", "⟨res⟩ (10⁻³)"]
    u = comp.runs[comp.runs["network"] == "U-Net"]["mean_res"]
    assert acc.loc["U-Net", "⟨res⟩ (10⁻³)"].startswith(f"{u.mean() / 1e-3:.3g} ± ")
    assert "measured side by side in one run" in chapter.cost_note(comp)
    threads = int(comp.cost.attrs["torch_threads"])
    assert f"({threads} thread{'s' if threads > 1 else ''}, as" in chapter.cost_note(comp)


def test_a_study_under_way_names_what_is_missing(study):
    run = baseline_runs(study)[1]
    (run.dir / "eval.nc").rename(run.dir / "eval.nc.away")
    try:
        comp = chapter.load(study)
    finally:
        (run.dir / "eval.nc.away").rename(run.dir / "eval.nc")
    assert comp.missing == [run.label] and run.label in chapter.missing_text(comp)
    assert len(comp.runs) == 3


def _comp(study, values: dict[str, list[float]]) -> chapter.Comparison:
    rows = [{"network": n, "baseline": n in ("U-Net", "FNO"), "mean_res": v,
             "parameters": 10, "train_min": 1.0} for n, vs in values.items() for v in vs]
    return chapter.Comparison(study, pd.DataFrame(rows), None, pd.DataFrame(), [], [], [])


@pytest.mark.parametrize("values, key, words", [
    ({"model 12 (NN2)": [5e-3, 5.2e-3, 4.8e-3], "U-Net": [2e-3, 2.1e-3, 1.9e-3]},
     "is not competitive", "lower than"),
    ({"model 12 (NN2)": [2e-3, 2.1e-3, 1.9e-3], "U-Net": [5e-3, 5.2e-3, 4.8e-3]},
     "is competitive", "higher than"),
    ({"model 12 (NN2)": [5e-3, 6e-3, 4e-3], "U-Net": [5.5e-3]}, "not resolved", "within"),
    ({"model 12 (NN2)": [5e-3], "U-Net": [1e-3]}, "not resolved", "no network has several"),
    ({"model 12 (NN2)": [5e-3, 5.1e-3]}, "not resolved", "no baseline"),
])
def test_the_verdict_follows_the_numbers_and_the_seed_spread(study, values, key, words):
    got, sentence = chapter.verdict(_comp(study, values))
    assert got == key and words in sentence
    if key != "not resolved":
        assert f"architecture {key} at equal budget" in sentence
    elif "within" in words:
        assert "is not resolved" in sentence


def test_a_one_seed_network_gets_the_median_relative_spread(study):
    """The U-Net's one seed borrows model 12's relative spread: narrow, the 2e-3 gap counts;
    wide (40 %), it does not."""
    narrow = _comp(study, {"model 12 (NN2)": [4.95e-3, 5e-3, 5.05e-3], "U-Net": [3e-3]})
    wide = _comp(study, {"model 12 (NN2)": [3e-3, 5e-3, 7e-3], "U-Net": [3e-3]})
    assert chapter.verdict(narrow)[0] == "is not competitive"
    assert chapter.verdict(wide)[0] == "not resolved"


def test_the_verdict_also_compares_the_loss_matched_model_12(study):
    comp = _comp(study, {"model 9 (NN1 + NN2)": [2e-3, 2.1e-3, 1.9e-3],
                         "model 12 (NN2)": [5e-3, 5.1e-3, 4.9e-3], "FNO": [4e-3, 4.1e-3, 3.9e-3]})
    key, sentence = chapter.verdict(comp)
    assert key == "is competitive" and "Against model 12 (NN2), which shares" in sentence
    assert "FNO is lower than it" in sentence
