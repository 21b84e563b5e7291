"""diffsurr.book.convergence: the trend, its projection, the verdicts per milestone and the
probe's choice follow the numbers; an empty study renders as "not in yet"."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from diffsurr.book import claims, convergence as chapter, nn1_alive


def _history(val):
    n = len(val)
    return xr.Dataset({"val_loss": ("step", np.asarray(val, float)),
                       "train_loss": ("step", np.asarray(val, float)),
                       "kept": ("step", np.ones(n, np.int8)),
                       "accepted": ("step", np.ones(n, np.int8))},
                      coords={"epoch": ("step", np.arange(1, n + 1))})


def test_a_power_law_is_found_and_carried_to_800_epochs():
    epochs = np.arange(1, 33)
    slope, se, n = chapter.trend(_history(0.1 * epochs ** -0.5))
    assert slope == pytest.approx(-0.5, abs=1e-9) and n == 23
    mid, lo, hi = chapter.projection(4e-3, 32, -0.5, 0.05, 25)
    assert mid == pytest.approx(4e-3 * 25 ** -0.5) and lo < mid < hi
    noisy = 0.1 * epochs ** -0.5 * np.exp(np.random.default_rng(0).normal(0, 0.2, 32))
    _, se_noisy, _ = chapter.trend(_history(noisy))
    assert se_noisy > se
    assert np.isnan(chapter.projection(4e-3, 5, np.nan, np.nan, 2)[0])


def _verdicts(outcomes):
    return {k: claims.Verdict(claims.CLAIMS[k], o, "why") for k, o in outcomes.items()}


def test_verdict_changes_name_what_changed_between_milestones():
    by_epoch = {8: _verdicts({"nn1-fails": "holds", "sum-beats-nn2": "not tested"}),
                32: _verdicts({"nn1-fails": "holds", "sum-beats-nn2": "fails"})}
    df = chapter.verdict_changes(by_epoch)
    assert list(df.columns) == ["8 epochs", "32 epochs", "changed"]
    assert df.loc["NN1 + NN2 beats NN2 alone", "changed"] == "yes"
    text = chapter.changes_text(df)
    assert "*NN1 + NN2 beats NN2 alone* (not tested → fails)" in text
    assert "NN1 alone fails" not in text
    same = chapter.verdict_changes({8: by_epoch[8], 16: by_epoch[8]})
    assert "No verdict changed between 8 epochs and 16 epochs" in chapter.changes_text(same)
    assert "No convergence run" in chapter.changes_text(pd.DataFrame())


def test_probe_text_chooses_only_a_variant_that_kept_nn1_alive():
    assessed = {"NN1 lr × 0.1": {"epochs": 3, "min_alive": 0.0, "last_alive": 0.0, "alive": False,
                                 "val_ratio": 0.9},
                "NN1 leaky head": {"epochs": 3, "min_alive": 0.4, "last_alive": 0.5, "alive": True,
                                   "val_ratio": 1.2}}
    assert "**Chosen: NN1 leaky head**" in nn1_alive.probe_text(assessed)
    assert "Not in yet: NN1 lr × 0.005" in nn1_alive.probe_text(assessed)
    assert list(nn1_alive.probe_table(assessed)["alive every epoch"]) == ["no", "yes"]
    dead = {k: {**a, "alive": False} for k, a in assessed.items()}
    assert "No variant probed so far keeps NN1 alive" in nn1_alive.probe_text(dead)


def test_an_empty_study_renders_as_not_in_yet(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    assert chapter.missing_text().startswith("Not in yet (9): model 4; model 5;")
    assert chapter.milestone_table().empty and chapter.projections().empty
    assert "No convergence run" in chapter.best_text()
    assert nn1_alive.probe_assessed() == {} and nn1_alive.probe_table({}).empty
    assert nn1_alive.probe_text({}).startswith("No NN1")
    assert nn1_alive.long_probe_assessed() == {}
    chapter.figure()
    nn1_alive.alive_figure()


def test_an_unfinished_run_names_the_milestones_it_has_not_reached(monkeypatch):
    """A finished run stopped on a plateau lacks nothing; an unfinished one lacks every
    milestone after its latest evaluation."""
    rows = [("model_06", 8), ("model_06", 16), ("model_09_seed1", 8)]
    monkeypatch.setattr(chapter, "milestone_table", lambda profile: pd.DataFrame(
        rows, columns=["run", "epoch"]))
    monkeypatch.setattr(chapter, "histories", lambda profile: {
        "model_06": _history(np.ones(16)).assign_attrs(n_epochs=16, stopped="plateau"),
        "model_09_seed1": _history(np.ones(8)).assign_attrs(n_epochs=8, stopped="running")})
    gone = chapter.missing()
    assert "model 9, seed 1 at epoch 16" in gone and "model 9, seed 1 at epoch 32" in gone
    assert not [g for g in gone if g.startswith("model 6")]
    assert "model 4" in gone


def test_a_run_still_training_shows_its_history_up_to_its_latest_milestone(tmp_results):
    from diffsurr.study import study_runs
    run = study_runs(chapter.PROFILE)[0]
    run.dir.mkdir(parents=True)
    for epochs in (8, 16):
        _history(np.ones(epochs)).assign_attrs(n_epochs=epochs).to_netcdf(
            run.dir / f"history-{epochs:03d}.nc")
    assert chapter.histories()[run.name].attrs["n_epochs"] == 16
    _history(np.ones(20)).assign_attrs(n_epochs=20).to_netcdf(run.dir / "history.nc")
    assert chapter.histories()[run.name].attrs["n_epochs"] == 20


def test_a_run_stopped_on_a_plateau_counts_its_last_epoch_once(tmp_results):
    """Stopped after 16 epochs, its milestone-16 evaluation and its final one hold the same
    model: one row at epoch 16, none at 32."""
    from diffsurr.study import study_runs
    run = study_runs(chapter.PROFILE)[0]
    for name in ("eval-008.nc", "eval-016.nc", "eval.nc"):
        _fig_eval(run.dir / name, 0.0, 0.0)
    _history(np.ones(16)).assign_attrs(n_epochs=16, stopped="plateau").to_netcdf(
        run.dir / "history.nc")
    assert chapter.near_sources()["epoch"].tolist() == [8, 16]


@pytest.mark.parametrize("last, ending", [
    (0.001, "at the latest, epoch 5, it is 0.001, so by the probe's own bar NN1 is not alive "
            "there."),
    (0.5, "at the latest, epoch 5, it is 0.5, so by the probe's bar NN1 is alive there.")])
def test_nn1s_lifetime_counts_the_epochs_below_the_probes_bar(monkeypatch, last, ending):
    """The bar is half the working NN1's lowest alive fraction (0.05 here: 0.025); model 9's
    NN1 falls below it at epochs 3 and 4 (and 5 when its last value is below it); NN2 alone
    has no NN1 and is not named."""
    working = _history(np.ones(3)).assign(alive_nn1=("step", [0.05, 0.3, 0.4]))
    monkeypatch.setattr(nn1_alive, "_working_history", lambda: working)
    nine = _history(np.ones(5)).assign(alive_nn1=("step", [0.8, 0.7, 0.01, 0.0, last]))
    twelve = _history(np.ones(5)).assign(alive_nn1=("step", np.full(5, np.nan)))
    monkeypatch.setattr(chapter, "histories",
                        lambda profile: {"model_09": nine, "model_12": twelve})
    text = nn1_alive.nn1_lifetime_text()
    below = 3 if last < 0.025 else 2
    assert text.startswith(f"In model 9 NN1's alive fraction was below the probe's bar (0.025) "
                           f"at {below} of 5 kept epochs, first at epoch 3")
    assert text.endswith(ending) and "model 12" not in text


def test_a_projection_over_epochs_where_nn1_switched_off_is_not_trusted(monkeypatch):
    """Model 9's NN1 drops below the bar (0.025) at epoch 10, within the fitted epochs (8 on):
    its projection is flagged; model 11's dropped before epoch 8 and stays down: one trend."""
    working = _history(np.ones(3)).assign(alive_nn1=("step", [0.05, 0.3, 0.4]))
    monkeypatch.setattr(nn1_alive, "_working_history", lambda: working)
    nine = _history(np.ones(12)).assign(alive_nn1=("step", np.r_[np.full(9, 0.7), [0.0] * 3]))
    eleven = _history(np.ones(12)).assign(alive_nn1=("step", np.r_[0.7, np.zeros(11)]))
    monkeypatch.setattr(chapter, "histories",
                        lambda profile: {"model_09": nine, "model_11": eleven})
    assert nn1_alive.nn1_crossed() == ["model 9"]
    proj = pd.DataFrame({"epochs": [12]}, index=["model 9"])
    assert chapter.projection_text(proj, nn1_alive.nn1_crossed()).endswith(
        "In model 9 NN1's alive fraction crossed the probe's bar within the fitted epochs: the "
        "fit spans a change of the model, not one trend, so its projection is not to be "
        "trusted.")
    assert "crossed" not in chapter.projection_text(proj)


