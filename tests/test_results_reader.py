"""``diffsurr.results`` is the one reader of result files: no other module opens a netCDF file,
a checkpoint or a JSON record itself, except the reading machinery allowed below."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "diffsurr"

OPENERS = {"read_netcdf", "open_dataset", "open_mfdataset", "open_dataarray", "load_dataset",
           "load_dataarray"}
"""Calls that open a netCDF file, whatever object they are called on."""
READS_TEXT = {"read_text", "read_bytes", "open"}
"""Calls whose result, handed to ``json.loads``, is a file's contents."""

ALLOWED = {
    ("diffsurr/results.py", "*"): "the reader itself",
    ("diffsurr/io.py", "read_netcdf"): "the netCDF primitive every loader uses",
    ("diffsurr/io.py", "load_checkpoint"): "the checkpoint primitive (weights only, with its "
                                           "SHA-256)",
    ("diffsurr/data.py", "load"): "a method module (may not import the workflow's results.py): "
                                  "reads a data set it generated, through io.read_netcdf",
    ("diffsurr/ties.py", "recorded_model"): "the model a file names; results.py checks ties "
                                            "through it (results.py imports ties)",
    ("diffsurr/manifest.py", "load"): "the manifest reads its own record, which it writes",
    ("diffsurr/manifest.py", "problems"): "verification: each data file's checksum, an "
                                          "unreadable file named as a problem",
    ("diffsurr/manifest.py", "_stored_checksums"): "adopting files: the checksums they record",
    ("diffsurr/stages/train.py", "_trained"): "the train stage's resume: whether the run it "
                                              "wrote finished",
    ("diffsurr/slurm.py", "compare_netcdf"): "two results roots compared variable by variable, "
                                             "lazily (data files included)",
}
"""(module, function) pairs that may open result files, each with why."""


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _owner(func: ast.expr) -> str:
    return _name(func.value) if isinstance(func, ast.Attribute) else ""


def _opens(call: ast.Call) -> bool:
    name, owner = _name(call.func), _owner(call.func)
    if name in OPENERS or (owner, name) in {("json", "load"), ("torch", "load")}:
        return True
    return (owner, name) == ("json", "loads") and any(
        isinstance(n, ast.Call) and _name(n.func) in READS_TEXT
        for arg in call.args for n in ast.walk(arg))


def openings(path: Path) -> list[tuple[str, int]]:
    """(innermost enclosing function, line) of each call in ``path`` that opens a file."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, where):
        for child in ast.iter_child_nodes(node):
            inner = (child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                     else where)
            if isinstance(child, ast.Call) and _opens(child):
                found.append((where, child.lineno))
            visit(child, inner)

    visit(tree, "<module>")
    return found


def test_only_the_reader_and_its_machinery_open_result_files():
    stray = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        if (module, "*") in ALLOWED:
            continue
        stray += [f"{module}:{line} in {where}()" for where, line in openings(path)
                  if (module, where) not in ALLOWED]
    assert stray == [], ("these open result files themselves; read them through a loader of "
                         "diffsurr/results.py: " + ", ".join(stray))


def test_every_allowance_is_still_used():
    for (module, where), why in ALLOWED.items():
        if where != "*":
            assert where in {w for w, _ in openings(ROOT / module)}, \
                f"{module}:{where}() no longer opens a file ({why}); drop it from ALLOWED"


def test_the_scan_sees_each_kind_of_opening(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f(p):\n    xr.open_dataset(p)\n    io.read_netcdf(p)\n"
                      "    xr.load_dataset(p)\n    json.load(open(p))\n    torch.load(p)\n"
                      "    json.loads(p.read_text())\n    json.loads(attrs['versions'])\n")
    assert openings(source) == [("f", n) for n in (2, 3, 4, 5, 6, 7)]
