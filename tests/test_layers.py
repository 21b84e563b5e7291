"""The package's house rules (the layout the README's table describes): method modules import
no workflow or book module, workflow modules import no book module, no stage imports another,
no import cycle between modules, and no module over 600 lines."""

import ast
import graphlib

import pytest

from diffsurr import io

PACKAGE = io.REPO_ROOT / "diffsurr"
METHOD = {"solver", "solver_torch", "reference_solution", "data", "nets", "choices", "registry",
          "loss", "rollback", "trainconfig", "train", "plateau", "metrics", "statistics",
          "speedup", "baselines", "io"}
MAX_LINES = 600


def _name(path):
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")


def _layer(module: str) -> int:
    if module.split(".")[0] == "book":
        return 2
    return 0 if module in METHOD else 1


def _imports(path, module: str, top_only: bool) -> set[str]:
    """The diffsurr modules ``path`` imports (with ``top_only``, at module level only)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_only else ast.walk(tree)
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    out = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = (package[:len(package) - node.level + 1] if node.level else [])
            parts = base + (node.module.split(".") if node.module else [])
            if node.level == 0:
                if parts[0] != "diffsurr":
                    continue
                parts = parts[1:]
            for alias in node.names:
                full = ".".join(parts + [alias.name])
                out.add(full if full in MODULES else ".".join(parts))
        elif isinstance(node, ast.Import):
            out |= {a.name.removeprefix("diffsurr.") for a in node.names
                    if a.name.startswith("diffsurr.")}
    return {m for m in out if m in MODULES and m != module}


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}
MODULES.pop("", None)


def test_the_layers_are_known():
    assert METHOD <= set(MODULES), sorted(METHOD - set(MODULES))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_from_a_higher_layer(module):
    up = {m for m in _imports(MODULES[module], module, top_only=False)
          if _layer(m) > _layer(module)}
    assert not up, f"{module} (layer {_layer(module)}) imports {sorted(up)}"


def test_no_stage_imports_another_stage():
    stages = [m for m in MODULES if m.startswith("stages.") and m != "stages"]
    for module in stages:
        other = {m for m in _imports(MODULES[module], module, False) if m.startswith("stages.")}
        assert not other, f"{module} imports {sorted(other)}"


def test_no_import_cycle_at_module_level():
    graph = {m: _imports(p, m, top_only=True) for m, p in MODULES.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as err:
        pytest.fail(f"import cycle: {err.args[1]}")


def test_no_module_over_600_lines():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long


def test_the_import_scan_sees_relative_imports_at_every_depth(tmp_path):
    """The scan is not blind: a method module importing the book inside a function, and a
    figure module importing a chapter's sibling two levels up, are found."""
    solver = PACKAGE / "solver.py"
    assert "book.report" not in _imports(solver, "solver", False)
    probe = tmp_path / "solver.py"
    probe.write_text(solver.read_text() + "\n\ndef _x():\n    from .book import report\n")
    assert "book.report" in _imports(probe, "solver", False)
    assert "book.report" not in _imports(probe, "solver", True)
    deep = tmp_path / "study.py"
    deep.write_text("from .. import claims\nfrom ..report import fmt\n")
    assert _imports(deep, "book.plots.study", True) == {"book.claims", "book.report"}
