import pytest

from diffsurr.profiles import PROFILES, get_profile


def test_paper_profile_is_the_preprints_scale():
    p = PROFILES["paper"]
    assert (p.n_samples, p.test_fraction, p.epochs, p.batch_size, p.lr, p.width) == \
        (20_000, 0.2, 800, 25, 5e-6, 1.0)
    assert (p.C, p.m, p.s) == (5.0, 20, 5)


def test_auto_picks_by_device_and_says_why(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    p, why = get_profile("auto")
    assert p.name == "ci" and "no CUDA" in why
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_profile(None)[0].name == "paper"


def test_overrides_and_errors():
    p, why = get_profile("ci", epochs=3, lr=None)
    assert p.epochs == 3 and p.lr == PROFILES["ci"].lr and "overridden" in why
    with pytest.raises(ValueError, match="unknown profile 'nope'.*paper"):
        get_profile("nope")
    with pytest.raises(ValueError, match="epochs must be an integer > 0"):
        get_profile("ci", epochs=-3)
    with pytest.raises(ValueError, match="unknown profile value"):
        get_profile("ci", epoch=3)
    with pytest.raises(ValueError, match="head must be one of"):
        get_profile("ci", head="other")


# The flat names, in the order that names run folders and orders the profile_* attributes of
# committed results: changing them orphans results/ (issue 24 kept them through the sections).
FLAT = ("n_samples", "test_fraction", "val_fraction", "epochs", "batch_size", "lr", "width",
        "head", "nn1_head", "nn1_lr_scale", "nn1_warmup", "train_fraction", "arch", "rollback",
        "C", "m", "s", "checkpoint_every", "plateau", "milestones", "models", "data_seed",
        "split_seed", "seed", "extra_seeds", "seed_models", "head_variant",
        "nn1_variant_models", "train_divisors", "baselines", "mode", "placement",
        "n_figure_samples", "max_eval_train", "n_generalise", "device", "amp",
        "channels_last", "compile")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_attrs_keep_the_flat_names_values_and_types(name):
    """What committed results carry (``profile_<name>``), for every profile and an override."""
    for p in (PROFILES[name], PROFILES[name].replace(lr="1e-4", milestones="1,2", amp="yes")):
        attrs = p.as_attrs()
        assert list(attrs) == ["profile_name", "profile_description",
                               *(f"profile_{k}" for k in FLAT)]
        assert all(attrs[f"profile_{k}"] == getattr(p, k) for k in FLAT)
    reference = PROFILES["reference"].as_attrs()
    want = {"lr": 1e-3, "width": 0.25, "epochs": 8, "C": 5.0, "m": 20, "rollback": "preprint",
            "extra_seeds": (1, 2), "head_variant": False, "milestones": (), "device": "auto"}
    assert {k: (reference[f"profile_{k}"], type(reference[f"profile_{k}"])) for k in want} == \
        {k: (v, type(v)) for k, v in want.items()}
    assert attrs["profile_lr"] == 1e-4 and attrs["profile_milestones"] == (1, 2)
    assert attrs["profile_amp"] is True


def test_sections_hold_every_value_once_by_its_flat_name():
    from dataclasses import fields

    from diffsurr.profiles import PATHS, SECTIONS, VALUE_NAMES, Data, Training

    assert VALUE_NAMES == tuple(PATHS) == FLAT
    leaves = {f"{s}.{f.name}" for s, kind in SECTIONS.items() for f in fields(kind)}
    leaves = leaves - {"training.rollback", "training.max_rollbacks"} | {
        f"training.rollback.{f}" for f in ("kind", "C", "m", "s")}
    assert sorted(PATHS.values()) == sorted(leaves)
    p = PROFILES["convergence"]
    assert isinstance(p.data, Data) and isinstance(p.training, Training)
    assert (p.training.lr, p.training.rollback.kind, p.network.width, p.study.models) == \
        (p.lr, p.rollback, p.width, p.models)
    q = p.replace(lr=1e-4, rollback="none", width="0.5")
    assert (q.training.lr, q.training.rollback.kind, q.network.width) == (1e-4, "none", 0.5)
    assert (q.data, q.study, q.evaluation, q.execution) == (p.data, p.study, p.evaluation,
                                                            p.execution)
    assert p.lr == 1e-3                                   # the named profile is unchanged
    with pytest.raises(AttributeError, match="nope"):
        p.nope


def test_a_profile_may_hold_milestones_past_its_epochs_a_run_may_not():
    """A run named with fewer epochs than its profile's milestones exists (diffsurr.runid);
    only its training settings refuse them."""
    from diffsurr.stages.train import train_config

    p = PROFILES["convergence"].replace(epochs=12, device="cpu")
    with pytest.raises(ValueError, match="milestones must be epochs in 1..12"):
        train_config(p, 9)


def test_training_section_with_execution_values_is_the_run_config():
    """``train_config`` signatures (what a checkpoint must match to resume) as before issue 24."""
    from diffsurr.stages.train import train_config
    from diffsurr.trainconfig import TrainConfig

    rule = {"kind": "preprint", "C": 5.0, "m": 20, "s": 5}
    common = {"batch_size": 25, "lr": 0.001, "seed": 0, "rollback": rule, "max_rollbacks": 200,
              "amp": False}
    convergence = PROFILES["convergence"].replace(device="cpu", channels_last=False)
    cfg = train_config(convergence, 9)
    assert isinstance(cfg, TrainConfig) and (cfg.device, cfg.channels_last) == ("cpu", False)
    assert cfg.signature() == {"epochs": 32, "nn1_lr_scale": 0.005, "plateau": 8, **common}
    assert train_config(convergence.replace(nn1_warmup=2), 12).signature() == \
        {"epochs": 32, "nn1_lr_scale": 1.0, "plateau": 8, **common}
    assert train_config(PROFILES["reference"].replace(device="cpu"), 9).signature() == \
        {"epochs": 8, "nn1_lr_scale": 1.0, "plateau": 0, **common}
    assert train_config(PROFILES["probe"].replace(device="cpu", nn1_warmup=2), 11).signature() \
        == {"epochs": 3, "nn1_lr_scale": 1.0, "nn1_warmup": 2, "plateau": 0, **common}


def test_validating_values_does_not_import_the_networks():
    import subprocess
    import sys

    code = ("import sys; from diffsurr.profiles import get_profile; "
            "get_profile('ci', head='table1', nn1_head='d2-first', arch='unet', baselines='fno');"
            "assert not {'diffsurr.nets', 'diffsurr.baselines', 'diffsurr.train'} "
            "& set(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
