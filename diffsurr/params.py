"""Stage-notebook parameters: checked, typed and turned into a run before any compute.

papermill injects every ``-p name value`` as a variable, known or not, and only warns about
an unknown name. So each stage notebook hands its namespace to :func:`run_params` or
:func:`profile_params`, which refuse unknown names (listing the valid ones), type every value
(:func:`diffsurr.profiles.coerce`) and build the run (:class:`diffsurr.runid.RunId`).
A value of ``None`` means "the profile's value".
"""

from __future__ import annotations

import types

from .profiles import VALUE_NAMES, Profile, coerce_flag, get_profile
from .runid import EXECUTION, IDENTITY_KEYS, RunId

STAGES = {
    # stage: (its own parameters, its flags (booleans), profile values it accepts)
    "data": (("profile",), ("force",), VALUE_NAMES),
    "train": (("profile", "model", "seed", "run"), ("retrain",), (*IDENTITY_KEYS, *EXECUTION)),
    "evaluate": (("profile", "model", "seed", "run", "milestone"), (),
                 (*IDENTITY_KEYS, *EXECUTION)),
    "generalise": (("profile", "model", "seed", "run"), ("force",), (*IDENTITY_KEYS, *EXECUTION)),
    "benchmark": (("profile",), ("quick",), ("device",)),
    "baselines": (("profile",), (), ("device",)),
}
_NOT_PARAMETERS = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def notebook_values(namespace: dict, stage: str) -> dict:
    """The parameters set in a notebook's ``namespace``, checked against ``stage``'s names;
    flags made real booleans; ``None`` values dropped."""
    own, flags, values = STAGES[stage]
    given = {k: v for k, v in namespace.items()
             if not k.startswith("_") and k not in _NOT_PARAMETERS
             and not isinstance(v, (types.ModuleType, types.FunctionType, type))}
    valid = (*own, *flags, *values)
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for the {stage} notebook; valid: "
                         f"{list(valid)}")
    out = {k: v for k, v in given.items() if v is not None}
    for flag in flags:
        out[flag] = coerce_flag(flag, out.get(flag, False))
    return out


def run_params(namespace: dict, stage: str) -> tuple[RunId, dict, dict]:
    """(run, execution settings, flags and the stage's other own values) of a train, evaluate
    or generalise notebook.

    The run is given by ``model`` [``seed``] and identity values by name, or by ``run`` (a
    folder name such as ``model_09_seed1_lr-0.0001``); where both are given they must agree.
    """
    values = notebook_values(namespace, stage)
    flags = {k: values.pop(k) for k in STAGES[stage][1]}
    flags.update({k: values.pop(k) for k in STAGES[stage][0]
                  if k not in ("profile", "model", "seed", "run") and k in values})
    profile, why = get_profile(values.pop("profile", "auto"))
    execution = {k: values.pop(k) for k in EXECUTION if k in values}
    name = values.pop("run", None)
    if name is not None:
        run = RunId.parse(profile.name, str(name))
        given = RunId.make(profile.name, values.pop("model", run.model),
                           values.pop("seed", run.seed), **{**dict(run.overrides), **values})
        if given != run:
            raise ValueError(f"run {name!r} and the other parameters disagree: they describe "
                             f"{given.name!r}; give one or the other")
    elif "model" not in values:
        raise ValueError(f"the {stage} notebook needs model (1-14) or run (a run folder name)")
    else:
        run = RunId.make(profile.name, values.pop("model"), values.pop("seed", None), **values)
    run.config(**execution).resolved_device()   # execution settings checked now, too
    print(f"profile {profile.name!r} ({why}): {profile.description}\nrun {run.name}")
    return run, execution, flags


def profile_params(namespace: dict, stage: str) -> tuple[Profile, dict]:
    """(profile with its overridden values, the stage's own values and flags) of the data or
    benchmark notebook."""
    values = notebook_values(namespace, stage)
    own = {k: values.pop(k) for k in (*STAGES[stage][0], *STAGES[stage][1])
           if k in values and k != "profile"}
    profile, why = get_profile(values.pop("profile", "auto"), **values)
    print(f"profile {profile.name!r} ({why}): {profile.description}")
    return profile, own


def model_list(text) -> list[int]:
    """Table 2 models from "1,2,9" (each checked)."""
    from .registry import spec

    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ValueError("models must list Table 2 models, e.g. '5,9,12'")
    try:
        return [spec(int(t)).model for t in items]
    except ValueError as err:
        raise ValueError(f"models must be Table 2 models 1-14 separated by commas, got "
                         f"{text!r} ({err})") from None
