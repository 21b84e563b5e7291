"""bench_all: one quick CPU run writes the expected dataset; its numbers are consistent with Eq. 4."""

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from diffsurr import bench, io, solver
from diffsurr.loss import ExpWeightedLoss
from diffsurr.nets import NN1, Surrogate
from diffsurr.speedup import break_even

VARIABLES = {
    "solve_s": ("solver",), "solve_n": ("solver",), "solve_max_abs_diff": ("solver",),
    "infer_s": ("profile", "precision", "batch"),
    "infer_cuda_peak": ("profile", "precision", "batch"), "infer_peak_rss": ("profile",),
    "eps_batch1_s": ("profile",), "eps_best_s": ("profile",), "eps_best_batch": ("profile",),
    "eps_best_precision": ("profile",), "speedup_batch1": ("profile", "solver"),
    "speedup_best": ("profile", "solver"), "train_s_per_step": ("profile", "train_option"),
    "train_warmup_s": ("profile", "train_option"), "train_error": ("profile", "train_option"),
    "train_cuda_peak": ("profile", "train_option"), "train_peak_rss": ("profile", "train_option"),
    "train_s_per_epoch": ("profile",), "train_s_total": ("profile",),
    "train_best_option": ("profile",), "n_min": ("profile", "solver"),
}


@pytest.fixture(scope="module")
def quick():
    """One bench_all(quick=True) run on the CPU, shared by the tests below."""
    return bench.bench_all(device="cpu", quick=True)


def test_quick_run_has_every_variable(quick):
    for name, dims in VARIABLES.items():
        assert quick[name].dims == dims, name
    assert list(quick.profile.values) == ["paper", "ci"]
    assert list(quick.precision.values) == ["fp32"]
    assert list(quick.batch.values) == [1, 8, 32]
    assert list(quick.solve_n.values) == [1, 5, 200, 200, 200]
    assert quick.attrs["device_kind"] == "cpu" and quick.attrs["quick"] == 1
    assert quick.attrs["torch_threads"] == torch.get_num_threads()
    assert "extrapolated from 3 timed steps" in quick.attrs["extrapolation"]
    assert "EXTRAPOLATED" in quick.attrs["table"] and "N_min paper" in quick.attrs["table"]


def test_quick_run_numbers_are_consistent(quick):
    assert (quick.solve_s > 0).all() and (quick.infer_s > 0).all()
    assert (quick.train_s_per_step > 0).all() and (quick.train_error == "").all()
    assert (quick.solve_max_abs_diff < 1e-5).all()
    assert (quick.eps_best_s <= quick.eps_batch1_s).all()
    np.testing.assert_allclose(quick.eps_best_s, quick.infer_s.min(("precision", "batch")))
    np.testing.assert_allclose(quick.speedup_best,
                               (quick.solve_s / quick.eps_best_s).transpose("profile", "solver"))
    np.testing.assert_allclose(quick.speedup_batch1,
                               (quick.solve_s / quick.eps_batch1_s).transpose("profile", "solver"))
    # paper sizes: 20,000 · 0.8 · 0.9 = 14,400 training samples, 576 steps of 25, 800 epochs
    a = quick.attrs
    assert (a["train_samples_per_epoch"], a["train_steps_per_epoch"], a["val_samples"],
            a["train_epochs"], a["eq4_M"]) == (14_400, 576, 1_600, 800, 20_000)
    epoch = 576 * quick.train_s_per_step.sel(train_option="fp32") + quick.train_val_s_per_epoch.sel(
        train_option="fp32")
    np.testing.assert_allclose(quick.train_s_per_epoch, epoch)
    np.testing.assert_allclose(quick.train_s_total, 800 * quick.train_s_per_epoch)
    for p in quick.profile.values:
        for s in quick.solver.values:
            r = quick.sel(profile=p, solver=s)
            expected = break_even(float(r.solve_s), float(r.eps_best_s), 20_000,
                                  float(r.train_s_total))
            assert float(r.n_min) == pytest.approx(expected) or math.isinf(expected) and \
                math.isinf(float(r.n_min))
    assert (quick.infer_peak_rss > 0).all() and quick.infer_cuda_peak.isnull().all()