def _alive(values, stopped="epochs"):
    h = _history(np.ones(len(values))).assign(alive_nn1=("step", np.asarray(values, float)))
    h.attrs["stopped"] = stopped
    return h


def _serve(monkeypatch, named):
    """Histories by run name, as the chapter's reader returns them for the runs asked for."""
    working = _history(np.ones(3)).assign(alive_nn1=("step", [0.05, 0.3, 0.4]))
    monkeypatch.setattr(nn1_alive, "_working_history", lambda: working)
    monkeypatch.setattr(chapter, "histories", lambda profile, runs=None: {
        r.name: named[r.name] for r in runs if r.name in named})


def test_the_longer_probe_says_whether_its_head_kept_nn1_alive(monkeypatch):
    """Bar 0.025. Table 1's head falls below it at epoch 10 (model 9) and 8 (model 11); the
    longer probe's head stays above it over the 8 epochs its shortest run has, and model 9's
    run still trains; then model 11's falls to 0 and the sentence turns."""
    named = {"model_09": _alive([0.8] * 9 + [0.01] * 3),
             "model_11": _alive([0.8] * 7 + [0.0] * 5),
             "model_09_nn1_head-relu": _alive([0.5] * 12, "running"),
             "model_11_nn1_head-relu": _alive([0.3] * 8)}
    _serve(monkeypatch, named)
    assessed = nn1_alive.long_probe_assessed()
    label = "NN1 without its last BatchNorm"
    assert assessed[label]["alive"] and assessed[label]["epochs"] == 8
    assert nn1_alive.probe_table(assessed).loc[label, "epochs"] == 8
    text = nn1_alive.long_probe_text(assessed)
    assert text.startswith(f"**{label} keeps NN1 alive so far**: its alive fraction stayed at "
                           "or above the probe's bar (0.025) at each of the 8 epochs")
    assert "first fell below the bar at epoch 10 (model 9) and 8 (model 11)" in text
    assert text.endswith("Not finished, shown at their latest milestone: model 9 (NN1 head "
                         "relu). A later epoch may change this.")
    named["model_11_nn1_head-relu"] = _alive([0.3] * 6 + [0.0] * 2)
    dead = nn1_alive.long_probe_assessed()
    assert nn1_alive.long_probe_text(dead).startswith(
        f"**{label} does not keep NN1 alive either**: within 8 epochs its alive fraction fell "
        "to 0, below the probe's bar (0.025)")
    assert nn1_alive.long_probe_text(dead).endswith(
        "model 9 (NN1 head relu). A later epoch cannot undo a fall below the bar.")
    del named["model_09_nn1_head-relu"], named["model_11_nn1_head-relu"]
    assert nn1_alive.long_probe_assessed() == {}
    assert nn1_alive.long_probe_text({}) == ("Not in yet: model 9 (NN1 head relu), model 11 "
                                           "(NN1 head relu).")
    nn1_alive.alive_figure()


