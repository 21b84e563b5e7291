"""diffsurr.book.build: the book's data file is checked against what the runs were trained on;
the book names a repository only where the build is given one."""

import subprocess
from pathlib import Path

import pytest
import yaml
from jupyter_book.config import get_final_config

from diffsurr import io
from diffsurr.book import build
from diffsurr.profiles import PROFILES
from diffsurr.runid import RunId, data_path

from test_report import fake_history


def _trained(profile, model, sha):
    run = RunId.of(profile, model)
    run.dir.mkdir(parents=True, exist_ok=True)
    history = fake_history(model)
    history.attrs["data_sha256"] = sha
    io.write_netcdf(history, run.dir / "history.nc")


def test_the_data_file_must_be_what_the_runs_were_trained_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    smoke = PROFILES["smoke"]
    sha = build.check_data_checksum(smoke)             # drawn and solved: it was missing
    assert (f"{data_path(smoke)} is missing: the book build first makes it as the data stage "
            "would (notebooks/data.ipynb): 300 samples from data seed 0, about 1.05 s") \
        in capsys.readouterr().out
    assert data_path(smoke).exists() and build.recorded_checksums(smoke) == {}
    _trained(smoke, 9, sha)
    assert build.check_data_checksum(smoke) == sha and build.recorded_checksums(smoke) == {
        "model_09": sha}
    _trained(smoke, 5, "0" * 64)
    with pytest.raises(ValueError,
                       match=r"runs were trained on other data: model_05 \(000000000000\)"):
        build.check_data_checksum(smoke)


def test_every_page_is_built_anew_with_the_profile_set(tmp_path, monkeypatch):
    """An incremental build would serve pages made from older results or another profile."""
    calls = []
    monkeypatch.setattr(build, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(build, "check_data_checksum", lambda profile: "sha")
    monkeypatch.setattr(build, "copy_executed", lambda src, dst: [])
    monkeypatch.setattr(build.subprocess, "run", lambda cmd, check, env: calls.append((cmd, env)))
    html = build.build("ci", tmp_path / "out")
    (cmd, env), = calls
    assert "--all" in cmd and cmd[cmd.index("--path-output") + 1] == str(tmp_path / "out")
    assert env["DIFFSURR_PROFILE"] == "ci" and html == tmp_path / "out" / "_build" / "html"


ROOT = Path(__file__).resolve().parent.parent


def _sphinx(config: Path) -> dict:
    """The Sphinx configuration Jupyter Book makes of ``config``."""
    return get_final_config(user_yaml=config, cli_config={"latex_individualpages": False},
                            sourcedir=ROOT)[0]


def test_without_a_repository_the_book_names_no_address_and_has_no_launch_buttons():
    sphinx = _sphinx(build.config_file(None, ROOT / "_build"))
    theme = sphinx["html_theme_options"]
    assert theme["repository_url"] == "" and not sphinx.get("html_baseurl")
    assert not any(theme[f"use_{b}_button"] for b in ("repository", "issues", "edit_page"))
    assert not any(theme["launch_buttons"][k] for k in ("binderhub_url", "jupyterhub_url",
                                                         "colab_url", "deepnote_url", "thebe"))


def test_a_given_repository_gets_its_buttons_and_nothing_else_changes(tmp_path):
    sphinx = _sphinx(build.config_file("https://github.com/owner/name", tmp_path))
    theme = sphinx["html_theme_options"]
    assert theme["repository_url"] == "https://github.com/owner/name"
    assert theme["use_repository_button"] and theme["use_issues_button"]
    plain = _sphinx(ROOT / "_config.yml")
    assert {k: v for k, v in sphinx.items() if k != "html_theme_options"} == \
        {k: v for k, v in plain.items() if k != "html_theme_options"}


def test_no_file_gives_an_invented_address():
    invented = ["-e", "github.com/" + "diffsurr", "-e", "diffsurr" + ".github.io"]
    res = subprocess.run(["git", "grep", "-I", "-l", "-i", *invented], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode in (0, 1), res.stderr     # 1: no match
    assert res.stdout.split() == []


def test_citation_cites_the_preprint_as_references_bib_gives_it():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert "url" not in cff and "repository-code" not in cff
    preprint, = [r for r in cff["references"] if r.get("status") == "preprint"]
    bib = (ROOT / "references.bib").read_text()
    entry = bib[bib.index("@misc{toledo2022arxiv,"):].split("\n}")[0]
    assert f"title         = {{{preprint['title']}}}" in entry
    assert f"eprint        = {{{preprint['identifiers'][0]['value'].removeprefix('arXiv:')}}}" \
        in entry and f"year          = {{{preprint['year']}}}" in entry
