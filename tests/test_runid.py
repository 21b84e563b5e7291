"""Run and data identity: every run name round-trips, and nothing else parses."""

import re

import pytest

from diffsurr.profiles import PROFILES, coerce
from diffsurr.runid import (DATA_KEYS, IDENTITY_KEYS, RunId, data_path, parse_data_name,
                            run_label)
from diffsurr.study import study_runs

# A valid value other than each profile's own, for every identity value.
OTHER = {"n_samples": 500, "test_fraction": 0.25, "val_fraction": 0.15, "epochs": 12,
         "batch_size": 16, "lr": 1e-05, "width": 0.5, "head": "table1", "nn1_head": "d2-first",
         "nn1_lr_scale": 0.1, "nn1_warmup": 2, "train_fraction": 0.5, "plateau": 6,
         "arch": "unet",
         "rollback": "none",
         "C": 4.5, "m": 7, "s": 3, "data_seed": 3, "split_seed": 2, "mode": "production",
         "placement": "code", "n_figure_samples": 7, "max_eval_train": 99, "amp": True}


def _other(profile, key):
    base = getattr(PROFILES[profile], key)
    value = OTHER[key]
    if value == base:                       # e.g. head "table1" in paper: take the other choice
        value = {"head": "relu", "rollback": "code", "mode": "clamped",
                 "placement": "preprint", "amp": False}.get(key, value * 2)
    return value


def test_every_identity_value_is_covered():
    assert set(OTHER) == set(IDENTITY_KEYS)


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("key", IDENTITY_KEYS)
def test_every_profile_value_round_trips(profile, key):
    value = _other(profile, key)
    run = RunId.make(profile, 9, 1, **{key: value})
    assert run.name == f"model_09_seed1_{key}-{value!r}".replace("'", "")
    back = RunId.parse(profile, run.name)
    assert back == run and back.config().seed == 1
    assert getattr(back.config(), key) == coerce(key, value)


def test_all_values_together_round_trip_in_field_order():
    values = {k: _other("ci", k) for k in IDENTITY_KEYS}
    run = RunId.make("ci", 12, **values)
    assert RunId.parse("ci", run.name) == run
    assert run.name.startswith("model_12_n_samples-500_test_fraction-0.25")


def test_values_equal_to_the_profiles_are_dropped():
    run = RunId.make("ci", 9, 0, lr=PROFILES["ci"].lr, epochs="6")
    assert run.name == "model_09" and run == RunId.make("ci", 9)