def test_the_alive_threshold_is_set_beside_a_working_nn1s_fraction():
    """Model 6 (NN1 alone, alive output) is the yardstick; the sentence follows its numbers,
    and the committed probe's choice follows the rule: a variant whose NN1 fell to zero is not
    alive, one that kept the working NN1's level is."""
    text = nn1_alive.alive_scale_text()
    h = xr.open_dataset(chapter.RunId.of(chapter.PROFILES["reference"], 6).dir / "history.nc")
    low = float(h.alive_nn1.where(h.kept == 1, drop=True).min())
    assert f"between {low:.2g}" in text and f"{0.5 * low:.2g}; a dead NN1" in text
    assessed = nn1_alive.probe_assessed()
    for a in assessed.values():
        assert a["alive"] == (a["min_alive"] >= 0.5 * low)
    chosen = chapter.nn1_probe.choose(assessed)
    assert chosen is None or assessed[chosen]["alive"]


def test_the_convergence_profile_uses_the_probes_choice():
    """The committed probe's chosen variant is what the convergence profile sets."""
    chosen = chapter.nn1_probe.choose(nn1_alive.probe_assessed())
    assert chosen is not None
    for key, value in chapter.nn1_probe.VARIANTS[chosen].items():
        assert getattr(chapter.PROFILE, key) == value


