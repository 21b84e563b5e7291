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
