"""diffsurr.book.build: the book's data file is checked against what the runs were trained on."""

import pytest

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


def test_the_data_file_must_be_what_the_runs_were_trained_on(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_path))
    smoke = PROFILES["smoke"]
    sha = build.check_data_checksum(smoke)             # drawn and solved: it was missing
    assert data_path(smoke).exists() and build.recorded_checksums(smoke) == {}
    _trained(smoke, 9, sha)
    assert build.check_data_checksum(smoke) == sha and build.recorded_checksums(smoke) == {
        "model_09": sha}
    _trained(smoke, 5, "0" * 64)
    with pytest.raises(ValueError, match=r"runs were trained on other data: model_05 \(000000000000\)"):
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
