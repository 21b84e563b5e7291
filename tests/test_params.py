"""Stage-notebook parameters as papermill leaves them in a namespace: refused unless known,
typed, and turned into a run before any compute."""

import pytest

from diffsurr import params
from diffsurr.runid import RunId


def _ns(**values):
    """A notebook namespace after the parameters cell and papermill's injected cell."""
    base = {"profile": "smoke", "model": None, "seed": None, "run": None, "retrain": False,
            "In": [], "Out": {}, "_": None, "_i1": "", "get_ipython": print, "params": params}
    return {**base, **values}


@pytest.mark.parametrize("values, message", [
    ({"model": 15}, "1–14"),
    ({"model": 9, "profile": "nope"}, "unknown profile 'nope'"),
    ({"model": 9, "epochs": -3}, "epochs must be an integer > 0"),
    ({"model": 9, "epoch": 12}, "unknown parameter(s) ['epoch'] for the train notebook; valid: "
                                "['profile', 'model', 'seed', 'run', 'retrain', 'n_samples'"),
    ({"model": 9, "lr": float("inf")}, "lr must be a finite number > 0, got inf"),
    ({"model": 9, "lr": "x"}, "lr must be a finite number > 0, got 'x'"),
    ({"model": 9, "seed": "x"},
     "seed must be an integer >= 0 and < 2**64 (torch.manual_seed's range), got 'x'"),
    ({"model": 9, "seed": 9.5},
     "seed must be an integer >= 0 and < 2**64 (torch.manual_seed's range), got 9.5"),
    ({"model": 9, "device": "gpu"}, "device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"),
    ({"model": 9, "retrain": "maybe"}, "retrain must be a boolean"),
    ({"model": 9, "extra_seeds": "1,2"}, "unknown parameter(s) ['extra_seeds']"),
    ({"run": "model_09_seed-1"}, "cannot read it as _key-value pairs"),
    ({"run": "model_09", "model": 5}, "disagree: they describe 'model_05'"),
    ({}, "needs model (1-14) or run"),
])
def test_bad_train_parameters_are_refused(values, message):
    with pytest.raises(ValueError) as err:
        params.run_params(_ns(**values), "train")
    assert message in str(err.value)


def test_run_given_by_values_or_by_name_is_the_same():
    by_values, execution, flags = params.run_params(
        _ns(model=9, seed=1, lr=1e-4, device="cpu", retrain="no"), "train")
    assert by_values == RunId.make("smoke", 9, 1, lr=1e-4)
    assert execution == {"device": "cpu"} and flags == {"retrain": False}
    by_name, _, _ = params.run_params(_ns(run="model_09_seed1_lr-0.0001", seed=1), "train")
    assert by_name == by_values


@pytest.mark.parametrize("spelling, value", [(True, True), ("yes", True), ("True", True),
                                             ("1", True), (False, False), ("no", False),
                                             ("false", False), ("0", False)])
def test_flags_accept_only_boolean_spellings(spelling, value):
    _, _, flags = params.run_params(_ns(model=9, retrain=spelling), "train")
    assert flags["retrain"] is value


def test_profile_stages_take_profile_values_and_their_own():
    ns = {"profile": "smoke", "force": "no", "n_samples": 500}
    profile, own = params.profile_params(ns, "data")
    assert profile.n_samples == 500 and own == {"force": False}
    assert params.model_list("5, 9,12") == [5, 9, 12]
    with pytest.raises(ValueError, match="Table 2 models 1-14"):
        params.model_list("5,x")
