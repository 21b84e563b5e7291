"""Repository hygiene: notebook pairs agree, committed notebooks carry no outputs, the conda
environment lists the same packages as pyproject.toml."""

import subprocess
import tomllib
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PAIRED = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "book").rglob("*.ipynb"))


def _cells(nb):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


@pytest.mark.parametrize("ipynb", [p for p in PAIRED if not {"_build", "executed"} & set(p.parts)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_pair_agrees_and_has_no_outputs(ipynb):
    py = ipynb.with_suffix(".py")
    md = ipynb.with_suffix(".md")
    text = py if py.exists() else md
    assert text.exists(), f"{ipynb} has no paired .py or .md file"
    nb, pair = jupytext.read(ipynb), jupytext.read(text)
    assert _cells(nb) == _cells(pair), f"{ipynb.name} and {text.name} differ: run jupytext --sync"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, \
                f"{ipynb.name} is committed with outputs"


def test_stage_notebooks_have_parameters_cells():
    for name in ("data", "train", "evaluate", "benchmark"):
        nb = jupytext.read(ROOT / "notebooks" / f"{name}.py")
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name} needs exactly one cell tagged 'parameters'"


def test_environment_yml_matches_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    norm = lambda xs: sorted(x.replace(" ", "").lower() for x in xs)  # noqa: E731
    assert norm(pip) == norm(deps)


def test_committed_results_stay_small():
    """Committed weights at most 5 MB each, results/reference/ at most 100 MB, no data sets
    (they are regenerated from their seeds and checked against the recorded checksum)."""
    files = subprocess.run(["git", "ls-files", "-s", "results"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split("\n")
    paths = [ROOT / line.split("\t")[1] for line in files if "\t" in line]
    sizes = {p: p.stat().st_size for p in paths if p.exists()}
    assert not [p for p in sizes if p.name.startswith("data") and p.suffix == ".nc"]
    assert not [p for p, n in sizes.items() if p.suffix == ".pt" and n > 5e6]
    assert sum(n for p, n in sizes.items() if "reference" in p.parts) <= 100e6


def test_pytest_says_why_tests_were_skipped():
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    assert "-rs" in pytest_options["ini_options"]["addopts"].split()
