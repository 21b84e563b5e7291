"""Run and data identity: the one place a run's folder and a data set's file are named and parsed.

A run is (profile, Table 2 model, training seed, every overridden profile value that shapes
what it computes). Its folder is ``results/<profile>/<name>`` with ::

    name = model_NN [_seedS] [_key-value ...]

``_seedS`` only when the seed differs from the profile's, and ``key-value`` for each identity
value that differs from the named profile, in the profile's field order, written by
:func:`format_value` (``model_09_seed1_lr-0.0001_rollback-none``). :meth:`RunId.parse` reads
such a name back and refuses anything that does not write back to itself.

The data a run reads is identified by :data:`DATA_KEYS`; its file is ``data.nc`` for the
profile's own values and ``data_key-value....nc`` otherwise, and the file's stored values
must agree (:func:`diffsurr.results.load_split` checks).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import io
from .baselines import ARCH_NAMES
from .profiles import PROFILES, VALUE_NAMES, Profile
from .registry import spec
from .trainconfig import EXECUTION_SETTINGS

EXECUTION = EXECUTION_SETTINGS
"""How a run executes, not what it computes: never part of its identity."""
STUDY = ("extra_seeds", "seed_models", "head_variant", "nn1_variant_models", "baselines",
         "n_generalise", "milestones", "models", "train_divisors")
"""Which runs a study holds (and the generalisation stage's size): not a run's identity."""
IDENTITY_KEYS = tuple(k for k in VALUE_NAMES if k not in (*EXECUTION, *STUDY, "seed"))
"""Profile values that name a run's folder when overridden."""
DATA_KEYS = ("n_samples", "mode", "placement", "data_seed", "test_fraction", "val_fraction",
             "split_seed")
"""Profile values that shape a data set (with the grid, D and γ of :mod:`diffsurr.data`)."""

_NAME = re.compile(r"model_(?P<model>\d{2})(?:_seed(?P<seed>\d+))?(?P<rest>(?:_.+)?)")


def results_root() -> Path:
    """``<repo>/results``, or ``$DIFFSURR_RESULTS`` (tests use a temporary folder)."""
    return Path(os.environ.get("DIFFSURR_RESULTS", io.REPO_ROOT / "results"))


def results_dir(profile: Profile | str) -> Path:
    """``results/<profile>/``."""
    return results_root() / (profile if isinstance(profile, str) else profile.name)


def format_value(value) -> str:
    """A profile value as it appears in a folder name: ``repr`` for numbers, text as is."""
    return (repr(value) if isinstance(value, (int, float)) and not isinstance(value, bool)
            else str(value))


def _tag(profile: Profile, keys) -> str:
    base = PROFILES[profile.name]
    return "_".join(f"{k}-{format_value(getattr(profile, k))}" for k in keys
                    if getattr(profile, k) != getattr(base, k))


def _parse_tag(profile_name: str, tag: str, keys, what: str) -> dict:
    """``key-value_key-value`` back into a dict; keys may hold underscores, values may not."""
    pattern = "|".join(sorted(keys, key=len, reverse=True))
    items = re.findall(rf"_({pattern})-([^_/]+)", tag)
    if "".join(f"_{k}-{v}" for k, v in items) != tag:
        raise ValueError(f"{what} {tag!r}: cannot read it as _key-value pairs with keys from "
                         f"{list(keys)} (profile {profile_name!r})")
    return {k: v for k, v in items}


@dataclass(frozen=True)
class RunId:
    """One training run: profile name, Table 2 model, seed and overridden identity values."""

    profile: str
    model: int
    seed: int
    overrides: tuple[tuple[str, object], ...] = ()

    @classmethod
    def make(cls, profile: str, model: int, seed: int | None = None, **values) -> "RunId":
        """The run of ``model`` in profile ``profile`` with ``values`` overridden (checked;
        values equal to the profile's are dropped, so one run has one name)."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; valid: {sorted(PROFILES)}")
        model = spec(model).model
        wrong = sorted(set(values) - set(IDENTITY_KEYS))
        if wrong:
            raise ValueError(f"{wrong} are not part of a run's identity (valid: "
                             f"{list(IDENTITY_KEYS)}); pass execution settings to the stage")
        base = PROFILES[profile]
        config = base.replace(**values, **({} if seed is None else {"seed": seed}))
        overrides = tuple((k, getattr(config, k)) for k in IDENTITY_KEYS
                          if getattr(config, k) != getattr(base, k))
        return cls(profile, model, config.seed, overrides)

    @classmethod
    def of(cls, profile: Profile, model: int, seed: int | None = None) -> "RunId":
        """The run of ``model`` made with ``profile``'s values (and its seed unless given)."""
        return cls.make(profile.name, model, profile.seed if seed is None else seed,
                        **{k: getattr(profile, k) for k in IDENTITY_KEYS})

    @classmethod
    def parse(cls, profile: str, name: str) -> "RunId":
        """The run whose folder is ``results/<profile>/<name>``; ValueError for any name that
        :attr:`name` would not write exactly so."""
        m = _NAME.fullmatch(name)
        if not m:
            raise ValueError(f"{name!r} is not a run name: "
                             "expected model_NN[_seedS][_key-value...], "
                             "e.g. model_09_seed1_lr-0.0001")
        values = _parse_tag(profile, m["rest"], IDENTITY_KEYS, "run name part")
        seed = None if m["seed"] is None else int(m["seed"])
        run = cls.make(profile, int(m["model"]), seed, **values)
        if run.name != name:
            raise ValueError(f"{name!r} is not the canonical name of its run; the run it "
                             f"describes is named {run.name!r}")
        return run

    @property
    def name(self) -> str:
        base = PROFILES[self.profile]
        parts = ([f"model_{self.model:02d}"]
                 + ([f"seed{self.seed}"] if self.seed != base.seed else []))
        tag = _tag(self.config(), IDENTITY_KEYS)
        return "_".join(parts + ([tag] if tag else []))

    @property
    def label(self) -> str:
        """The run as the book names it: "model 9", "model 9, seed 1", "model 5 (clamped,
        preprint placement)", "model 12 (U-Net), seed 2" (:func:`label_value` for each
        overridden value, in the name's order)."""
        parts = [label_value(k, v) for k, v in self.overrides]
        base = PROFILES[self.profile]
        return (f"model {self.model}" + (f" ({', '.join(parts)})" if parts else "")
                + (f", seed {self.seed}" if self.seed != base.seed else ""))

    def config(self, **execution) -> Profile:
        """The profile this run uses: its overrides and seed, plus ``execution`` settings."""
        wrong = sorted(set(execution) - set(EXECUTION))
        if wrong:
            raise ValueError(f"{wrong} are not execution settings (valid: {list(EXECUTION)})")
        return PROFILES[self.profile].replace(**dict(self.overrides), seed=self.seed,
                                              **execution)

    @property
    def dir(self) -> Path:
        return results_dir(self.profile) / self.name

    def as_dict(self) -> dict:
        """The identity as plain values (stored in checkpoints and results)."""
        return {"profile": self.profile, "model": self.model, "seed": self.seed,
                "overrides": dict(self.overrides)}

    def attrs(self) -> dict:
        """netCDF attributes that name this run."""
        return {"run_name": self.name, "run_profile": self.profile, "run_model": self.model,
                "run_seed": self.seed, "run_overrides": json.dumps(dict(self.overrides))}

    def __str__(self) -> str:
        return f"{self.profile}/{self.name}"


_VALUE_LABELS = {
    ("mode", "clamped"): "clamped", ("mode", "production"): "production sources",
    ("placement", "preprint"): "preprint placement", ("placement", "code"): "code placement",
    ("rollback", "none"): "no roll-back", ("rollback", "code"): "the code's roll-back",
    ("rollback", "preprint"): "the preprint's roll-back",
    ("head", "relu"): "NN2 relu head", ("head", "table1"): "NN2 Table 1 head",
    **{("arch", k): v for k, v in ARCH_NAMES.items()}, ("arch", "table1"): "NN1/NN2",
}
_KEY_LABELS = {"epochs": "{} epochs", "lr": "lr {}", "width": "NN2 width {}",
               "nn1_head": "NN1 head {}", "nn1_lr_scale": "NN1 lr × {}", "batch_size": "batch {}",
               "nn1_warmup": "NN1 alone for {} epochs first"}


def label_value(key: str, value) -> str:
    """One overridden identity value as a run label shows it: "clamped", "U-Net", "4 epochs",
    "lr 0.0003", "NN1 lr × 0.005"; otherwise "key value"."""
    if (key, value) in _VALUE_LABELS:
        return _VALUE_LABELS[(key, value)]
    if key == "train_fraction" and float(1 / value).is_integer():
        return f"1/{round(1 / value)} of the training data"
    return _KEY_LABELS.get(key, key + " {}").format(format_value(value))


def run_label(profile: str, name: str) -> str:
    """The label (:attr:`RunId.label`) of the run named ``name`` in ``profile``; the name itself
    where it is not a run name (ValueError is not raised: a page shows what it has)."""
    try:
        return RunId.parse(profile, name).label
    except ValueError:
        return name


def data_path(profile: Profile) -> Path:
    """The data file of ``profile``: ``data.nc`` for the named profile's data values, else
    ``data_key-value....nc`` (a run never reads data made with other values)."""
    return _study_file(profile, "data", DATA_KEYS)


def _study_file(profile: Profile, stem: str, keys) -> Path:
    tag = _tag(profile, keys)
    return results_dir(profile) / (f"{stem}_{tag}.nc" if tag else f"{stem}.nc")


def parse_data_name(profile: str, stem: str) -> dict:
    """The data values a data file's stem (``data`` or ``data_key-value...``) stands for;
    ValueError unless :func:`data_path` would name them so."""
    if not stem.startswith("data"):
        raise ValueError(f"{stem!r} is not a data file name (data or data_key-value...)")
    values = _parse_tag(profile, stem[len("data"):], DATA_KEYS, "data file name part")
    config = PROFILES[profile].replace(**values)
    if data_path(config).stem != stem:
        raise ValueError(f"{stem!r} is not the canonical name of its data; it is "
                         f"{data_path(config).stem!r}")
    return {k: getattr(config, k) for k in values}


def data_values(profile: Profile) -> dict:
    """Every profile value that shapes the data set."""
    return {k: getattr(profile, k) for k in DATA_KEYS}


def identity_diff(stored: dict | None, current: dict, limit: int = 6) -> list[str]:
    """The keys (dotted paths) where two stored identities differ, each with both values;
    :data:`EXECUTION` settings are ignored (identities written before they left the identity
    still hold them). At most ``limit`` lines, then a count."""
    return io.dict_diff(stored, current, ignore=EXECUTION, limit=limit)