def test_cli_prints_and_writes(quick, tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(bench, "bench_all",  # the fixture's run, not a second one
                        lambda **kwargs: calls.append(kwargs) or quick)
    bench.main(["all", "--quick", "--device", "cpu", "--out", str(tmp_path)])
    assert calls == [{"device": "cpu", "quick": True}]
    out = capsys.readouterr().out
    assert "Surrogate inference" in out and "wrote" in out
    slug = bench.device_slug("cpu", quick.attrs["device_name"])
    ds = io.read_netcdf(tmp_path / f"{slug}-quick.nc", require=tuple(VARIABLES))
    np.testing.assert_array_equal(ds.n_min, quick.n_min)
    assert list(ds.solver.values) == list(quick.solver.values)
    assert ds.attrs["table"] == quick.attrs["table"]


@pytest.mark.parametrize("kind, name, slug", [
    ("cuda", "NVIDIA H200", "cuda-nvidia-h200"),
    ("cpu", "Intel(R) Xeon(R) Processor", "cpu-intel-xeon-processor"),
    ("cpu", "AMD EPYC 7763 64-Core Processor", "cpu-amd-epyc-7763-64-core-processor"),
])
def test_device_slug(kind, name, slug):
    assert bench.device_slug(kind, name) == slug


def test_bad_device_raises():
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        bench.bench_all(device="meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            bench.bench_all(device="cuda")


def _tiny():
    torch.manual_seed(0)
    x = torch.rand(10, 1, 12, 12)
    return Surrogate(NN1(0.1, 0.1), None, 1.0, 0.0), x, x.clone()


def test_train_timing_mirrors_a_step_and_catches_compile_failures(monkeypatch):
    plan = dataclasses.replace(bench._plan("cpu", quick=True), train_warmup=1, train_steps=2)
    cpu, sync = torch.device("cpu"), lambda: None
    model, x, y = _tiny()
    before = [p.detach().clone() for p in model.parameters()]
    r = bench._bench_train(model, ExpWeightedLoss(1.0, 1), x, y, 4, 1e-2,
                           (False, False, False), plan, cpu, sync, 0)
    assert r["s_per_step"] > 0 and r["error"] == ""
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # Adam stepped

    def broken_compile(module):
        def run(*args):
            raise RuntimeError("no compiler here")
        return run
    monkeypatch.setattr(torch, "compile", broken_compile)
    r = bench._bench_train(_tiny()[0], ExpWeightedLoss(1.0, 1), x, y, 4, 1e-2,
                           (False, False, True), plan, cpu, sync, 0)
    assert np.isnan(r["s_per_step"]) and r["error"].startswith("torch.compile failed")
    assert "no compiler here" in r["error"]
    with pytest.raises(RuntimeError, match="no compiler here"):  # only compile errors are caught
        bench._bench_train(_tiny()[0], lambda yhat, y: broken_compile(None)(), x, y, 4, 1e-2,
                           (False, False, False), plan, cpu, sync, 0)


def test_gpu_options_run_on_a_tiny_model():
    """The bf16-autocast and channels_last branches (used on CUDA) also run on the CPU."""
    plan = dataclasses.replace(bench._plan("cuda", quick=True), batches=(1, 4), infer_warmup=1,
                               infer_min_s=0.0, train_warmup=1, train_steps=2)
    cpu, sync = torch.device("cpu"), lambda: None
    model, x, y = _tiny()
    per_sample, cuda_peak = bench._bench_inference(model, x, plan, cpu, sync)
    assert per_sample.shape == (2, 2) and (per_sample > 0).all() and np.isnan(cuda_peak).all()
    assert not model.training
    r = bench._bench_train(model, ExpWeightedLoss(1.0, 1), x, y, 4, 1e-2, (True, True, False),
                           plan, cpu, sync, 0)
    assert r["s_per_step"] > 0 and r["error"] == ""
    assert [bench._option_name(*o) for o in plan.train_options] == [
        "fp32", "bf16", "fp32+channels_last", "bf16+channels_last"]
    assert not any(o[2] for o in plan.train_options)  # quick on CUDA skips torch.compile
    assert sum(o[2] for o in bench._plan("cuda", quick=False).train_options) == 4


@pytest.mark.parametrize("ratio, text", [(1880.4, "1,880x faster"), (1 / 1880.4, "1,880x slower"),
                                         (1.5, "1.5x faster"), (0.5, "2x slower"),
                                         (math.nan, "n/a")])
def test_ratio_text_says_which_way(ratio, text):
    assert bench._ratio_text(ratio) == text


def test_train_speed_structure(tmp_path):
    """``train-speed`` at tiny sizes: every variant measured, ratios to today, file written.

    It runs in its own process: the benchmark lowers and raises torch's thread count, after
    which MKL's batched LU misbehaves in the same process (see diffsurr.train.TrainConfig)."""
    res = subprocess.run([sys.executable, "-m", "diffsurr.bench", "train-speed", "--widths",
                          "0.0625", "--steps", "1", "--rounds", "1", "--n-val", "4", "--out",
                          str(tmp_path)], capture_output=True, text=True, cwd=bench.io.REPO_ROOT)
    assert res.returncode == 0, res.stderr
    (path,) = tmp_path.glob("train-speed-cpu-*.nc")
    ds = io.read_netcdf(path)
    names = list(bench.speed_variants())
    assert list(ds.variant.values) == names and names[0] == "today"
    assert ds.attrs["default_variant"] == bench.default_variant(bench.speed_variants()) != ""
    assert not any("compile" in n for n in names)
    for var in ("train_samples_per_s", "val_samples_per_s", "train_ratio", "val_ratio",
                "epoch_s", "epoch_ratio", "train_ms_per_step", "compile_s"):
        assert ds[var].dims == ("width", "variant"), var
    assert (ds.train_samples_per_s > 0).all() and (ds.val_samples_per_s > 0).all()
    np.testing.assert_allclose(ds.train_ratio.sel(variant="today"), 1.0)
    np.testing.assert_allclose(ds.epoch_s, 14_400 / ds.train_samples_per_s
                               + 1_600 / ds.val_samples_per_s)
    assert np.isnan(ds.compile_s).all()
    assert int(ds.setting_fused_adam.sel(variant="today")) == 0
    a = ds.attrs
    assert a["device_kind"] == "cpu" and len(json.loads(a["load_average_start"])) == 3
    assert "git_commit" in a and "today" in a["table"] and "load average" in a["table"]


def test_training_leaves_threads_and_linear_algebra_intact():
    """train() never changes torch's thread count: lowering and raising it broke a later
    batched LU solve in the same process (torch 2.13, MKL)."""
    from diffsurr.solver_torch import solve_torch
    from diffsurr.train import TrainConfig, train

    threads = torch.get_num_threads()
    x = (torch.rand(12, 1, 10, 10, generator=torch.Generator().manual_seed(0)) > 0.9).float()
    train(Surrogate(NN1(0.1, 0.1), None, 1.0, 0.0, model=6), ExpWeightedLoss(1.0, 1),
          x[:8], x[:8], x[8:], x[8:], TrainConfig(epochs=1, batch_size=4), progress=False)
    assert torch.get_num_threads() == threads
    inputs = bench.two_disk_inputs(3, N=30, radius=3)
    u = solve_torch(torch.from_numpy(inputs), mode="clamped")
    assert np.abs(u.numpy() - solver.solve(inputs, mode="clamped")).max() < 1e-10


def test_new_train_defaults_are_the_fast_exact_ones():
    from diffsurr.train import TrainConfig

    cfg = TrainConfig()
    assert cfg.fused_adam and cfg.channels_last and not cfg.compile and not cfg.amp
    assert "fused_adam" not in cfg.signature() and "val_batch_size" not in cfg.signature()


def test_benchmark_files_leave_out_train_speed_files(tmp_path):
    for name in ("cpu-x.nc", "cpu-x-quick.nc", "train-speed-cpu-x.nc", "notes.txt"):
        (tmp_path / name).write_text("")
    assert [f.name for f in bench.benchmark_files(tmp_path)] == ["cpu-x-quick.nc", "cpu-x.nc"]