def test_cpu_hours_count_every_resumed_part_of_a_training():
    """A resumed training's last stage ran 20 min; its training took 3.4 h in all."""
    h = xr.Dataset(attrs={"wall_time_s": 12_319.0, "stage_wall_time_s": 1_189.0,
                          "torch_threads": 1})
    assert chapter.training_cpu_hours(h) == pytest.approx(3.42, abs=0.01)


def test_the_runs_table_says_how_far_each_run_is_and_whether_nn1_lives(tmp_results):
    """A run at its 8-epoch milestone shows as training on; a finished one as done, with its
    roll-backs and NN1's alive fraction at its last accepted (not its last attempted) epoch."""
    from diffsurr.study import study_runs
    first, second = study_runs(chapter.PROFILE)[:2]
    for run in (first, second):
        run.dir.mkdir(parents=True)
    attrs = {"best_epoch": 7, "n_rollbacks": 0, "wall_time_s": 3600.0, "torch_threads": 1}
    h = _history(np.ones(8)).assign(alive_nn1=("step", np.full(8, np.nan)))
    h.assign_attrs(**attrs, n_epochs=8, stopped="running").to_netcdf(
        first.dir / "history-008.nc")
    h = _history(np.ones(33)).assign(alive_nn1=("step", np.r_[np.full(32, 0.8), 0.0]))
    h["accepted"][-1] = 0
    h["kept"][-1] = 0                   # a jump is never on the kept trajectory
    h.assign_attrs(**{**attrs, "n_rollbacks": 1}, n_epochs=32, stopped="epochs").to_netcdf(
        second.dir / "history.nc")
    table = chapter.runs_table()
    assert table.loc[first.label, "state"] == "unfinished"
    assert table.loc[first.label, "NN1 alive at the last epoch"] == "—"
    assert table.loc[second.label, "state"] == "done"
    assert table.loc[second.label, "roll-backs"] == 1
    assert table.loc[second.label, "NN1 alive at the last epoch"] == "0.8"


