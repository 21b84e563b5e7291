"""The reproduce chapter: profiles, provenance and stage times of the run shown, and the
executed stage notebooks in stage order.

:func:`copy_executed` is what :mod:`diffsurr.book.build` runs to put the papermill outputs
under ``book/executed/``: each copy's name starts with its stage's place in :data:`STAGES`,
so that the book's sidebar (``_toc.yml``: ``glob: book/executed/*``, sorted by name) lists
them in stage order; :mod:`diffsurr.book.sphinx_ext` titles them by run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from ..profiles import PROFILES, Profile
from ..results import evaluated_runs, load_attrs, load_notebook
from ..study import GENERALISE_FILE as GENERALISE
from ..runid import DATA_KEYS, data_path, results_dir

STAGES = ("data", "train", "evaluate", "generalise", "benchmark", "payoff", "baselines")
"""The stage notebooks in the order the workflow runs them (``notebooks/<stage>.ipynb``)."""
STAGE_WORDS = {"data": "data", "train": "training", "evaluate": "evaluation",
               "generalise": "generalisation", "benchmark": "benchmark",
               "payoff": "pay-off map", "baselines": "baselines' cost"}
"""How the page names each stage."""


# ---------------------------------------------------------------- executed notebooks
def stage_of(stem: str) -> str:
    """The stage of an executed notebook ``<stage>[_<run>]`` (ValueError for another name)."""
    stage = stem.partition("_")[0]
    if stage not in STAGES:
        raise ValueError(f"{stem!r} is not an executed stage notebook: expected "
                         f"<stage>[_<run>] with a stage of {STAGES}")
    return stage


def ordered_name(name: str) -> str:
    """``train_model_09.ipynb`` -> ``2_train_model_09.ipynb``: the stage's place in
    :data:`STAGES` first, so that sorting by name sorts by stage."""
    return f"{STAGES.index(stage_of(Path(name).stem)) + 1}_{name}"


PROGRESS = re.compile(r"[^\n]*\r[^\n]*\n?")
"""A line a progress bar redraws with carriage returns (tqdm), with its newline."""
LOCAL_PREFIX = re.compile(r"(?<![\w.~])/(?:[^\s/'\"]+/)*?(?=results/)")
"""The machine's folders before ``results/`` in an absolute path."""


def clean_stream(text: str) -> str:
    """A stream output as the book shows it: progress-bar lines dropped, paths to results
    made relative to the repository (``/home/u/diffsurr/results/x.nc`` -> ``results/x.nc``)."""
    return LOCAL_PREFIX.sub("", PROGRESS.sub("", text.replace("\r\n", "\n")))


def clean_outputs(nb: dict) -> dict:
    """``nb`` with :func:`clean_stream` applied to its stream outputs, and those left blank
    removed."""
    for cell in nb["cells"]:
        outputs = []
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                out["text"] = clean_stream("".join(out["text"]))
                if not out["text"].strip():
                    continue
            outputs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outputs
    return nb


