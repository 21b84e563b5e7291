"""`make gpu-check`, the script to run first on a lent GPU, works: its dry mode runs the same
steps on the CPU at smoke scale and prints the training's time per epoch."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_gpu_check_runs_dry_on_the_cpu(tmp_path):
    env = {**os.environ, "DRY": "1", "DIFFSURR_RESULTS": str(tmp_path / "results"),
           "OUT": str(tmp_path / "out"), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([str(ROOT / "tools" / "gpu-check.sh")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Benchmark on cpu" in res.stdout and "bench:" in res.stdout
    assert "smoke/model_09_epochs-1/history.nc:" in res.stdout and "s per epoch" in res.stdout
    assert "800 epochs ≈" in res.stdout
