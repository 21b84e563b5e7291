"""Snakemake plans the results where the notebooks write them ($DIFFSURR_RESULTS) and refuses
a file where a run folder belongs before any job (dry runs only)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _dry_run(results, *target):
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-n", "--cores", "1",
                           "--config", "profile=smoke", "--", *target],
                          capture_output=True, text=True, cwd=ROOT,
                          env=env | {"PATH": "/usr/bin:/bin", "DIFFSURR_RESULTS": str(results)})


def test_snakemake_follows_diffsurr_results_and_refuses_a_stray_file(tmp_path):
    """Before, Snakemake planned results/smoke/... whatever $DIFFSURR_RESULTS said."""
    res = _dry_run(tmp_path, f"{tmp_path}/smoke/model_09/eval.nc")
    assert res.returncode == 0, res.stderr
    assert f"{tmp_path}/smoke/model_09/model.pt" in res.stdout
    assert "results/smoke/model_09" not in res.stdout
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "model_09").write_text("not a folder")
    res = _dry_run(tmp_path)
    assert res.returncode != 0
    assert (f"not a folder, where results belong: {tmp_path}/smoke/model_09"
            in res.stdout + res.stderr)
