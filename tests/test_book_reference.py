"""diffsurr.book.reference: the reference chapter on a partial synthetic study."""

import re

import numpy as np
import pytest
import xarray as xr

from diffsurr import io, pilot
from diffsurr.book import reference as chapter
from diffsurr.runid import RunId

from test_report import fake_eval, fake_history

PRESENT = (5, 9, 12)


def write_run(model, mean_res=None, minutes=30.0, run=None):
    run = run or RunId.of(chapter.PROFILE, model)
    run.dir.mkdir(parents=True, exist_ok=True)
    ev = fake_eval(model)
    if mean_res is not None:
        ev["mean_res"] = ev["mean_res"] * 0 + mean_res
    h = fake_history(model, steps=8, jumps=())
    h.attrs.update(stage_wall_time_s=60 * minutes, peak_rss_bytes=3 * 2 ** 30,
                   git_commit="abcdef1234567")
    io.write_netcdf(ev, run.dir / "eval.nc")
    io.write_netcdf(h, run.dir / "history.nc")


@pytest.fixture()
def partial(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    for m in PRESENT:
        write_run(m, minutes=20.0 if m != 9 else 40.0)
    return chapter.status()


def test_a_partial_study_lists_what_is_missing(partial):
    assert list(partial.index[partial["evaluated"]]) == ["model_05", "model_09", "model_12"]
    text = chapter.progress_text(partial)
    missing = text.split("still missing: ")[1].split(". They")[0].split("; ")
    assert text.startswith("3 of 29 runs") and "model 1" in missing and "model 5" not in missing
    assert "model 12 (4 epochs, FNO)" in missing and "model_" not in text
    assert partial.loc["model_09", "peak memory (GiB)"] == pytest.approx(3.0)
    assert partial.loc["model_09", "commit"] == "abcdef1"


def test_table2_of_the_runs_in_and_the_target(partial, tmp_path):
    t2 = chapter.table2(partial)
    assert list(t2.index) == list(PRESENT)
    assert ("Over the 3 models in" in chapter.table2_text(t2)
            and "rank correlation" in chapter.table2_text(t2))
    one = chapter.table2_text(t2.iloc[:1])
    assert "Over the 1 model in" in one and "no rank correlation is given" in one
    write_run(12, mean_res=4e-3)
    assert "it reaches" in chapter.best_with_nn2(chapter.table2(chapter.status()))
    for m in PRESENT:
        write_run(m, mean_res=6e-3)
    assert "does not reach" in chapter.best_with_nn2(chapter.table2(chapter.status()))


def test_empty_study_renders():
    assert chapter.table2_text(chapter.table2(chapter.status().assign(evaluated=False))) == ""


def test_rollback_ratio_and_why_it_cannot_fire(partial):
    h = xr.Dataset({"train_loss": ("step", [4.0, 2.0, 3.0, 1.0]),
                    "kept": ("step", [1, 1, 1, 1])})
    np.testing.assert_allclose(chapter.rollback_ratios(h, m=2), [0.5, 1.0, 0.4])
    rb = chapter.rollback_table()
    assert list(rb.index) == ["model_05", "model_09", "model_12"]
    expect = chapter.rollback_ratios(fake_history(5, steps=8, jumps=()), m=20).max()
    assert rb.loc["model_05", "largest L(n) / mean of earlier"] == pytest.approx(expect)
    text = chapter.rollback_text(rb)
    assert "cannot fire at all" in text and "Roll-backs over the 3 trained runs: 0" in text
    assert "over the 1 trained run:" in chapter.rollback_text(rb.iloc[:1])
    longer = chapter.PROFILE.replace(epochs=30)
    assert "cannot fire" not in chapter.rollback_text(rb.assign(epochs=30), longer)


def test_budget_projection_by_kind(partial):
    text = chapter.budget_text(partial)
    assert "NN1 + NN2 40 min," in text and "NN2 only 20 min (20–20)" in text
    assert "kinds not yet timed left out" in text and "0 of 3 trainings took longer" in text
    unet = partial.copy()
    unet.loc["model_12_arch-unet", ["trained", "wall time (min)"]] = [True, 15.0]
    unet.loc["model_05", "wall time (min)"] = 50.0
    text = chapter.budget_text(unet)
    assert "U-Net 15 min" in text and "NN2 only 35 min (20–50)" in text
    assert "1 of 4 trainings took longer" in text
    mean_h, fast_h = (float(x) for x in re.findall(r"projects to ([\d.]+) h at the mean times "
                                                   r"and ([\d.]+) h at the fastest", text)[0])
    assert fast_h < mean_h


def test_the_two_readings_compared_against_the_seed_spread(partial):
    assert chapter.readings().empty and "fills in" in chapter.readings_text(chapter.readings())
    write_run(9, mean_res=4e-3)
    write_run(9, mean_res=6e-3, run=RunId.of(chapter.PROFILE, 9, seed=1))
    clamped = RunId.make("reference", 9, mode="clamped", placement="preprint")
    assert clamped.name == "model_09" + chapter.CLAMPED
    write_run(9, mean_res=10e-3, run=clamped)
    rd = chapter.readings()
    assert list(rd.index) == [(9, "clamped"), (9, "production")]
    assert rd.loc[(9, "production"), ("⟨res⟩ (10⁻³)", "mean")] == pytest.approx(5.0)
    shown = chapter.readings_shown(rd)
    assert list(shown.index) == [(9, "production"), (9, "clamped"), (9, "clamped / production")]
    assert shown.loc[(9, "clamped / production"), "⟨res⟩ (10⁻³)"] == "2.00"
    assert shown.loc[(9, "production"), "⟨res⟩ (10⁻³)"].endswith("(n = 2)")
    # |Δ| = 5 against 2·√(1.41² + 2.83²) = 6.3: within the spread
    text = chapter.readings_text(rd)
    assert "model 9 reaches mean test residuals 2.00 times" in text
    assert "beyond the seed spread for 0 of 1 models" in text
    write_run(9, mean_res=20e-3, run=clamped)       # |Δ| = 15 against 11.7
    assert "beyond the seed spread for 1 of 1 models" in chapter.readings_text(chapter.readings())
    (RunId.of(chapter.PROFILE, 9, seed=1).dir / "eval.nc").unlink()    # one production seed
    assert "not comparable with a seed spread" in chapter.readings_text(chapter.readings())


def test_the_pilot_table_is_the_committed_pilot():
    pt = chapter.pilot_table()
    assert list(pt.index) == [r.name for r in pilot.RUNS]
    chosen = pt.loc["model_12"]
    assert chosen["plateau"] == (chosen["improvement, last fifth (%)"] < 5)
    assert "width 0.25 and lr 0.001" in chapter.choice_text(pt)


def test_shown_tables_are_compact(partial):
    shown = chapter.status_shown(partial)
    assert list(shown["state"][:5]) == ["missing", "missing", "missing", "missing", "evaluated"]
    assert shown.loc["model 1", "epochs"] == "—" and len(shown.columns) == 8
    assert chapter.pilot_table().empty                  # no pilot in this results root


def test_pilot_shown_is_compact():
    shown = chapter.pilot_shown(chapter.pilot_table())
    assert len(shown.columns) == 10
    assert list(shown.index) == [r.label for r in pilot.RUNS]


def test_every_run_shows_its_numbers_under_its_label(partial, tmp_path):
    clamped = RunId.make("reference", 9, mode="clamped", placement="preprint")
    write_run(9, mean_res=10e-3, run=clamped)
    shown = chapter.status_shown(chapter.status())
    row = shown.loc["model 9 (clamped, preprint placement)"]
    assert row["state"] == "evaluated" and row["⟨res⟩ 10⁻³"] == 10.0 and row["epochs"] != "—"
    assert not any("_" in r for r in shown.index)
    rb = chapter.labelled(chapter.rollback_table())
    assert "model 9 (clamped, preprint placement)" in rb.index


def test_the_pilot_figure_names_runs_by_label_and_is_legible():
    from diffsurr.book import bookfig, plots

    curves = chapter.pilot_curves()
    assert all(name.startswith("model 12") and "_" not in name for name in curves)
    assert bookfig.small_text(plots.pilot_curves(curves)) == []
