"""The built book as a reader sees it: every page in headless Chromium with the network blocked
(diffsurr.book.browser), on a book built from the `smoke` profile.

The smoke results come from the workflow (`snakemake --config profile=smoke results`, which
only computes what is missing under results/smoke/), and the book is built into
_build/smoke-book/ (not _build/html, which holds the real profile's book). Set
$DIFFSURR_BOOK_HTML to check an already built book instead (e.g. _build/html after `make all`).

Without Chromium (`apt-get install chromium`) or Playwright the test skips, except under
CI=true, where it fails: CI must run it.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diffsurr.book import browser

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need_browser():
    missing = []
    if browser.chromium_path() is None:
        missing.append("Chromium (apt-get install chromium, or set $CHROMIUM)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("Playwright for Python (pip install playwright)")
    if missing:
        msg = "browser test needs " + " and ".join(missing)
        if IN_CI:
            pytest.fail(msg + " -- under CI=true this test must run, not skip")
        pytest.skip(msg)


def _run(args, **kwargs):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "DIFFSURR_PROFILE": "smoke"}
    env.pop("DIFFSURR_RESULTS", None)
    res = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, **kwargs)
    assert res.returncode == 0, f"{args[:3]} failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    return res


# What the book is built from: when none of it is newer than the smoke book, the book is reused.
BOOK_INPUTS = ("_config.yml", "_toc.yml", "references.bib", "book", "_static", "diffsurr",
               "results/smoke")


def _newest(paths) -> float:
    newest = 0.0
    for rel in paths:
        path = ROOT / rel
        files = [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file())
        for f in files:
            if "executed" not in f.parts and "__pycache__" not in f.parts:
                newest = max(newest, f.stat().st_mtime)
    return newest


@pytest.fixture(scope="module")
def book_html():
    """A built book: $DIFFSURR_BOOK_HTML (CI: the real profile's book), else the smoke book in
    _build/smoke-book/, rebuilt only when an input is newer (results/smoke is computed by the
    workflow only where missing: about 10 minutes the first time on 2 cores, then nothing)."""
    _need_browser()
    given = os.environ.get("DIFFSURR_BOOK_HTML")
    if given:
        assert (Path(given) / "index.html").exists(), f"no built book in {given}"
        return Path(given).resolve()
    start = time.perf_counter()
    _run([str(BIN / "snakemake"), "results", "--cores", "2", "--quiet", "rules", "--config",
          "profile=smoke"])
    out = ROOT / "_build" / "smoke-book"
    stamp = out / "built"
    if stamp.exists() and stamp.stat().st_mtime > _newest(BOOK_INPUTS):
        return out / "_build" / "html"
    shutil.rmtree(out, ignore_errors=True)
    _run([str(BIN / "python"), "-m", "diffsurr.book.build", "smoke", "--out", str(out)])
    stamp.touch()
    print(f"smoke book built in {time.perf_counter() - start:.0f} s")
    return out / "_build" / "html"


def test_every_page_passes_in_a_browser_offline(book_html):
    shots = book_html.parent / "screenshots"     # _build/screenshots for _build/html
    reports = browser.check_book(book_html, shots)
    assert len(reports) >= 12, [r.page for r in reports]
    assert all(r.screenshot and Path(r.screenshot).exists() for r in reports if not r.redirect)
    assert not any(r.problems for r in reports), browser.summary(reports)


BROKEN = ('<p>raw: $$x^2$$</p>'
          '<img src="_images/does-not-exist.png" alt="missing">'
          '<img src="https://example.org/remote.png" alt="remote">'
          '<table><tr><td style="padding:0">1.15e+03</td><td style="padding:0">33.6</td>'
          '</tr></table>'
          '<table style="width:4000px"><tr><td>wide</td><td>table</td></tr></table>'
          '<script>console.error("broken on purpose")</script>')
BROKEN_FINDS = ("maths not typeset", "raw TeX", "image not loaded", "network request blocked",
                "columns run together", "wider than the content column", "console error")


def break_page(page: Path) -> None:
    """Break ``page`` on purpose: MathJax from a CDN (as before the maths was bundled), a missing
    and a remote image, two columns that run together, a table wider than the page, a console
    error."""
    html = page.read_text()
    assert "_static/mathjax/tex-chtml.js" in html, "the page does not load the bundled MathJax"
    html = re.sub(r'src="[./]*_static/mathjax/tex-chtml.js[^"]*"',
                  'src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"', html)
    page.write_text(html.replace("</article>", BROKEN + "</article>", 1))


def test_the_check_fails_on_a_broken_page(book_html, tmp_path):
    """A copy of the book with one page broken on purpose in every way the check looks for;
    the other pages still pass."""
    copy = tmp_path / "html"
    shutil.copytree(book_html, copy, ignore=shutil.ignore_patterns("_sources", "*.ipynb"))
    break_page(copy / "book" / "problem.html")
    reports = browser.check_book(copy, None, only=["book/problem.html", "book/table2.html"])
    problems = "\n".join(p for r in reports if r.page == "book/problem.html" for p in r.problems)
    for expected in BROKEN_FINDS:
        assert expected in problems, f"the check missed {expected!r}:\n{problems}"
    other = next(r for r in reports if r.page == "book/table2.html")
    assert not other.problems, other.problems


def test_a_full_check_replaces_the_screenshots(tmp_path):
    _need_browser()
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text(
        "<html><head><title>A</title></head><body><p>a</p></body></html>")
    shots = tmp_path / "shots"
    shots.mkdir()
    (shots / "book__gone.png").write_bytes(b"stale")
    browser.check_book(html, shots)
    assert sorted(p.name for p in shots.iterdir()) == ["index.png"]


def test_duplicate_sidebar_titles_are_found():
    reports = [browser.PageReport("a.html", title="A", sidebar=["Intro", "Stage 2", "Stage 2"]),
               browser.PageReport("b.html", title="A", sidebar=["Intro", "Stage 2", "Stage 2"])]
    browser._book_wide(reports)
    text = "\n".join(reports[0].problems)
    assert "sidebar titles repeated" in text and "Stage 2" in text
    assert "page title 'A' on 2 pages" in text


def test_offline_maths_and_citations_are_configured():
    import yaml

    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "sphinx-mathjax-offline" in cfg["sphinx"]["extra_extensions"]
    assert cfg["bibtex_bibfiles"] == ["references.bib"]
    bib = (ROOT / "references.bib").read_text()
    for key in ("toledo2022arxiv", "toledo2021frontiers", "toledo2021code", "toledo2023encoder",
                "buzbee1970direct", "li2021fno", "takamoto2022pdebench", "mcgreivy2024weak",
                "ronneberger2015unet",
                "jupyterbook2020", "papermill", "molder2021snakemake"):
        assert f"{{{key}," in bib
        assert any(f"`{key}`" in p.read_text() for p in (ROOT / "book").glob("*.md")), \
            f"{key} is never cited in the book"


def test_executed_stage_notebooks_get_unique_titles():
    import json

    from diffsurr.book import sphinx_ext

    nb = {"cells": [{"cell_type": "markdown", "source": ["# Stage 2: train one Table 2 model\n",
                                                         "Trains model `model`."]}]}
    out = json.loads(sphinx_ext.retitle(json.dumps(nb), "train_model_09_seed1"))
    assert out["cells"][0]["source"] == "# Stage 2: train model_09_seed1\nTrains model `model`."
    assert sphinx_ext.title_for("evaluate_model_12_head-table1", "Stage 3: evaluate one model") \
        == "Stage 3: evaluate model_12_head-table1"
    assert sphinx_ext.title_for("data", "Stage 1: data") == "Stage 1: data"


def test_no_browser_skips_locally_and_fails_under_ci(tmp_path):
    test = Path(__file__).resolve()
    env = {**os.environ, "CHROMIUM": str(tmp_path / "no-such-browser"),
           "DIFFSURR_BOOK_HTML": str(tmp_path)}
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
            f"{test}::test_every_page_passes_in_a_browser_offline"]
    local = subprocess.run(args, env={**env, "CI": ""}, capture_output=True, text=True,
                           cwd=ROOT)
    assert local.returncode == 0 and "SKIPPED" in local.stdout, local.stdout[-2000:]
    ci = subprocess.run(args, env={**env, "CI": "true"}, capture_output=True, text=True, cwd=ROOT)
    assert ci.returncode != 0 and "must run, not skip" in ci.stdout, ci.stdout[-2000:]


# What the supplement page showed before its fix (myst-nb's markup, the builder's path kept).
SUPPLEMENT_OUTPUT = (
    '<div class="cell_output docutils container"><p>Each slice has its own bins.</p>'
    '<div class="output stderr highlight-myst-ansi notranslate"><div class="highlight"><pre>'
    '/work/main/diffsurr/book/supplement.py:55: RuntimeWarning: invalid value encountered in '
    'multiply\n  return (peak * sd * np.sqrt(2 * np.pi))[ok]\n</pre></div></div>'
    '<div class="output text_plain highlight-myst-ansi notranslate"><div class="highlight"><pre>'
    '&lt;IPython.core.display.Markdown object&gt;\n</pre></div></div></div>')
LONG = "x" * 400
DEBUG_PAGES = {   # page: (body, what the check must report)
    "warning": ("<p>fit.py:3: UserWarning: the fit did not converge</p>", "a warning"),
    "traceback": ("<pre>Traceback (most recent call last):\n  File \"x\", line 1</pre>",
                  "a traceback"),
    "repr": ("<p>&lt;diffsurr.metrics.Slices object at 0x7f3a2b&gt;</p>", "an object's repr"),
    "ipython": ("<p>&lt;IPython.core.display.HTML object&gt;</p>", "an IPython repr"),
    "path": ("<p>written to /root/diffsurr/results/eval.nc</p>", "a local path"),
    "folded_path": ("<details><summary>more</summary><p>in /home/ci/diffsurr</p></details>",
                    "a local path"),
    "stderr": ('<div class="cell_output"><div class="output stderr"><div class="highlight">'
               "<pre>epoch 3 of 8</pre></div></div></div>", "stderr output shown"),
    "wide_pre": (f"<pre>{LONG}</pre>", "code or output cut off"),
    "wide_highlight": ('<div class="highlight" style="overflow:hidden">'
                       f'<pre style="width:max-content">{LONG}</pre></div>',
                       "code or output cut off"),
    "supplement": (SUPPLEMENT_OUTPUT, "stderr output shown"),
}
CLEAN_BODY = ("<p>Results in results/reference/model_09/, see https://example.org/home/x; "
              "a Warning sign, an object at rest.</p>"
              f"<pre style='white-space:pre-wrap'>{' '.join(['word'] * 200)}</pre>")


@pytest.fixture(scope="module")
def debug_reports(tmp_path_factory):
    """One synthetic page per kind of debug output, and a clean one, checked in one browser."""
    _need_browser()
    html = tmp_path_factory.mktemp("debug")
    for name, body in {**{k: b for k, (b, _) in DEBUG_PAGES.items()}, "clean": CLEAN_BODY}.items():
        (html / f"{name}.html").write_text(
            f"<html><head><title>{name}</title></head><body>"
            f'<article class="bd-article" style="width:600px">{body}</article></body></html>')
    return {r.page.removesuffix(".html"): "\n".join(r.problems)
            for r in browser.check_book(html, None)}


@pytest.mark.parametrize("name", DEBUG_PAGES)
def test_debug_output_fails_a_page(debug_reports, name):
    assert DEBUG_PAGES[name][1] in debug_reports[name], debug_reports[name]


def test_the_supplement_page_before_its_fix_fails_every_way(debug_reports):
    for what in ("a warning", "an IPython repr", "an object's repr", "a local path",
                 "stderr output shown"):
        assert what in debug_reports["supplement"], debug_reports["supplement"]


def test_prose_like_debug_output_passes(debug_reports):
    assert debug_reports["clean"] == "", debug_reports["clean"]
