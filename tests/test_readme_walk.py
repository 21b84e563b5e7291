"""tools/readme_walk.py, the fresh-clone walkthrough: it finds the README's commands in order,
and a command past its cap is stopped with its whole process group and reported as such."""

import importlib.util
import json
import subprocess

import pytest

from diffsurr import io

TOOL = io.REPO_ROOT / "tools" / "readme_walk.py"
_spec = importlib.util.spec_from_file_location("readme_walk", TOOL)
walk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(walk)


def test_the_readme_commands_in_order_without_comments():
    commands = walk.readme_commands(io.REPO_ROOT / "README.md")
    assert commands[:3] == ["make all", "apt-get install -y chromium", "make test"]
    assert not any("#" in c for c in commands)
    assert any(c.startswith(".venv/bin/papermill") and c.endswith("-p model 9") for c in commands)


def test_a_command_past_its_cap_is_stopped_with_its_children(tmp_path):
    (tmp_path / "README.md").write_text(
        "```bash\necho started; sleep 30 & wait  # a child that must go too\nexit 3\n```\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    out = tmp_path / "walk.json"
    assert walk.main([str(tmp_path), "--out", str(out), "--cap", "1"]) == 0
    first, second = json.loads(out.read_text())["commands"]
    assert first["stopped_at_cap"] and first["exit_code"] == 124 and first["wall_s"] < 20
    assert first["last_lines"] == ["started"]
    assert (second["exit_code"], second["stopped_at_cap"]) == (3, False)


def test_only_runs_the_commands_given_and_refuses_others(tmp_path, capsys):
    (tmp_path / "README.md").write_text("```bash\necho one\necho two  # note\necho three\n```\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    out = tmp_path / "walk.json"
    assert walk.main([str(tmp_path), "--out", str(out), "--only", "echo three", "echo one"]) == 0
    assert [c["last_lines"] for c in json.loads(out.read_text())["commands"]] == [["one"],
                                                                                 ["three"]]
    with pytest.raises(SystemExit) as stop:
        walk.main([str(tmp_path), "--out", str(out), "--only", "echo four"])
    assert stop.value.code == 2 and "echo four" in capsys.readouterr().err
