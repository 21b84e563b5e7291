"""tools/speed.py, the speed experiments outside the package: each subcommand at tiny sizes
writes its file and prints its table."""

import importlib.util
import json
import subprocess
import sys

import numpy as np

from diffsurr import io
from diffsurr.nets import NN1

TOOL = io.REPO_ROOT / "tools" / "speed.py"
_spec = importlib.util.spec_from_file_location("speed", TOOL)
speed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(speed)


def test_train_speed_structure(tmp_path):
    """``train-speed`` at tiny sizes: every variant measured, ratios to the plain settings, file
    written.

    It runs in its own process: the experiment lowers and raises torch's thread count, after
    which MKL's batched LU misbehaves in the same process (see diffsurr.trainconfig.TrainConfig)."""
    res = subprocess.run([sys.executable, str(TOOL), "train-speed", "--widths",
                          "0.0625", "--steps", "1", "--rounds", "1", "--n-val", "4", "--out",
                          str(tmp_path)], capture_output=True, text=True, cwd=io.REPO_ROOT)
    assert res.returncode == 0, res.stderr
    (path,) = tmp_path.glob("train-speed-cpu-*.nc")
    ds = io.read_netcdf(path)
    names = list(speed.speed_variants())
    assert list(ds.variant.values) == names and names[0] == "plain"
    assert ds.attrs["default_variant"] == speed.default_variant(speed.speed_variants()) != ""
    assert not any("compile" in n for n in names)
    for var in ("train_samples_per_s", "val_samples_per_s", "train_ratio", "val_ratio",
                "epoch_s", "epoch_ratio", "train_ms_per_step", "compile_s"):
        assert ds[var].dims == ("width", "variant"), var
    assert (ds.train_samples_per_s > 0).all() and (ds.val_samples_per_s > 0).all()
    np.testing.assert_allclose(ds.train_ratio.sel(variant="plain"), 1.0)
    np.testing.assert_allclose(ds.epoch_s, 14_400 / ds.train_samples_per_s
                               + 1_600 / ds.val_samples_per_s)
    assert np.isnan(ds.compile_s).all()
    assert int(ds.setting_fused_adam.sel(variant="plain")) == 0
    a = ds.attrs
    assert a["device_kind"] == "cpu" and len(json.loads(a["load_average_start"])) == 3
    assert "git_commit" in a and "plain" in a["table"] and "load average" in a["table"]


def test_nn1_speed_structure(tmp_path):
    """``nn1-speed`` at tiny sizes (its own process: it sets torch's threads): every layer of
    NN1 and NN2 timed on both paths, every variant's step, ratios to the plain path, the
    table printed and the file written."""
    res = subprocess.run([sys.executable, str(TOOL), "nn1-speed", "--width",
                          "0.0625", "--batch", "2", "--n-pool", "2", "--steps", "1", "--rounds",
                          "1", "--layer-rounds", "1", "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=io.REPO_ROOT)
    assert res.returncode == 0, res.stderr
    (path,) = tmp_path.glob("nn1-speed-cpu-*.nc")
    ds = io.read_netcdf(path)
    assert list(ds.variant.values) == ["plain", "fast"]
    assert list(ds.path.values) == list(speed.NN1_SPEED_PATHS)
    layers = list(ds.layer.values)
    assert len([n for n in layers if n.startswith("NN1")]) == len(NN1(0.1, 0.1).layers)
    assert (layers[0] == "NN1 0 Conv2d" and layers[-1].startswith("NN2")
            and "x" in str(ds.output_shape.values[0]))
    assert (ds.forward_ms > 0).all() and (ds.backward_ms >= 0).all() and (ds.step_ms > 0).all()
    np.testing.assert_allclose(ds.step_ratio, ds.step_ms / ds.step_ms.sel(variant="plain"))
    assert ds.attrs["torch_threads"] == speed.WORKFLOW_THREADS and "git_commit" in ds.attrs
    assert ("training step fast" in res.stdout and "NN1" in res.stdout
            and "load average" in res.stdout)
