"""Build the Jupyter Book of one profile's results, training nothing:
``python -m diffsurr.book.build PROFILE [--out DIR]`` (``make book``; the published book is the
``reference`` study's, from the files committed in ``results/reference/``).

1. Every result file is checked against the profile's manifest
   (:func:`diffsurr.manifest.verify`): the build stops, naming each file that differs from it,
   is unreadable, was not recorded or describes another model than its run's other files.
2. The profile's data file: the data set is never committed, so where it is missing it is drawn
   again from its seed, saying so (about a minute for the reference study's 20,000 samples),
   and its checksum must equal the one every trained run of the profile recorded
   (:func:`check_data_checksum`).
3. The executed stage notebooks of ``results/<profile>/notebooks/`` are copied into
   ``book/executed/`` (:func:`diffsurr.book.reproduce.copy_executed`).
4. ``jupyter-book build --all`` (every page anew) with ``$DIFFSURR_PROFILE`` set, into
   ``DIR/_build/html`` (``DIR``: the
   repository, so ``_build/html``, unless ``--out``). Pages show the runs that are in; a study
   under way says which are missing. ``--repository URL`` (the Pages workflow gives the
   repository it runs in) adds the repository and issues buttons; without it the book names
   no address.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .. import manifest
from ..io import REPO_ROOT
from ..profiles import Profile, get_profile
from .report import PROFILE_ENV
from ..runid import data_path, results_dir
from ..dataset import data_stage, ensure_data
from ..results import load_attrs
from ..study import study_runs
from .reproduce import copy_executed


def recorded_checksums(profile: Profile) -> dict[str, str]:
    """``data_sha256`` that each trained run of the study reading the profile's own data file
    recorded in its ``history.nc``, by run name."""
    out = {}
    for run in study_runs(profile):
        history = run.dir / "history.nc"
        if data_path(run.config()) == data_path(profile) and history.exists():
            out[run.name] = str(load_attrs(history).get("data_sha256"))
    return out


def check_data_checksum(profile: Profile) -> str:
    """Make the profile's data file where it is missing and return its checksum; ValueError
    naming the runs if it differs from what any trained run recorded."""
    path = data_path(profile)
    if path.exists():
        data_stage(profile)                     # the file's data values checked
    else:
        ensure_data(profile, "book build")
    sha = str(load_attrs(path)["data_sha256"])
    differ = {name: s for name, s in recorded_checksums(profile).items() if s != sha}
    if differ:
        raise ValueError(f"{path} has checksum {sha[:12]}, but runs were trained on other data: "
                         + ", ".join(f"{n} ({s[:12]})" for n, s in sorted(differ.items()))
                         + ". The data set no longer regenerates as it did; do not show these "
                         "results with it.")
    return sha


def config_file(repository: str | None, folder: Path) -> Path:
    """The book's ``_config.yml``; given ``repository`` (its GitHub URL), a copy in ``folder``
    that links to it with the repository and issues buttons."""
    path = REPO_ROOT / "_config.yml"
    if not repository:
        return path
    cfg = yaml.safe_load(path.read_text())
    cfg["repository"] = {"url": repository}
    cfg.setdefault("html", {}).update(use_repository_button=True, use_issues_button=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_config.yml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    return folder / "_config.yml"


ALSO_READ = ("pilot", "probe", "convergence", "datasize")
"""Profiles whose committed results the pages read besides the book's own (the reference
page's pilot, the convergence chapter's probe, runs and data-size runs): verified the
same way."""


def build(name: str, out: Path | None = None, repository: str | None = None) -> Path:
    """Build the book of profile ``name``; return the folder of its HTML."""
    profile, _ = get_profile(name)
    for checked in dict.fromkeys((profile.name, *ALSO_READ)):
        manifest.verify(checked)
    check_data_checksum(profile)
    executed = REPO_ROOT / "book" / "executed"
    shutil.rmtree(executed, ignore_errors=True)
    executed.mkdir(parents=True)
    copy_executed(results_dir(profile) / "notebooks", executed)
    # --all: every page is read and executed again, since results (or the profile) change
    # under unchanged page sources, which an incremental Sphinx build would serve stale
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(REPO_ROOT),
           "--all", "--warningiserror", "--keep-going",
           "--config", str(config_file(repository, (out or REPO_ROOT) / "_build"))]
    if out is not None:
        cmd += ["--path-output", str(out)]
    subprocess.run(cmd, check=True, env={**os.environ, PROFILE_ENV: profile.name})
    return (out or REPO_ROOT) / "_build" / "html"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", help="the profile whose results the book shows")
    parser.add_argument("--out", type=Path, help="build into OUT/_build/html")
    parser.add_argument("--repository", help="the repository's URL, for its buttons")
    args = parser.parse_args()
    try:
        print(f"book built in {build(args.profile, args.out, args.repository)}")
    except ValueError as err:               # results that fail their checks: no traceback
        sys.exit(f"book not built: {err}")
