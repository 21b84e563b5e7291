"""Snakemake plans no job for results that are complete, whatever their files' ages: on a fresh
clone the checkout order sets them, and the data set is regenerated after the results were
committed. A missing result is still planned, alone once the data sets exist, which
`make study` sees to first."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from diffsurr.bench import planned_output
from diffsurr.payoff import planned_output as payoff_output
from diffsurr.profiles import get_profile
from diffsurr.study import generalised_runs, study_runs

ROOT = Path(__file__).resolve().parent.parent
SMOKE = get_profile("smoke")[0]
RUNS = [run.name for run in study_runs(SMOKE)]
PROFILES = {"local": [], "slurm": ["--profile", str(ROOT / "workflow" / "slurm")]}


def _touch(path: Path, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    os.utime(path, (mtime, mtime))


@pytest.fixture
def clone(tmp_path) -> Path:
    """A smoke study's complete results as a fresh clone has them: weights for half the runs
    (large ones are not committed), every model.pt newer than its results, no data set."""
    res, t0 = tmp_path / "results" / "smoke", 1.7e9
    for i, run in enumerate(RUNS):
        _touch(res / run / "history.nc", t0)
        _touch(res / run / "eval.nc", t0)
        if i % 2:
            _touch(res / run / "model.pt", t0 + 10)
    for run in generalised_runs(SMOKE):
        _touch(res / run.name / "generalise.nc", t0)
    for name in ("benchmark", "payoff"):
        _touch(res / "notebooks" / f"{name}.ipynb", t0)
    for path in (planned_output(SMOKE, quick=True), payoff_output(SMOKE, quick=True)):
        _touch(tmp_path / path, t0)
    return tmp_path


def _planned(workdir: Path, profile: str, target: str = "results") -> str:
    res = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "-n", "--cores", "1",
         "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
         *PROFILES[profile], "--config", "profile=smoke", "--", target],
        capture_output=True, text=True, cwd=workdir,
        env={k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "DIFFSURR_RESULTS")}
        | {"PATH": "/usr/bin:/bin", "DIFFSURR_RESULTS": str(workdir / "results")})
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def _jobs(out: str) -> set[str]:
    return {line.split()[1].rstrip(":") for line in out.splitlines()
            if line.startswith("rule ") or line.startswith("localrule ")}


@pytest.mark.parametrize("profile", PROFILES)
def test_complete_results_plan_nothing_before_or_after_the_data_is_regenerated(clone, profile):
    assert _jobs(_planned(clone, profile)) <= {"results"}
    _touch(clone / "results" / "smoke" / "data.nc", 1.7e9 + 20)
    assert _jobs(_planned(clone, profile)) <= {"results"}


def test_a_missing_result_is_planned_alone(clone):
    """With the data set regenerated (as ``make book`` does): the evaluation of a run with
    its weights; for one without, its training and every result of it."""
    res = clone / "results" / "smoke"
    _touch(res / "data.nc", 1.7e9 + 20)
    (res / RUNS[1] / "eval.nc").unlink()
    out = _planned(clone, "local")
    assert _jobs(out) == {"evaluate", "results"} and f"{RUNS[1]}/eval.nc" in out
    (res / RUNS[0] / "eval.nc").unlink()
    out = _planned(clone, "local")
    assert _jobs(out) == {"train", "evaluate", "generalise", "results"}
    assert out.count("rule train:") == 1 and f"{RUNS[0]}/model.pt" in out


def test_make_study_makes_the_data_sets_before_it_plans_the_results(clone):
    out = _planned(clone, "local", target="data_sets")
    assert _jobs(out) == {"data", "data_sets"} and "results/smoke/data.nc" in out
    make = subprocess.run(["make", "-n", "study", "PROFILE=smoke"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    assert 0 < make.index("-- data_sets") < make.index("-- results")
