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
    table = chapter.table()
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
    assert "no model 9 without roll-back" in chapter.rules_text(None, SMOKE)


def heads(alive, ratio):
    return pd.DataFrame({"test mean residual": [ratio * 1e-2, 1e-2],
                         "final alive fraction": [alive, 0.9]}, index=["table1", "relu"])


def test_head_sentence_follows_alive_fraction_and_ratio():
    text = chapter.head_text(heads(0.0, 4.3), PROFILES["ci"])
    assert "ended dead (0.0 %" in text and "4.3 times" in text and "does worse" in text
    text = chapter.head_text(heads(0.5, 0.8), PROFILES["ci"])
    assert "stayed alive (50.0 %" in text and "does better" in text
    assert "cannot be compared" in chapter.head_text(heads(0.5, 1).iloc[:1], PROFILES["ci"])


def test_head_runs_and_missing_runs_read_from_results(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    assert chapter.head_runs(SMOKE).empty and chapter.load_history_none(SMOKE) is None
    for head in ("table1", "relu"):
        run = RunId.of(SMOKE.replace(head=head), 12)
        run.dir.mkdir(parents=True)
        io.write_netcdf(fake_eval(12), run.dir / "eval.nc")
        io.write_netcdf(fake_history(12), run.dir / "history.nc")
    table = chapter.head_runs(SMOKE)
    assert list(table.index) == ["table1", "relu"]
    assert table.loc["table1", "final alive fraction"] == pytest.approx(0.9)