def test_a_milestone_that_runs_have_not_reached_is_not_in_yet_not_a_change(monkeypatch):
    """A claim judged at 8 epochs that needs a run not trained to 16 yet shows "not in yet" at
    16, and that is no change; a claim first judged at 16 that does not need it is one, and
    one that needs it (a further seed short of 16) is not in yet either."""
    h = _history(np.ones(8)).assign_attrs(n_epochs=8, stopped="running")
    monkeypatch.setattr(chapter, "histories", lambda profile: {"model_11": h})
    monkeypatch.setattr(chapter, "load_seed_evals", lambda profile, **kw: kw["name"])
    by_name = {"eval-008.nc": {"sum-beats-nn2": "not resolved", "mse-overfits-more": "not tested"},
               "eval-016.nc": {"sum-beats-nn2": "not tested", "mse-overfits-more": "fails"}}
    monkeypatch.setattr(chapter.claims, "verdicts",
                        lambda seeds, ctx: _verdicts(by_name.get(seeds, by_name["eval-016.nc"])))
    by_epoch = chapter.milestone_verdicts()
    assert by_epoch[16]["sum-beats-nn2"].outcome == chapter.PENDING
    assert "model 11" in by_epoch[16]["sum-beats-nn2"].reason
    assert by_epoch[16]["mse-overfits-more"].outcome == "fails"
    df = chapter.verdict_changes(by_epoch)
    assert df.loc["NN1 + NN2 beats NN2 alone", "changed"] == "no"
    assert df.loc["MSE overfits more than MAE", "changed"] == "yes"
    seed = _history(np.ones(8)).assign_attrs(n_epochs=8, stopped="running")
    monkeypatch.setattr(chapter, "histories", lambda profile: {"model_11_seed1": seed})
    by_epoch = chapter.milestone_verdicts()
    assert by_epoch[16]["mse-overfits-more"].outcome == chapter.PENDING
    assert by_epoch[16]["mse-overfits-more"].reason.endswith("model 11, seed 1")
    assert by_epoch[8]["mse-overfits-more"].outcome == "not tested"


def test_a_verdict_that_lost_its_seed_spread_or_its_models_is_not_in_yet(monkeypatch):
    """At 16 epochs a seed-1 run still short of 16 takes the seed spread every comparison
    uses: a verdict judged at 8 is "not in yet" there, not a change. A run of a model the
    verdict does not compare leaves it standing; one of a model it compares does not."""
    from diffsurr.book.comparison import Comparison
    running = {"model_04": _history(np.ones(16)).assign_attrs(n_epochs=16, stopped="running"),
               "model_12_seed1": _history(np.ones(8)).assign_attrs(n_epochs=8,
                                                                    stopped="running")}
    monkeypatch.setattr(chapter, "load_seed_evals", lambda profile, **kw: kw["name"])

    def verdicts(seeds, ctx):
        outcome = "holds" if seeds == "eval-008.nc" else "not resolved"
        a, b = compared                 # the models the verdict compares, set below
        return {"nn2-works": claims.Verdict(claims.CLAIMS["nn2-works"], outcome, "why", [
            Comparison("⟨res⟩", 1e-3, a, b, b, 1.0, 0.1, 1, 2.0, 0.1, 1)])}
    monkeypatch.setattr(chapter.claims, "verdicts", verdicts)
    for hists, compared, pending in [(running, (6, 12), True),
                                     ({"model_04": running["model_04"]}, (6, 12), False),
                                     ({"model_04": running["model_04"]}, (4, 5), True)]:
        monkeypatch.setattr(chapter, "histories", lambda profile: hists)
        by_epoch = chapter.milestone_verdicts()
        assert (by_epoch[32]["nn2-works"].outcome == chapter.PENDING) is pending
        assert by_epoch[8]["nn2-works"].outcome == "holds"
        changed = chapter.verdict_changes(by_epoch).loc["NN2 alone works", "changed"]
        assert changed == ("no" if hists is running else "yes")


def _fig_eval(path, near_error, far_error, nn1_peak=None):
    """Two stored 20×20 test fields with one source pixel each; the prediction errs by
    ``near_error`` two spacings from the source and by ``far_error`` in a far corner."""
    x = np.zeros((2, 20, 20))
    x[:, 10, 10] = 1.0
    y = np.zeros_like(x)
    pred = y.copy()
    pred[:, 10, 12] += near_error
    pred[:, 0, 0] += far_error
    nn1 = np.full_like(x, np.nan) if nn1_peak is None else np.zeros_like(x)
    if nn1_peak is not None:
        nn1[:, 11, 10] = nn1_peak
    path.parent.mkdir(parents=True, exist_ok=True)
    dims = ("fig_sample", "y", "x")
    xr.Dataset({"fig_input": (dims, x), "fig_target": (dims, y), "fig_pred": (dims, pred),
                "fig_nn1": (dims, nn1)}).to_netcdf(path)


