"""Open every page of the built book in headless Chromium, offline, and check what a reader sees.

    python -m diffsurr.book.browser _build/html                # exit 1 and a list if anything fails
    python -m diffsurr.book.browser _build/html --shots DIR    # full-page screenshots (default
                                                          # <html>/../screenshots)

The browser is the system's Chromium (``apt-get install chromium``; ``$CHROMIUM`` overrides
``/usr/bin/chromium``), driven by Playwright for Python. Every request that is not for a
``file://`` (or ``data:``/``blob:``) URL is aborted and counted as a failure, so a page that
needs the network fails here. Per page it checks:

- no console errors and no uncaught page errors;
- no failed requests (a missing local file, or any network request);
- every image loaded (``complete`` and ``naturalWidth > 0``);
- every maths element typeset by MathJax, and no raw ``\\[``, ``$$`` or ``\\begin{`` in the
  visible text outside code;
- no table, figure, image or cell output wider than the content column;
- no table whose columns run together (adjacent cells' text closer than 4 px);
- no debug output: warnings, tracebacks, object reprs, local paths (:data:`DEBUG_TEXT`, also in
  folded ``<details>``), stderr output cells;
- no code or output block (``pre``, ``div.highlight``) wider than its box (cut off or
  scrolling);
- the sidebar's page titles unique, and the page's ``<title>`` unique across the book.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Flags for a root user in a container with no network (no sandbox, no background fetches).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", "--disable-default-apps",
                 "--disable-extensions", "--no-default-browser-check",
                 "--disable-features=Translate,OptimizationHints,MediaRouter"]
SKIP_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static", "screenshots"}
VIEWPORT = {"width": 1280, "height": 900}
LOCAL_ROOTS = ("/work/", "/root/", "/home/", "/tmp/", "/Users/", "/mnt/", "/var/folders/",
               f"{Path(__file__).resolve().parent.parent}/", "file:///")
"""Beginnings of paths on the builder's filesystem, which no page should show."""
DEBUG_TEXT = [
    ("a warning", r"\b\w*Warning:"),
    ("a traceback", r"Traceback \(most recent call last\)"),
    ("an object's repr", r"<[\w.]+ object( at 0x[0-9a-fA-F]+)?>"),
    ("an IPython repr", r"<IPython\."),
    ("a local path", r"(?:^|[^\w/.:-])(?:" + "|".join(map(re.escape, LOCAL_ROOTS)) + r")\S*"),
]
"""Debug output in a page's text, as (what, JavaScript regular expression)."""


