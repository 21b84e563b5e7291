"""diffsurr.book.reproduce and the executed notebooks' titles (diffsurr.book.sphinx_ext)."""

import json

import pytest
import xarray as xr

from diffsurr import io
from diffsurr.book import sphinx_ext
from diffsurr.book import reproduce as chapter
from diffsurr.profiles import get_profile
from diffsurr.runid import data_path

from test_report import write_results

EXECUTED = ["baselines", "benchmark", "data", "evaluate_model_01", "evaluate_model_09_seed1",
            "generalise", "payoff", "train_model_01", "train_model_09_rollback-none",
            "train_model_09_seed1", "train_model_10"]


def notebook(heading="# Stage 2: train one run", profile="ci"):
    return json.dumps({"cells": [{"cell_type": "markdown", "source": [heading + "\n", "Text."]}],
                       "metadata": {"papermill": {"parameters": {"profile": profile}}}})


@pytest.fixture()
def executed(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    for stem in EXECUTED:
        (src / f"{stem}.ipynb").write_text(notebook())
    return src


def test_copies_sort_in_stage_order(executed, tmp_path):
    copies = chapter.copy_executed(executed, tmp_path / "book" / "executed")
    names = [p.name for p in sorted((tmp_path / "book" / "executed").iterdir())]
    assert names == [p.name for p in copies]
    assert [n.split("_")[1].removesuffix(".ipynb") for n in names] == [
        "data", "train", "train", "train", "train", "evaluate", "evaluate", "generalise",
        "benchmark", "payoff", "baselines"]
    assert names[1:5] == ["2_train_model_01.ipynb", "2_train_model_09_rollback-none.ipynb",
                          "2_train_model_09_seed1.ipynb", "2_train_model_10.ipynb"]
    assert json.loads(copies[0].read_text()) == json.loads(notebook())


def test_copies_drop_progress_bars_and_local_paths(tmp_path):
    """What the pages of the executed notebooks showed: tqdm's redraws on stderr, each cut off
    at the right, and the folders of the machine that ran them."""
    src = tmp_path / "notebooks"
    src.mkdir()
    streams = [("stdout", "run ci/model_09\n"),
               *[("stderr", f"\repochs: {i}/2 [00:0{i}<00:00]") for i in range(3)],
               ("stderr", "\n"),
               ("stdout", "ci/model_09: 2 epochs -> /home/u/diffsurr/results/ci/model_09\n"
                          "done\r\n")]
    nb = json.loads(notebook())
    nb["cells"].append({"cell_type": "code", "source": "train()", "outputs": [
        {"output_type": "stream", "name": name, "text": text} for name, text in streams]})
    (src / "train_model_09.ipynb").write_text(json.dumps(nb))
    copy, = chapter.copy_executed(src, tmp_path / "executed")
    outputs = json.loads(copy.read_text())["cells"][1]["outputs"]
    assert [(o["name"], o["text"]) for o in outputs] == [
        ("stdout", "run ci/model_09\n"),
        ("stdout", "ci/model_09: 2 epochs -> results/ci/model_09\ndone\n")]


def test_an_unknown_stage_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not an executed stage notebook"):
        chapter.ordered_name("plots_model_01.ipynb")


def test_executed_text_counts_per_stage(executed, tmp_path):
    text = chapter.executed_text(executed)
    assert "The 11 papermill outputs" in text
    assert ("data (1), training (4), evaluation (2), generalisation (1), benchmark (1), pay-off "
            "map (1), baselines' cost (1).") in text
    (tmp_path / "empty").mkdir()
    assert chapter.executed_text(tmp_path / "empty").startswith("No executed stage notebook")


def test_titles_name_stage_run_seed_and_profile():
    out = json.loads(sphinx_ext.retitle(notebook(), "2_train_model_09_seed1"))
    assert out["cells"][0]["source"] == "# Stage 2: train model 9, seed 1 (profile ci)\nText."
    assert sphinx_ext.title_for("2_train_model_09_rollback-none", "Stage 2: train one run",
                              "ci") == "Stage 2: train model 9 (no roll-back) (profile ci)"
    assert sphinx_ext.title_for("4_generalise", "Stage 3b: generalisation to other layouts",
                              "smoke") == "Stage 3b: generalise (profile smoke)"
    # no profile in the notebook: the run's name as it is
    assert sphinx_ext.title_for("3_evaluate_model_01", "Stage 3: evaluate one trained run") == \
        "Stage 3: evaluate model_01"


@pytest.fixture()
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    smoke = get_profile("smoke")[0]
    write_results(tmp_path, smoke, models=(5, 9))
    path = data_path(smoke)
    with xr.open_dataset(path) as ds:
        data = ds.load()
    data.attrs.update(wall_time_s=60.0, created="2026-01-01", host="h",
                      versions=json.dumps({"numpy": "2"}))
    io.write_netcdf(data, path)
    return smoke


def test_stage_times_and_provenance(results):
    times = chapter.stage_times(results)
    assert list(times["stage"]) == ["data", "train model 5", "evaluate model 5",
                                    "train model 9", "evaluate model 9"]
    assert times["wall time (s)"].iloc[0] == 60.0
    total = times["wall time (s)"].sum() / 60
    assert chapter.times_text(times).startswith(f"The stages took {total:.1f} minutes in all (5")
    assert "commit `0123456789abcdef` on host `h` with numpy 2." in \
        chapter.provenance_text(results)
    table = chapter.profiles_table()
    assert "smoke" in table.columns
    assert table.loc["extra_seeds", "reference"] == "1, 2"        # not Python's (1, 2)
    assert table.loc["milestones", "reference"] == "—"            # not ()
    derived = chapter.derived_table()
    assert "convergence" not in table.columns and "ci" in table.columns
    assert set(derived.columns) == {"pilot", "probe", "convergence", "datasize"}
    assert derived.loc["extra_seeds", "convergence"] == "1"       # not (1,)
    assert derived.loc["epochs", "datasize"] == "·"               # as in the reference
    assert "n_samples" not in derived.index                        # no profile changes it
    assert derived.loc["baselines", "pilot"] == "—"               # not an empty cell
    assert "font-size" in chapter.profiles_styler().to_html()