@pytest.mark.parametrize("near, far, ending", [
    (3.0, 0.0, "what separates it from NN2 alone is NN1's output at the sources."),
    (0.0, 3.0, "most of the gap lies away from them."),
    (0.0, 0.0, "on these fields its mean residual is not above model 12's.")])
def test_where_a_sum_errs_is_measured_against_nn2_alone_on_the_same_fields(
        tmp_results, near, far, ending):
    from diffsurr.study import study_runs
    runs = {r.model: r for r in reversed(study_runs(chapter.PROFILE))}
    _fig_eval(runs[12].dir / "eval-008.nc", 0.0, 0.0)
    _fig_eval(runs[9].dir / "eval-008.nc", near, far, nn1_peak=28.0)
    table = chapter.near_sources()
    row = table.set_index("run").loc["model 9"]
    assert row["NN1 largest output"] == 28.0 and row["peak near"] == 1.0
    near_px = (np.hypot(*np.mgrid[-10:10, -10:10]) <= chapter.NEAR).sum()
    assert row["pixels near"] == pytest.approx(near_px / 400)
    assert row["res near"] == pytest.approx(near / near_px)
    text = chapter.near_sources_text(table)
    assert text.endswith(ending) and "In model 9 at epoch 8, NN1's largest output is 28" in text
    assert "model 12" not in chapter.near_sources_text(table[table["model"] == 9])
    shown = chapter.near_sources_shown(table)
    assert shown.loc[("model\u00a012", 8), "NN1 largest output"] == "—"


def _stds(nn1, nn2, seed1=np.nan):
    """Output stds of models 9, 11 (both networks) and 12 (NN2 alone); seed 1 of model 9
    only where ``seed1`` (its NN1's) is given."""
    return xr.Dataset({"out_std_nn1": (("model", "seed"), [[nn1[0], seed1], [nn1[1], np.nan],
                                                           [np.nan, np.nan]]),
                       "out_std_nn2": (("model", "seed"), [[nn2, nn2], [nn2, np.nan],
                                                           [nn2, nn2]])},
                      coords={"model": [9, 11, 12], "seed": [0, 1]})


@pytest.mark.parametrize("late, ending", [
    ((0.004, 0.009), "at 16 and 32 epochs NN1's is under 10 % of NN2's in every run with both "
                     "networks, so there the sums are close to NN2 alone, trained beside a "
                     "nearly silent NN1."),
    ((0.004, 0.05), "at every evaluated epoch NN1's is at least 10 % of NN2's somewhere, so "
                    "the sums compared are sums of two varying outputs.")])
def test_nn1s_output_beside_nn2s_says_when_the_sums_are_nearly_nn2_alone(monkeypatch, late,
                                                                         ending):
    monkeypatch.setattr(chapter, "milestone_seeds", lambda profile: {
        8: _stds((0.39, 0.42), 0.13, seed1=0.5), 16: _stds(late, 0.14),
        32: _stds(late, 0.14)})
    text = nn1_alive.nn1_output_text()
    assert text.startswith("NN1's unweighted output standard deviation over the stored test "
                           "fields, against NN2's in the same run: at 8 epochs 0.39 against "
                           "0.13 (model 9), 0.5 against 0.13 (model 9, seed 1), 0.42 against "
                           "0.13 (model 11); at 16 epochs")
    assert "none of these is, so every comparison of a sum above is evidence" in text
    assert text.endswith(ending) and "model 12" not in text


def test_a_dead_nn1_beside_nn2_is_named(monkeypatch):
    monkeypatch.setattr(chapter, "milestone_seeds", lambda profile: {8: _stds((0.0, 0.4), 0.1)})
    assert ("NN1 is dead in model 9 at 8 epochs, and comparisons with it are not evidence"
            in nn1_alive.nn1_output_text())
    monkeypatch.setattr(chapter, "milestone_seeds", lambda profile: {})
    assert nn1_alive.nn1_output_text() == ""
