"""diffsurr.book.differences: the table of differences as data, and the measured effects'
sentences, each flipped by numbers that make it false."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from diffsurr import data, io
from diffsurr.book import differences as chapter
from diffsurr.profiles import PROFILES, VALUE_NAMES
from diffsurr.runid import RunId

from test_report import fake_eval, fake_history

SMOKE = PROFILES["smoke"]


def test_every_option_names_profile_values_that_exist():
    named = [chapter.option_overrides(row.option) for row in chapter.DIFFERENCES]
    assert {"mode", "placement", "rollback", "head", "lr"} <= set().union(*named)
    for row, overrides in zip(chapter.DIFFERENCES, named):
        assert set(overrides) <= set(VALUE_NAMES), row.item
        PROFILES["paper"].replace(**overrides)  # each value valid for its name
        assert overrides or row.option == "—" or "=" not in row.option, row.item


def test_option_parser_finds_every_name():
    assert chapter.option_overrides("rollback='code', s=5") == {"rollback": "code", "s": "5"}
    assert chapter.option_overrides("—") == {}
    assert chapter.option_overrides("amp=True (bf16 autocast)") == {"amp": "True"}


def test_the_table_is_complete_and_plain_text():
    table = chapter.table(PROFILES["reference"])
    assert len(table) == len(chapter.DIFFERENCES) and table.notna().all().all()
    assert (table.map(len) > 0).all().all() and not table.map(lambda s: "`" in s).any().any()
    assert len(set(table["item"])) == len(table)
    assert chapter.probe_table().shape == (len(chapter.PROBE), 2)


def test_the_facts_docstrings_cite_are_on_the_page():
    text = " ".join(" ".join(row) for row in chapter.DIFFERENCES)
    text += " ".join(" ".join(row) for row in chapter.PROBE)
    for fact in ("slope 0.01", "element-wise dropout", "momentum 0.1, eps 1e-5", "Glorot-uniform",
                 "25 → 26 → 13", "ROCK2", "t = 3000", "5..95", "from epoch 22", "every 5 epochs",
                 "on the test set", "prediction", "default initialisation", "lr 1e-4",
                 "without BatchNorm(1)"):
        assert fact in text, fact


def test_source_sentence_follows_the_difference():
    e = {"n": 10, "mean_diff": 0.02, "max_diff": 0.5, "mean_clamped": 0.1, "source_diff": 0.1}
    assert "different learning problems" in chapter.source_text(e)
    small = chapter.source_text({**e, "mean_diff": chapter.BEST_MEAN_RES / 2})
    assert "same learning problem" in small and "different" not in small
    measured = chapter.source_effect(n=3, seed=1)
    assert measured["mean_diff"] > 0 and measured["n"] == 3


def test_placement_overlap_and_clipping_are_exact():
    e = chapter.placement_effect(n=300, seed=3)
    _, centres, _ = data.draw_inputs(300, seed=3, placement="code")
    disks = [[{(int(y), int(x)) for y, x in c + data.disk_offsets(5)
               if 0 <= y < 100 and 0 <= x < 100} for c in cs] for cs in centres]
    assert e["overlap"] == pytest.approx(np.mean([bool(a & b) for a, b in disks]))
    assert e["clipped"] == pytest.approx(np.mean([min(len(a), len(b)) < 81 for a, b in disks]))
    assert 0 < e["overlap"] < 0.2 and 0 < e["clipped"] < 0.2


def test_placement_sentence_says_none_when_none():
    e = {"n": 2000, "overlap": 0.03, "clipped": 0.05}
    assert "3.0% have disks that share a pixel" in chapter.placement_text(e)
    text = chapter.placement_text({**e, "overlap": 0.0, "clipped": 0.0})
    assert "none has disks that share a pixel" in text and "none has a disk cut" in text


def test_timestep_sentence_follows_the_difference():
    assert "are steady to better" in chapter.timestep_text({"n": 1, "t_max": 3000.0,
                                                             "max_diff": 1e-7})
    short = chapter.timestep_effect(t_max=5.0)
    assert short["max_diff"] > chapter.BEST_MEAN_RES
    assert "not steady" in chapter.timestep_text(short)


def curve(n, jump_at):
    loss = 1.0 / np.arange(1, n + 1)
    loss[jump_at] *= 10
    return xr.Dataset({"train_loss": ("step", loss)})


def test_rules_replayed_over_a_run_without_rollback():
    long, short = curve(30, 25), curve(10, 8)
    assert chapter.rules_flagged(long, SMOKE.replace(m=5)) == {"preprint": [26], "code": [26]}
    text = chapter.rules_text(long, SMOKE.replace(m=5))
    assert "flag the same epochs" in text and "cannot" not in text
    text = chapter.rules_text(short, SMOKE.replace(m=5))
    assert "rule (C = 5, m = 5) flags epochs: 9; the code's rule flags: none" in text
    assert "flag different epochs" in text and "so over 10 it cannot" in text
    assert "Neither rule flags" in chapter.rules_text(curve(10, 0), SMOKE.replace(m=5))
    none = chapter.rules_text(None, SMOKE)
    assert "not replayed" in none and "no model 9 trained without roll-back" in none
    assert "flags epochs" not in none
    unfired = chapter.rules_text(long, SMOKE.replace(m=5), "unfired")
    assert "never fired" in unfired and "*without* roll-back" not in unfired
    assert "same replay marks" not in unfired and "same replay marks" in text
    assert "preprint's rule waits" in chapter.rules_text(short, SMOKE.replace(m=20))


def heads(alive, ratio):
    return pd.DataFrame({"test mean residual": [ratio * 1e-2, 1e-2],
                         "final alive fraction": [alive, 0.9]}, index=["table1", "relu"])


def test_head_sentence_follows_alive_fraction_and_ratio():
    text = chapter.head_text(heads(0.0, 4.3), PROFILES["ci"])
    assert "ended dead (0.0 %" in text and "4.3 times" in text and "does worse" in text
    text = chapter.head_text(heads(0.5, 0.8), PROFILES["ci"])
    assert "stayed alive (50.0 %" in text and "does better" in text
    one = heads(0.5, 1).iloc[:1]
    assert "cannot be compared" in chapter.head_text(one, PROFILES["ci"].replace(head_variant=True))
    ref = chapter.head_text(one, PROFILES["reference"])           # head_variant off
    assert "does not train model 12 with the other head" in ref and "both" not in ref


def test_the_table_says_what_the_profiles_runs_do():
    ref = chapter.table(PROFILES["reference"]).set_index("item")["this study (reference)"]
    assert ref["Sources"].startswith("a production term") and "main runs" in ref["Sources"]
    assert "models 5, 9 and 12 also with clamped sources and preprint placement" in ref["Sources"]
    assert ref["Placement"].startswith("the authors' code's") and ref["Epochs"] == "8"
    ci = chapter.table(PROFILES["ci"]).set_index("item")["this study (ci)"]
    assert ci["Sources"] == "clamped (the preprint's text) for every run"
    assert "second reading" not in ci["Placement"]
    assert "without BatchNorm(1)" in ci["NN2 output head"]
    assert chapter.second_readings(PROFILES["ci"]) == {}
    assert chapter.second_readings(PROFILES["reference"]) == {("clamped", "preprint"): [5, 9, 12]}
    text = chapter.learns_text(PROFILES["reference"])
    assert "learn the production problem" in text and "Models 5, 9 and 12 are also" in text
    assert chapter.learns_text(PROFILES["ci"]) == "The `ci` runs learn the clamped problem."


def _history_run(run, n_rollbacks):
    run.dir.mkdir(parents=True)
    h = fake_history(run.model)
    h.attrs["n_rollbacks"] = n_rollbacks
    io.write_netcdf(h, run.dir / "history.nc")


def test_the_rollback_curve_is_what_the_results_hold(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    assert chapter.rollback_history(SMOKE)[0] is None
    assert "neither" in chapter.rollback_history(SMOKE)[1]
    _history_run(RunId.of(SMOKE, 9), 2)
    h, why = chapter.rollback_history(SMOKE)
    assert h is None and "rolled back 2 times" in why
    assert why in chapter.rules_text(h, SMOKE, why)
    _history_run(RunId.of(SMOKE.replace(rollback="none"), 9), 0)
    assert chapter.rollback_history(SMOKE)[1] == "without"


def test_an_unfired_run_is_the_curve_without_rollback(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    _history_run(RunId.of(SMOKE, 9), 0)
    h, kind = chapter.rollback_history(SMOKE)
    assert kind == "unfired" and h is not None


def test_head_runs_and_missing_runs_read_from_results(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    assert chapter.head_runs(SMOKE).empty and chapter.load_history_none(SMOKE) is None
    for head in ("table1", "relu"):
        run = RunId.of(SMOKE.replace(head=head), 12)
        run.dir.mkdir(parents=True)
        io.write_netcdf(fake_eval(12), run.dir / "eval.nc")
        io.write_netcdf(fake_history(12), run.dir / "history.nc")
    table = chapter.head_runs(SMOKE)
    assert list(table.index) == ["table1", "relu"] and chapter.head_pair(table) is table
    assert chapter.head_pair(table.iloc[1:]).empty
    assert list(table["run"]) == ["model 12 (NN2 Table 1 head)", "model 12"]
    assert table.loc["table1", "final alive fraction"] == pytest.approx(0.9)