def copy_executed(src: str | Path, dst: str | Path) -> list[Path]:
    """Copy every stage notebook of ``src`` into ``dst`` (made if missing) under
    :func:`ordered_name`, its outputs cleaned (:func:`clean_outputs`); returns the copies in
    sidebar (name) order."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    out = []
    for nb in sorted(Path(src).glob("*.ipynb")):
        target = dst / ordered_name(nb.name)
        cleaned = clean_outputs(load_notebook(nb))
        target.write_text(json.dumps(cleaned, indent=1, ensure_ascii=False) + "\n")
        out.append(target)
    return sorted(out, key=lambda p: p.name)


def notebooks_dir(profile: Profile) -> Path:
    """Where the workflow writes the executed stage notebooks: ``results/<profile>/notebooks``."""
    return results_dir(profile) / "notebooks"


def executed_counts(src: str | Path) -> pd.Series:
    """Number of executed notebooks per stage in ``src``, in stage order (stages without
    any left out)."""
    stages = pd.Series([stage_of(p.stem) for p in Path(src).glob("*.ipynb")], dtype=object)
    counts = stages.value_counts()
    return pd.Series({s: int(counts[s]) for s in STAGES if s in counts})


def executed_text(src: str | Path) -> str:
    """What follows the page: how many notebooks of each stage, in which order and titles."""
    counts = executed_counts(src)
    if counts.empty:
        return "No executed stage notebook was found for this run."
    listed = ", ".join(f"{STAGE_WORDS[s]} ({n})" for s, n in counts.items())
    return (f"The {int(counts.sum())} papermill outputs of this run, shown as they were "
            "executed (not re-run for the book), follow this page in stage order: "
            f"{listed}. Each is titled by its stage and run: model, training seed, any "
            "overridden value, and profile.")


# ---------------------------------------------------------------- the page's tables
def build_text(profile: Profile, why: str) -> str:
    """Which profile this build shows, and why."""
    return f"This build shows the **`{profile.name}`** profile ({why}): {profile.description}."


def value_text(value) -> str:
    """A profile value as the table shows it: a tuple as its items ("1, 2"), "—" when empty."""
    text = ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)
    return text or "—"


BASE = "reference"
"""The profile whose data the derived profiles (pilot, probe, convergence, datasize) use."""


def _derived(name: str) -> bool:
    """Whether profile ``name`` is the base profile's data with a few values changed."""
    p, base = PROFILES[name], PROFILES[BASE]
    return name != BASE and all(getattr(p, k) == getattr(base, k) for k in DATA_KEYS)


def profiles_table() -> pd.DataFrame:
    """Every value of every profile (``diffsurr/profiles.py``) that is not derived from the
    base profile, one column per profile."""
    rows = {name: {k: value_text(v) for k, v in p.values().items()}
            for name, p in PROFILES.items() if not _derived(name)}
    return pd.DataFrame(rows)


def derived_table() -> pd.DataFrame:
    """The profiles made from the base profile: only the values each changes (the rest as
    in the base), one column per profile ("·": the base's value)."""
    base = PROFILES[BASE].values()
    cols = {name: p.values() for name, p in PROFILES.items() if _derived(name)}
    keys = [k for k in base if any(c[k] != base[k] for c in cols.values())]
    return pd.DataFrame({name: {k: value_text(c[k]) if c[k] != base[k] else "·" for k in keys}
                         for name, c in cols.items()})


def _small(df: pd.DataFrame):
    return df.style.set_table_styles([{"selector": "", "props": [("font-size", "0.68rem")]}])


def profiles_styler():
    """:func:`profiles_table` in small type, so that its columns fit the page."""
    return _small(profiles_table())


def derived_styler():
    """:func:`derived_table` in the same small type."""
    return _small(derived_table())


def provenance_text(profile: Profile) -> str:
    """When, by which commit, on which host and with which versions the data were made (from
    the attributes of the data file; its arrays are not read)."""
    attrs = load_attrs(data_path(profile))
    versions = json.loads(attrs["versions"])
    return (f"Data made on {attrs['created']} by git commit `{attrs['git_commit']}` on host "
            f"`{attrs['host']}` with " + ", ".join(f"{k} {v}" for k, v in versions.items())
            + ".")


def _wall_time(path: Path) -> float:
    return float(load_attrs(path)["wall_time_s"])


def stage_times(profile: Profile) -> pd.DataFrame:
    """Wall time of each stage run from the ``wall_time_s`` attribute it writes: data, the
    training, evaluation and generalisation of each evaluated run (where they ran), each with
    the file that records it (in the run's folder)."""
    rows = [("data", data_path(profile).name, _wall_time(data_path(profile)))]
    for run in evaluated_runs(profile):
        rows += [(f"{stage} {run.label}", name, _wall_time(run.dir / name))
                 for stage, name in (("train", "history.nc"), ("evaluate", "eval.nc"),
                                     ("generalise", GENERALISE))
                 if (run.dir / name).exists()]
    return pd.DataFrame(rows, columns=["stage", "file", "wall time (s)"]).round(1)


def times_text(times: pd.DataFrame) -> str:
    """The stages' total wall time."""
    return (f"The stages took {times['wall time (s)'].sum() / 60:.1f} minutes in all "
            f"({len(times)} stage runs; tests and the book build not counted).")


def times_table(times: pd.DataFrame):
    """:func:`stage_times` as the page shows it."""
    return times.style.hide(axis="index").format({"wall time (s)": "{:.1f}"})

