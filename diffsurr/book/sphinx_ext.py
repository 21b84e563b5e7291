"""Sphinx extension with the book's small fixes (enabled in _config.yml, ``extra_extensions``).

**Unique titles for the executed stage notebooks under book/executed/.** Every papermill
output of one stage notebook starts with the same heading ("# Stage 2: train one run"), so the
book's sidebar would list many identical entries. When the book is read, the first heading of
``book/executed/<order>_<stage>_<run>.ipynb`` (named by
:func:`diffsurr.book.reproduce.copy_executed`, whose order prefix sorts the sidebar by stage)
becomes "Stage N: <stage> model M, seed S[, key value...] (profile P)", with the profile from
the notebook's papermill parameters (e.g. "Stage 2: train model 9, seed 1 (profile ci)");
the files themselves are not changed.

**No script twice.** sphinx-thebe adds its inline configuration (``const THEBE_JS_URL = …``)
once per read of the sources; a page that declares it twice throws a SyntaxError in the
browser. Identical script entries are dropped before the pages are written.

**A valid colour mode.** The theme leaves ``data-default-mode`` empty, and the browser console
reports "Got invalid theme mode" on a reader's first visit; the default becomes "auto".
"""

from __future__ import annotations

import json
import re

EXECUTED = "book/executed/"
ORDER = re.compile(r"\d+_")
"""The stage-order prefix of an executed notebook's name (diffsurr.book.reproduce)."""


def run_label(run: str, profile: str | None) -> str:
    """``model_09_seed1_rollback-none`` -> "model 9 (no roll-back), seed 1", the label every
    page gives the run (:attr:`diffsurr.runid.RunId.label`); the name itself when it is not a
    run of ``profile``."""
    from diffsurr.runid import RunId

    try:
        return RunId.parse(profile, run).label
    except (ValueError, KeyError, TypeError):
        return run


def title_for(stem: str, heading: str, profile: str | None = None) -> str:
    """The new title of executed notebook ``stem`` (order prefix optional) whose first heading
    is ``heading``, run with ``profile``."""
    stem = stem[ORDER.match(stem).end():] if ORDER.match(stem) else stem
    prefix = re.match(r"(Stage\s+\w+)\s*:", heading)
    stage, _, run = stem.partition("_")
    label = f"{stage} {run_label(run, profile)}" if run else stage
    where = f" (profile {profile})" if profile else ""
    return f"{prefix.group(1)}: {label}{where}" if prefix else f"{heading} ({label}){where}"


def retitle(text: str, stem: str) -> str:
    """Notebook JSON ``text`` with its first markdown heading replaced by :func:`title_for`
    (the profile from the notebook's papermill parameters)."""
    nb = json.loads(text)
    params = nb.get("metadata", {}).get("papermill", {}).get("parameters", {}) or {}
    profile = params.get("profile")
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        hit = re.match(r"#\s+(.+)", source)
        if hit:
            title = title_for(stem, hit.group(1).strip(), profile)
            cell["source"] = f"# {title}" + source[hit.end():]
            return json.dumps(nb)
        break
    return text


def _source_read(app, docname, source):
    if docname.startswith(EXECUTED) and source and source[0].lstrip().startswith("{"):
        source[0] = retitle(source[0], docname[len(EXECUTED):].split("/")[-1])


def _unique(scripts: list) -> None:
    """Drop repeated script entries (same file and attributes) from ``scripts`` in place."""
    seen, kept = set(), []
    for js in scripts:
        key = (str(getattr(js, "filename", js) or ""),
               tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    scripts[:] = kept


def _dedupe_scripts(app, env=None, docnames=None):
    files = getattr(getattr(app, "builder", None), "_js_files", None)
    if files:
        _unique(files)


def _dedupe_page(app, pagename, templatename, context, doctree):
    if context.get("script_files"):
        _unique(context["script_files"])


def _config_inited(app, config):
    if not config.html_context.get("default_mode"):
        config.html_context["default_mode"] = "auto"


def setup(app):
    app.connect("config-inited", _config_inited)
    app.connect("source-read", _source_read)
    app.connect("env-before-read-docs", _dedupe_scripts, priority=900)
    app.connect("env-updated", _dedupe_scripts, priority=900)
    app.connect("html-page-context", _dedupe_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
