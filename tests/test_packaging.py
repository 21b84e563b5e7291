"""The built wheel is the whole package: every module of ``diffsurr`` is in it and imports from
it alone, with the source tree off the path (an editable install hides a missing subpackage)."""

import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "diffsurr").rglob("*")
                if p.is_file() and p.suffix in (".py", ".csv") and "__pycache__" not in p.parts)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the package's sources (the build writes into its tree)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "diffsurr", src / "diffsurr",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp / "dist"), str(src)], check=True, cwd=tmp)
    return next((tmp / "dist").glob("diffsurr-*.whl"))


def test_wheel_holds_every_module_of_the_source_tree(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [f for f in SOURCE if f not in names] == []


def test_every_module_imports_from_the_wheel_alone(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    modules = [f[:-3].replace("/", ".").removesuffix(".__init__")
               for f in SOURCE if f.endswith(".py")]
    script = textwrap.dedent(f"""
        import importlib, sys
        sys.path = [{str(site)!r}] + [p for p in sys.path
                                      if p not in ("", ".", {str(ROOT)!r})]
        for name in {modules!r}:
            path = importlib.import_module(name).__file__
            assert path.startswith({str(site)!r}), f"{{name}} imported from {{path}}"
    """)
    res = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr[-3000:]
