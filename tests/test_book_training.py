"""diffsurr.book.training: Fig. 4's sentences, roll-backs per model and alive fractions, on
synthetic histories; each conclusion is flipped by numbers that make it false."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from diffsurr.book import report
from diffsurr import results as result_files
from diffsurr.book import training as chapter
from diffsurr.profiles import PROFILES
from diffsurr.rollback import RollbackRule

from test_report import fake_history, write_results

CI = PROFILES["ci"]


def losses(values) -> xr.Dataset:
    return xr.Dataset({"train_loss": ("step", np.asarray(values, float))})


def test_replay_marks_the_epochs_the_rule_would_reject():
    rule = RollbackRule("preprint", C=5, m=3)
    h = losses([1.0, 1.0, 1.0, 6.0, 1.0])
    # epoch 4 > 5 × mean(1, 1, 1); epoch 5 is judged after epoch 4, which was not rolled back
    assert chapter.replay(h, rule).tolist() == [False, False, False, True, False]
    assert not chapter.replay(h, RollbackRule("preprint", C=7, m=3)).any()
    assert not chapter.replay(h, RollbackRule("none")).any()


def test_rule_for_replays_the_preprint_rule_when_rollback_is_off():
    assert chapter.rule_for(CI.replace(rollback="none")) == RollbackRule("preprint", CI.C, CI.m,
                                                                         CI.s)
    assert chapter.rule_for(CI.replace(rollback="code")).kind == "code"


def test_settings_say_how_far_a_profile_is_from_the_preprint():
    assert "far fewer chances to jump" in chapter.settings_text(CI)
    assert "far fewer" not in chapter.settings_text(PROFILES["paper"])


@pytest.fixture()
def pair():
    """Model 9 without and with roll-back, same seed, no epoch rejected: the same losses."""
    return fake_history(9, rollback=False), fake_history(9, jumps=())


def numbers(h_none, h_rb, rule=RollbackRule("preprint", C=5, m=3)):
    return chapter.fig4_numbers(h_none, h_rb, rule)


def test_fig4_same_run_when_nothing_is_rejected(pair):
    text = chapter.fig4_text(numbers(*pair))
    assert "fell at every epoch" in text and "roll-back never fired" in text
    assert "did not occur in this run" in text and "they are the same run" in text
    assert "(equal; best epochs" in text


def test_fig4_a_rise_and_a_preprint_jump_flip_the_sentences(pair):
    h_none, h_rb = pair
    up = h_none.copy(deep=True)
    up["train_loss"][5] = up["train_loss"][4] * 20
    n = numbers(up, h_rb)
    text = chapter.fig4_text(n)
    assert "rose from one epoch to the next in 1 of 7 epochs, at most by a factor 20.00" in text
    assert "Its largest rise is one of the preprint's jumps" in text
    assert n["would_reject"] == 1 and "would have rejected 1 of its 8 epochs" in text
    small = h_none.copy(deep=True)
    small["train_loss"][5] = small["train_loss"][4] * 2
    text = chapter.fig4_text(numbers(small, h_rb))
    assert "by a factor 2.00" in text and "did not occur in this run" in text


def test_fig4_rollback_fired_and_the_runs_part_there(pair):
    h_none, _ = pair
    h_rb = fake_history(9, jumps=(4,))
    text = chapter.fig4_text(numbers(h_none, h_rb))
    assert "rejected 1: roll-back fired once" in text
    assert "identical before epoch 5, the first that roll-back rejected" in text
    assert "same run" not in text


def test_fig4_runs_that_differ_before_any_rejection_are_not_deterministic(pair):
    h_none, h_rb = pair
    h_rb = h_rb.copy(deep=True)
    h_rb["train_loss"][1] = h_rb["train_loss"][1] * 1.01
    text = chapter.fig4_text(numbers(h_none, h_rb))
    assert "differ from epoch 2 on, before any epoch was rejected" in text
    assert "same run" not in text


def test_fig4_kept_model_lower_or_higher(pair):
    h_none, h_rb = pair
    h_rb = h_rb.copy()
    h_rb.attrs = {**h_rb.attrs, "best_val_loss": h_none.attrs["best_val_loss"] / 2}
    assert "(lower;" in chapter.fig4_text(numbers(h_none, h_rb))
    h_rb.attrs = {**h_rb.attrs, "best_val_loss": h_none.attrs["best_val_loss"] * 2}
    assert "(higher;" in chapter.fig4_text(numbers(h_none, h_rb))


@pytest.fixture()
def hist(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    smoke = PROFILES["smoke"]
    write_results(tmp_path, smoke)
    return result_files.load_histories(smoke)


def test_rollback_table_counts_rejected_and_attempted_epochs(hist):
    table = chapter.rollback_table(hist)
    assert len(table) == 14 and (table["roll-backs"] == 1).all()
    assert (table["rejected epochs"] == 1).all()
    assert table.loc[1, "attempted epochs"] == 7 and table.loc[2, "attempted epochs"] == 8
    text = chapter.rollback_text(table, PROFILES["smoke"])
    assert "there were 14 roll-backs in" in text and "model 1 most often (once)" in text
    assert "more often than the preprint" in text


def rollbacks(counts, epochs=6):
    return pd.DataFrame({"roll-backs": counts, "attempted epochs": epochs,
                         "training time (s)": 60.0}, index=pd.Index([1, 2], name="model"))


def test_rollback_text_why_no_run_rolled_back():
    none = rollbacks([0, 0])
    text = chapter.rollback_text(none, CI.replace(m=6))
    assert "inactive at this scale (needs more than m = 6 epochs)" in text
    assert "per 100" not in text and "preprint" not in text
    text = chapter.rollback_text(none, CI)
    assert "no run rolled back: after its first m = 5 epochs" in text and "could" not in text
    text = chapter.rollback_text(rollbacks([1, 0], epochs=10), CI)
    assert "5.0 per 100 epochs, as often as the preprint" in text and "most often" in text


def test_alive_summary_flips_with_the_fractions(hist):
    text = chapter.alive_summary(hist, "alive_nn2", report.WITH_NN2, "NN2")
    assert "never fell below 1 %" in text and "between 0.90 and 0.90" in text
    dead = hist.copy(deep=True)
    last = int(dead["epoch"].sel(model=12).notnull().sum()) - 1
    dead["alive_nn2"].loc[{"model": 12, "step": last}] = 0.0
    text = chapter.alive_summary(_dip(dead, 5), "alive_nn2", report.WITH_NN2, "NN2")
    assert "ended dead (< 1 % alive) in model(s) 12" in text
    assert "dipped below 1 % but recovered in model(s) 5" in text
    text = chapter.alive_summary(_dip(hist, 5), "alive_nn2", report.WITH_NN2, "NN2")
    assert "dipped below 1 % during training in model(s) 5 but recovered" in text


def _dip(hist, model):
    out = hist.copy(deep=True)
    out["alive_nn2"].loc[{"model": model, "step": 1}] = 0.0
    return out


def test_alive_text_names_the_head(hist):
    assert "`relu` (ConvT → ReLU without" in chapter.alive_text(hist, CI)
    text = chapter.alive_text(hist, PROFILES["paper"])
    assert "`table1` (Table 1's" in text and "NN1's last layer" in text


def test_fig4_with_one_run_or_none(pair):
    h_none, h_rb = pair
    h_rb.attrs["path"] = h_none.attrs["path"] = "results/x/history.nc"
    rule, reference = RollbackRule("preprint", C=5, m=20), PROFILES["reference"]
    both = chapter.fig4_summary(h_none, h_rb, rule, reference)
    assert both == chapter.fig4_text(chapter.fig4_numbers(h_none, h_rb, rule))
    one = chapter.fig4_summary(None, h_rb, rule, reference)
    assert "only with roll-back: with 8 epochs and the rule's window m = 20" in one
    assert "never rolled back" in one and "fell at every epoch" in one
    rising = h_rb.copy(deep=True)
    rising["train_loss"][2] = rising["train_loss"][1] * 2
    assert "rose from one epoch to the next once, at most by a factor 2.00" in chapter.fig4_summary(
        None, rising, rule, reference)
    assert "needs model 9" in chapter.fig4_summary(None, None, rule, reference)
    fig, cap = chapter.fig4(None, h_rb, rule, reference)
    assert len(fig.axes) == 1 and "no run without it" in cap and "in a)" not in cap
    assert fig.axes[0].get_title() == "with roll-back, model 9"
    assert len(chapter.fig4(h_none, h_rb, rule, reference)[0].axes) == 2
    assert "needs model 9" in chapter.fig4(None, None, rule, reference)[1]