@pytest.mark.parametrize("name, message", [
    ("model_09_seed-1", "cannot read it as _key-value"),
    ("model_02_width", "cannot read it as _key-value"),
    ("model_09_epoch-12", "cannot read it as _key-value"),
    ("model_09_lr-1e-4", "canonical name of its run; the run it describes is named "
                         "'model_09_lr-0.0001'"),
    ("model_09_seed0", "is named 'model_09'"),
    ("model_09_lr-0.0001_epochs-12", "is named 'model_09_epochs-12_lr-0.0001'"),
    ("model_15", "1–14"),
    ("model_9", "not a run name"),
    ("model_09_lr-x", "lr must be a finite number > 0"),
    ("model_09_lr-inf", "lr must be a finite number > 0"),
    ("model_09_device-cpu", "cannot read it as _key-value"),
])
def test_bad_names_are_refused(name, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        RunId.parse("ci", name)


def test_execution_and_study_values_are_not_identity():
    with pytest.raises(ValueError, match="not part of a run's identity"):
        RunId.make("ci", 9, device="cpu")
    run = RunId.make("ci", 9)
    assert run.config(device="cpu", compile=True).compile
    with pytest.raises(ValueError, match="not execution settings"):
        run.config(lr=1.0)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_data_names_round_trip(profile):
    base = PROFILES[profile]
    assert data_path(base).name == "data.nc"
    for key in DATA_KEYS:
        other = base.replace(**{key: _other(profile, key)})
        stem = data_path(other).stem
        assert stem.startswith(f"data_{key}-")
        assert parse_data_name(profile, stem) == {key: getattr(other, key)}
    with pytest.raises(ValueError, match="canonical"):
        parse_data_name(profile, "data_n_samples-" + repr(base.n_samples))


def test_runs_of_a_profile_have_their_own_data():
    run = RunId.make("ci", 9, mode="production", placement="code")
    assert data_path(run.config()).name == "data_mode-production_placement-code.nc"
    assert data_path(RunId.make("ci", 9, lr=1e-4).config()).name == "data.nc"


def test_study_runs_are_unique_and_parse_back():
    for name, profile in PROFILES.items():
        runs = study_runs(profile)
        assert len(runs) == len(set(r.name for r in runs))
        models = list(profile.models or range(1, 15))
        assert [r.model for r in runs[:len(models)]] == models
        for run in runs:
            assert RunId.parse(name, run.name) == run
    conv = [r.name for r in study_runs(PROFILES["convergence"])]
    assert conv == ["model_04", "model_05", "model_06", "model_09", "model_11", "model_12",
                    "model_09_seed1", "model_11_seed1", "model_12_seed1"]
    ci = study_runs(PROFILES["ci"])
    names = [r.name for r in ci]
    assert "model_09_rollback-none" in names and "model_12_head-table1" in names
    assert "model_05_seed2" in names and len(ci) == 14 + 5 * 2 + 2 + 2 + 4
    assert names[-6:-4] == ["model_06_nn1_head-d2-first", "model_09_nn1_head-d2-first"]
    assert names[-4:] == ["model_12_arch-unet", "model_12_epochs-3_arch-fno",
                          "model_12_seed1_arch-unet", "model_12_seed2_arch-unet"]
    with pytest.raises(ValueError, match=r"\[12\] do not use NN1"):
        study_runs(PROFILES["ci"].replace(nn1_variant_models=(9, 12)))
    production = study_runs(PROFILES["ci"].replace(mode="production", placement="code"))
    assert production[0].name == "model_01_mode-production_placement-code"
    assert [r.name for r in production[-7:-4]] == ["model_05", "model_09", "model_12"]


def test_the_reference_study_is_the_issues_run_list():
    """All 14 models, three seeds of 5, 9, 11 and 12, the clamped reading of 5, 9, 12 and the
    baselines (a U-Net with three seeds, an FNO); no run without roll-back where the
    rule cannot fire (8 epochs < m = 20) and no head variant."""
    reference = PROFILES["reference"]
    names = [r.name for r in study_runs(reference)]
    assert len(names) == 14 + 4 * 2 + 3 + 4 and reference.epochs <= reference.m
    assert "model_11_seed2" in names and "model_09_mode-clamped_placement-preprint" in names
    assert not any("rollback" in n or "head" in n for n in names)
    assert names[-4:] == ["model_12_arch-unet", "model_12_epochs-4_arch-fno",
                          "model_12_seed1_arch-unet", "model_12_seed2_arch-unet"]
    assert "model_09_epochs-21_rollback-none" in [
        r.name for r in study_runs(reference.replace(epochs=21))]


@pytest.mark.parametrize("name, label", [
    ("model_09", "model 9"), ("model_09_seed1", "model 9, seed 1"),
    ("model_05_mode-clamped_placement-preprint", "model 5 (clamped, preprint placement)"),
    ("model_12_seed2_arch-unet", "model 12 (U-Net), seed 2"),
    ("model_12_epochs-4_arch-fno", "model 12 (4 epochs, FNO)"),
    ("model_09_seed1_lr-0.0001_rollback-none", "model 9 (lr 0.0001, no roll-back), seed 1")])
def test_a_run_label_is_readable_and_names_every_override(name, label):
    run = RunId.parse("reference", name)
    assert run.label == label and run_label("reference", name) == label


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_runs_of_a_study_have_distinct_labels(profile):
    runs = study_runs(PROFILES[profile])
    assert len({r.label for r in runs}) == len(runs)
    assert all("_" not in r.label for r in runs)


def test_a_name_that_is_not_a_run_is_shown_as_is():
    assert run_label("reference", "baselines") == "baselines"