def chromium_path() -> str | None:
    """``$CHROMIUM`` when set (None if that file does not exist), else /usr/bin/chromium, else
    ``chromium`` on PATH; None when absent."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"] if Path(os.environ["CHROMIUM"]).exists() else None
    for cand in (CHROMIUM, shutil.which("chromium"), shutil.which("chromium-browser")):
        if cand and Path(cand).exists():
            return str(cand)
    return None


def pages(html_dir: str | os.PathLike) -> list[Path]:
    """Every HTML page of a built book (not the files under _static, _sources, ...)."""
    html_dir = Path(html_dir)
    return sorted(p for p in html_dir.rglob("*.html")
                  if not SKIP_DIRS & set(p.relative_to(html_dir).parts[:-1]))


@dataclass
class PageReport:
    page: str
    title: str = ""
    sidebar: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    screenshot: str | None = None
    redirect: str | None = None     # a redirect page (JB's root index.html): its target
    seconds: float = 0.0


# Runs in the page after it has loaded and MathJax has finished. Returns a list of problems
# (strings), the document title and the sidebar's link texts.
_CHECK_JS = r"""
(debugPatterns) => {
  const problems = [];
  const visible = (el) => {
    const s = getComputedStyle(el);
    if (s.display === 'none' || s.visibility === 'hidden') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 || r.height > 0;
  };
  const short = (t) => t.replace(/\s+/g, ' ').trim().slice(0, 80);
  // images
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0)
      problems.push(`image not loaded: ${img.getAttribute('src')}`);
  }
  // maths
  const maths = document.querySelectorAll('.math, div.math, span.math');
  for (const m of maths) {
    if (!m.querySelector('mjx-container') && !m.closest('mjx-container'))
      problems.push(`maths not typeset: ${short(m.textContent)}`);
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const skip = 'pre, code, script, style, textarea, mjx-container, .highlight, kbd, samp';
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const t = n.textContent;
    if (!(t.includes('\\[') || t.includes('$$') || t.includes('\\begin{') ||
          t.includes('\\frac') || t.includes('\\nabla'))) continue;
    const el = n.parentElement;
    if (!el || el.closest(skip) || !visible(el)) continue;
    problems.push(`raw TeX in the text: ${short(t)}`);
  }
  // widths against the content column
  const column = document.querySelector('article.bd-article') ||
                 document.querySelector('main') || document.body;
  const box = column.getBoundingClientRect();
  const cs = getComputedStyle(column);
  const colRect = {left: box.left + parseFloat(cs.paddingLeft),       // the content box
                   right: box.right - parseFloat(cs.paddingRight)};
  colRect.width = colRect.right - colRect.left;
  const wide = column.querySelectorAll(
      'table, figure, img, .cell_output, .output, div.math, mjx-container[display="true"]');
  for (const el of wide) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    const w = Math.max(r.width, el.scrollWidth || 0);
    if (r.left < colRect.left - 2 || r.left + w > colRect.right + 2) {
      const what = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                   (el.className && typeof el.className === 'string' ?
                    '.' + el.className.trim().split(/\s+/).join('.') : '');
      problems.push(`wider than the content column (${Math.round(w)} px > ` +
                    `${Math.round(colRect.width)} px): ${what.slice(0, 80)}`);
    }
  }
  // table columns that run together
  for (const table of column.querySelectorAll('table')) {
    if (!visible(table)) continue;
    let reported = false;
    for (const row of table.rows) {
      let prev = null;
      for (const cell of row.cells) {
        const text = cell.textContent.trim();
        if (!text) { prev = null; continue; }
        const range = document.createRange();
        range.selectNodeContents(cell);
        const rects = [...range.getClientRects()].filter(r => r.width > 0);
        if (!rects.length) { prev = null; continue; }
        const left = Math.min(...rects.map(r => r.left));
        const right = Math.max(...rects.map(r => r.right));
        if (prev && left - prev.right < 4 && Math.abs(rects[0].top - prev.top) < 4) {
          problems.push(`table columns run together: "${short(prev.text)}" | "${short(text)}"` +
                        ` (${(left - prev.right).toFixed(1)} px apart)`);
          reported = true;
          break;
        }
        prev = {right, top: rects[0].top, text};
      }
      if (reported) break;
    }
  }
  // debug output: warnings, tracebacks, object reprs, local paths (also in folded details)
  const text = [document.body.innerText,
                ...[...document.querySelectorAll('details')].map(d => d.textContent)].join('\n');
  for (const [what, re] of debugPatterns) {
    const m = text.match(new RegExp(re, 'm'));
    if (m) problems.push(`${what} in the text: ${short(m[0])}`);
  }
  const stderr = [...column.querySelectorAll('.output.stderr, .cell_output .stderr')]
                 .filter(visible);
  if (stderr.length)
    problems.push(`stderr output shown (${stderr.length} blocks): ${short(stderr[0].textContent)}`);
  // code and output blocks that scroll or are cut off
  const cut = [...column.querySelectorAll('pre, div.highlight')]
              .filter(el => visible(el) && el.scrollWidth > el.clientWidth + 1);
  if (cut.length)
    problems.push(`code or output cut off (${cut.length} blocks; ${cut[0].scrollWidth} px in ` +
                  `a ${cut[0].clientWidth} px box): ${short(cut[0].textContent)}`);
  const sidebar = [...document.querySelectorAll('nav.bd-docs-nav a.reference, ' +
                                                '#bd-docs-nav a.reference')]
                  .map(a => a.textContent.replace(/\s+/g, ' ').trim());
  return {problems, title: document.title, sidebar};
}
"""

_MATHJAX_DONE_JS = """
async () => {
  for (let i = 0; i < 100 && document.querySelector('.math') && !window.MathJax?.startup?.promise;
       i++) await new Promise(r => setTimeout(r, 100));
  if (window.MathJax?.startup?.promise) await window.MathJax.startup.promise;
  return true;
}
"""


_REFRESH = re.compile(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', re.I)


def check_book(html_dir: str | os.PathLike, shots: str | os.PathLike | None = None,
               chromium: str | None = None, only: list[str] | None = None,
               timeout_s: float = 60) -> list[PageReport]:
    """Check every page of ``html_dir`` (or the pages named in ``only``, relative paths);
    return one :class:`PageReport` per page (``problems`` empty when it passed). Book-wide
    checks (duplicate sidebar entries, duplicate page titles) are added to the first page.
    Screenshots go to ``shots``, which a check of every page first empties of PNGs."""
    from playwright.sync_api import sync_playwright

    html_dir = Path(html_dir).resolve()
    exe = chromium or chromium_path()
    if exe is None:
        raise FileNotFoundError("no Chromium: apt-get install chromium, or set $CHROMIUM")
    todo = pages(html_dir)
    if only:
        todo = [p for p in todo if str(p.relative_to(html_dir)) in set(only)]
    if not todo:
        raise FileNotFoundError(f"no HTML pages under {html_dir}")
    shots = Path(shots) if shots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
        if not only:                     # screenshots of pages an earlier book had, gone
            for old in shots.glob("*.png"):
                old.unlink()
    reports: list[PageReport] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport=VIEWPORT, service_workers="block")
        current: dict = {}

        def route(r):
            url = r.request.url
            if url.startswith(("file://", "data:", "blob:", "about:")):
                r.continue_()
            else:
                current["rep"].problems.append(f"network request blocked: {url[:120]}")
                r.abort("internetdisconnected")

        context.route("**/*", route)
        for path in todo:
            rel = str(path.relative_to(html_dir))
            rep = PageReport(rel)
            current["rep"] = rep
            start = time.perf_counter()
            refresh = _REFRESH.search(path.read_text(errors="replace"))
            if refresh:   # only check that its target exists
                rep.redirect = refresh.group(1)
                if not (path.parent / rep.redirect.split("#")[0]).is_file():
                    rep.problems.append(f"redirects to a missing page: {rep.redirect}")
                reports.append(rep)
                continue
            page = context.new_page()
            page.set_default_timeout(timeout_s * 1000)
            page.on("console", lambda msg, rep=rep: rep.problems.append(
                f"console {msg.type}: {msg.text[:200]}") if msg.type == "error" else None)
            page.on("pageerror", lambda exc, rep=rep: rep.problems.append(
                f"page error: {str(exc)[:200]}"))

            def failed(req, rep=rep):
                if req.url.startswith("file://"):
                    rep.problems.append(f"request failed: {req.url[len('file://'):][-120:]} "
                                        f"({req.failure})")
            page.on("requestfailed", failed)
            try:
                page.goto(path.as_uri(), wait_until="load")
                page.wait_for_load_state("networkidle")
                page.evaluate(_MATHJAX_DONE_JS)
                out = page.evaluate(_CHECK_JS, DEBUG_TEXT)
                rep.problems += out["problems"]
                rep.title, rep.sidebar = out["title"], out["sidebar"]
                if shots:
                    shot = shots / (rel.replace("/", "__").removesuffix(".html") + ".png")
                    page.screenshot(path=str(shot), full_page=True)
                    rep.screenshot = str(shot)
            except Exception as exc:  # a page that does not load is a failure, not a crash
                rep.problems.append(f"could not check the page: {type(exc).__name__}: {exc}"[:300])
            finally:
                page.close()
            rep.seconds = time.perf_counter() - start
            reports.append(rep)
        browser.close()
    _book_wide(reports)
    return reports


def _book_wide(reports: list[PageReport]) -> None:
    first = reports[0]
    seen = set()
    for rep in reports:
        dups = sorted({t for t in rep.sidebar if rep.sidebar.count(t) > 1})
        key = tuple(dups)
        if dups and key not in seen:
            seen.add(key)
            first.problems.append(f"sidebar titles repeated ({len(dups)}): "
                                  + "; ".join(dups[:5]))
    titles: dict[str, list[str]] = {}
    for rep in reports:
        if rep.title:
            titles.setdefault(rep.title, []).append(rep.page)
    for title, where in titles.items():
        if len(where) > 1:
            first.problems.append(f"page title {title!r} on {len(where)} pages: "
                                  + ", ".join(where[:4]))


def summary(reports: list[PageReport]) -> str:
    bad = [r for r in reports if r.problems]
    lines = [f"{len(reports)} pages checked in {sum(r.seconds for r in reports):.1f} s, "
             f"{len(bad)} with problems"]
    for rep in bad:
        lines.append(f"- {rep.page}:")
        lines += [f"    {p}" for p in rep.problems[:20]]
        if len(rep.problems) > 20:
            lines.append(f"    ... and {len(rep.problems) - 20} more")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", nargs="?", default="_build/html")
    ap.add_argument("--shots", help="folder for full-page screenshots "
                                    "(default: <html>/../screenshots)")
    ap.add_argument("--chromium", help="browser executable (default: $CHROMIUM or "
                                       "/usr/bin/chromium)")
    ap.add_argument("--only", nargs="*", help="check only these pages (paths relative to html)")
    args = ap.parse_args(argv)
    shots = args.shots or str(Path(args.html).resolve().parent / "screenshots")
    start = time.perf_counter()
    reports = check_book(args.html, shots, args.chromium, args.only)
    print(summary(reports))
    print(f"browser check: {time.perf_counter() - start:.1f} s; screenshots in {shots}")
    return 1 if any(r.problems for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
