#!/usr/bin/env bash
# The device check to run first whenever a GPU is lent (at most about 8 minutes):
#   1. `bench all` on the GPU: solvers and surrogate timed side by side, written to
#      results/benchmarks/<device>.nc (the speed-up chapter and the speed claim read it);
#   2. the paper profile's model 9 trained for as many epochs as fit (EPOCHS, default 3),
#      into results/paper/model_09_epochs-N/: seconds per epoch, peak CUDA memory and the
#      800-epoch extrapolation are printed from its history.nc.
# DRY=1 runs the same steps on the CPU at smoke scale (bench --quick, one smoke epoch), in
# seconds, so the script is tested where no GPU is lent. Commit what it prints as written.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PM="$PY -m papermill --cwd . --log-output --no-progress-bar -k python3"
if [ "${DRY:-0}" = 1 ]; then
    device=cpu; profile=smoke; epochs=1; bench=(--quick --profile smoke)
else
    device=cuda; profile=paper; epochs=${EPOCHS:-3}; bench=()
    $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device')"
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
fi
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
t0=$(date +%s)
timeout "${BENCH_S:-300}" $PY -m diffsurr.bench all --device "$device" "${bench[@]}"
echo "bench: $(( $(date +%s) - t0 )) s"
t0=$(date +%s)
timeout "${TRAIN_S:-240}" $PM notebooks/train.ipynb "$out/train.ipynb" -p profile "$profile" \
    -p model 9 -p epochs "$epochs" -p device "$device" || echo "training stopped (time limit or error; see above)"
echo "training: $(( $(date +%s) - t0 )) s"
$PY - "$profile" "$epochs" <<'PYEOF'
import sys
from diffsurr.runid import RunId
from diffsurr.results import display_path
import xarray as xr
run = RunId.make(sys.argv[1], 9, epochs=int(sys.argv[2]))
path = run.dir / "history.nc"
if not path.exists():
    sys.exit(f"no {path}: the training did not finish; its checkpoint resumes it")
with xr.open_dataset(path) as h:
    wall = h["wall_time_s"].values
    per_epoch = float(wall[-1] / len(wall))
    peak = h.attrs.get("cuda_peak_bytes", float("nan")) / 2**30
print(f"{display_path(path)}: {per_epoch:.1f} s per epoch, peak CUDA memory {peak:.2f} GiB, "
      f"800 epochs ≈ {800 * per_epoch / 3600:.1f} h")
PYEOF
