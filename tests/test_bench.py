"""bench_all: one quick CPU run writes the expected dataset under the fair rules (independent
reference, one timing function and batch policy for solvers and surrogate, the trainer's own
loop, the load flag); its numbers are consistent with Eq. 4."""

import dataclasses
import json
import math
import subprocess

import numpy as np
import pytest
import torch

from diffsurr import bench, io, solver, timing
from diffsurr.data import draw_inputs
from diffsurr.loss import ExpWeightedLoss
from diffsurr.nets import NN1, Surrogate
from diffsurr.reference_solution import reference_solve
from diffsurr.speedup import break_even

VARIABLES = {
    "solve_s": ("solver", "batch"), "delta_batch1_s": ("solver",), "delta_best_s": ("solver",),
    "delta_best_batch": ("solver",), "solve_dtype": ("solver",), "solve_error": ("solver",),
    "exact": ("solver",), "infer_s": ("profile", "precision", "batch"),
    "infer_cuda_peak": ("profile", "precision", "batch"), "infer_peak_rss": ("profile",),
    "eps_batch1_s": ("profile",), "eps_best_s": ("profile",), "eps_best_batch": ("profile",),
    "eps_best_precision": ("profile",), "speedup_batch1": ("profile", "solver"),
    "speedup_best": ("profile", "solver"), "train_s_per_step": ("profile", "train_option"),
    "train_other_s": ("profile", "train_option"),
    "train_val_s_per_sample": ("profile", "train_option"),
    "train_error": ("profile", "train_option"),
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
    assert list(quick.train_option.values) == ["fp32+channels_last"]  # TrainConfig's defaults
    a = quick.attrs
    assert a["device_kind"] == "cpu" and a["quick"] == 1 and a["bench_format"] == 2
    assert a["torch_threads"] == torch.get_num_threads()
    assert "fastest of 1 warm epoch" in a["extrapolation"]
    assert "EXTRAPOLATED" in a["table"] and "N_min paper" in a["table"]
    assert "load average" in a["table"] and "git_commit" in a and "started" in a


def test_quick_run_solvers_are_checked_against_an_independent_solution(quick):
    assert quick.attrs["reference_bound"] < bench.REFERENCE_BOUND_MAX
    exact = dict(zip(quick.solver.values, quick.exact.values))
    assert exact == {"time stepping (numpy)": 0, "sparse LU (scipy)": 1, "fast (numpy)": 1,
                     "fast torch float64 (cpu)": 1, "fast torch float32 (cpu)": 0}
    err = quick.solve_error
    assert (err.where(quick.exact == 1, 0) <= bench.EXACT_TOL).all()
    assert 1e-9 < float(err.sel(solver="fast torch float32 (cpu)")) < 1e-5  # float32: kept apart
    assert float(err.sel(solver="sparse LU (scipy)")) > 0  # not compared with itself
    # per-sample loops are timed at batch 1 only (quick); batched paths at every batch
    assert np.isfinite(quick.solve_s.sel(batch=1)).all()
    assert quick.solve_s.sel(solver="time stepping (numpy)", batch=[8, 32]).isnull().all()
    assert np.isfinite(quick.solve_s.sel(solver="fast (numpy)")).all()


def test_quick_run_numbers_are_consistent(quick):
    assert (quick.solve_s.fillna(1) > 0).all() and (quick.infer_s > 0).all()
    # a step time is positive, or (on a loaded machine) missing with the reason recorded
    timed = quick.train_s_per_step.notnull()
    assert (quick.train_s_per_step.where(timed, 1) > 0).all()
    assert (timed | quick.train_error.str.contains("load noise")).all()
    assert (quick.train_error.where(timed, "") == "").all()
    np.testing.assert_allclose(quick.delta_best_s, quick.solve_s.min("batch"))
    np.testing.assert_allclose(quick.delta_batch1_s, quick.solve_s.sel(batch=1))
    assert (quick.eps_best_s <= quick.eps_batch1_s).all()
    np.testing.assert_allclose(quick.eps_best_s, quick.infer_s.min(("precision", "batch")))
    np.testing.assert_allclose(quick.speedup_best, (quick.delta_best_s / quick.eps_best_s)
                               .transpose("profile", "solver"))
    np.testing.assert_allclose(quick.speedup_batch1, (quick.delta_batch1_s / quick.eps_batch1_s)
                               .transpose("profile", "solver"))
    # paper sizes: 20,000 · 0.8 · 0.9 = 14,400 training samples, 576 steps of 25, 800 epochs
    a = quick.attrs
    assert (a["train_samples_per_epoch"], a["train_steps_per_epoch"], a["val_samples"],
            a["train_epochs"], a["eq4_M"]) == (14_400, 576, 1_600, 800, 20_000)
    r = quick.sel(train_option="fp32+channels_last")
    epoch = 576 * r.train_s_per_step + 1_600 * r.train_val_s_per_sample + r.train_other_s
    np.testing.assert_allclose(quick.train_s_per_epoch, epoch)
    np.testing.assert_allclose(quick.train_s_total, 800 * quick.train_s_per_epoch)
    for p in quick.profile.values:
        for s in quick.solver.values:
            r = quick.sel(profile=p, solver=s)
            if not np.isfinite(float(r.train_s_total)):   # step time lost to load noise
                assert np.isnan(float(r.n_min))
                continue
            expected = break_even(float(r.delta_best_s), float(r.eps_best_s), 20_000,
                                  float(r.train_s_total))
            assert float(r.n_min) == pytest.approx(expected) or math.isinf(expected) and \
                math.isinf(float(r.n_min))
    assert (quick.infer_peak_rss > 0).all() and quick.infer_cuda_peak.isnull().all()
    other, loaded = timing.load_flag(a["load_start_1min"], a["load_end_1min"],
                                    a["torch_threads"], a["cpu_count"])
    assert (a["load_other_1min"], a["loaded"]) == (pytest.approx(other), int(loaded))
    assert len(json.loads(a["load_average_start"])) == 3


def test_cli_prints_and_writes(quick, tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(bench, "bench_all",  # the fixture's run, not a second one
                        lambda **kwargs: calls.append(kwargs) or quick)
    bench.main(["all", "--quick", "--device", "cpu", "--out", str(tmp_path)])
    assert calls == [{"device": "cpu", "quick": True}]
    out = capsys.readouterr().out
    assert "Surrogate, Table 2 model 9" in out and "wrote" in out
    slug = timing.device_slug("cpu", quick.attrs["device_name"])
    ds = io.read_netcdf(tmp_path / f"{slug}-quick.nc", require=tuple(VARIABLES))
    np.testing.assert_array_equal(ds.n_min, quick.n_min)
    assert list(ds.solver.values) == list(quick.solver.values)
    assert ds.attrs["table"] == quick.attrs["table"]


def test_quick_runs_go_to_the_profile_folder_full_runs_to_benchmarks(quick, tmp_path):
    """A quick run never lands in the tracked results/benchmarks/ (make all leaves no
    untracked file there); a full run does."""
    slug = timing.device_slug("cpu", quick.attrs["device_name"])
    assert (bench.output_path(quick, "smoke", tmp_path)
            == tmp_path / "smoke" / f"benchmark-{slug}.nc")
    assert bench.output_path(quick, root=tmp_path) == tmp_path / "ci" / f"benchmark-{slug}.nc"
    full = quick.copy()
    full.attrs = {**quick.attrs, "quick": 0}
    assert bench.output_path(full, "smoke", tmp_path) == tmp_path / "benchmarks" / f"{slug}.nc"
    assert bench.output_path(quick).parent.name == "ci"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(bench.output_path(quick, "smoke"))],
                             cwd=io.REPO_ROOT)
    assert ignored.returncode == 0


@pytest.mark.parametrize("kind, name, slug", [
    ("cuda", "NVIDIA H200", "cuda-nvidia-h200"),
    ("cpu", "Intel(R) Xeon(R) Processor", "cpu-intel-xeon-processor"),
    ("cpu", "AMD EPYC 7763 64-Core Processor", "cpu-amd-epyc-7763-64-core-processor"),
])
def test_device_slug(kind, name, slug):
    assert timing.device_slug(kind, name) == slug


def test_bad_device_raises():
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        bench.bench_all(device="meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            bench.bench_all(device="cuda")


@pytest.mark.parametrize("mode", ["clamped", "production"])
def test_reference_is_independent_and_accurate(mode, monkeypatch):
    x = draw_inputs(3, 5, radius=3, size=30)[0]
    expected = {m: solver.solve(x, mode, method=m) for m in ("sparse", "fast")}

    def forbidden(*args, **kwargs):
        raise AssertionError("the reference must not use diffsurr.solver")
    for name in ("solve", "steady_operator", "solve_sparse", "solve_fast", "sine_tables"):
        monkeypatch.setattr(solver, name, forbidden)
    u, bound = reference_solve(x, mode)
    assert u.shape == x.shape and (bound < 1e-11).all()
    for m, v in expected.items():
        assert np.abs(u - v).max() < 1e-11, m
    # a wrong solution is caught: a field off by 1e-8 is not within EXACT_TOL
    assert np.abs(u + 1e-8 - expected["sparse"]).max() > bench.EXACT_TOL


def test_time_per_sample_is_one_rule_for_every_method():
    plan = dataclasses.replace(bench.bench_plan("cpu", quick=True), warmup=1, min_s=0.0,
                               min_calls=2)
    seen = []
    per = timing.time_per_sample(lambda b: seen.append(len(b)) or b, np.zeros((32, 4, 4)), plan,
                                max_batch=8)
    assert seen == [1, 1, 1, 8, 8, 8]  # warm-up, then 2 timed calls per batch; none above 8
    assert np.isfinite(per[:2]).all() and np.isnan(per[2])


def test_interleaved_timing_visits_every_variant_in_each_round():
    """Variants timed one after another meet different loads on a shared machine; in rounds,
    a load change meets them alike (every variant interleaved in one run)."""
    plan = dataclasses.replace(bench.bench_plan("cpu", quick=True), batches=(1, 4), warmup=1,
                               min_s=0.0, min_calls=2)
    seen = []
    per = timing.time_interleaved([(lambda b: seen.append(("a", len(b))), None),
                                  (lambda b: seen.append(("b", len(b))), 1)],
                                 np.zeros((4, 2, 2)), plan, rounds=2)
    # round 1: warm-up + 1 timed call each; round 2: 1 timed call each; b never above batch 1
    assert seen == [("a", 1), ("a", 1), ("b", 1), ("b", 1), ("a", 4), ("a", 4),
                    ("a", 1), ("b", 1), ("a", 4)]
    assert np.isfinite(per[0]).all() and np.isfinite(per[1, 0]) and np.isnan(per[1, 1])


def _tiny():
    torch.manual_seed(0)
    x = torch.rand(10, 1, 12, 12)
    return Surrogate(NN1(0.1, 0.1), None, 1.0, 0.0), x, x.clone()


def test_surrogate_call_pays_the_same_copies_as_a_solver():
    model, x, _ = _tiny()
    model.train()
    run = timing.surrogate_call(model, torch.device("cpu"))
    out = run(np.random.default_rng(0).random((3, 12, 12)))  # float64 numpy in
    assert isinstance(out, np.ndarray) and out.shape == (3, 12, 12) and not model.training
    solve = bench._torch_solver(torch.device("cpu"), "clamped", torch.float64)
    u = solve(draw_inputs(2, 0, radius=3, size=30)[0])
    assert isinstance(u, np.ndarray) and u.shape == (2, 30, 30)


def test_training_is_timed_through_the_trainer(monkeypatch):
    import diffsurr.train

    calls = []
    real = diffsurr.train.train

    def spy(model, loss_fn, xs, ys, xv, yv, cfg, **kwargs):
        calls.append((len(xs), cfg.epochs, cfg.max_rollbacks))
        return real(model, loss_fn, xs, ys, xv, yv, cfg, **kwargs)
    monkeypatch.setattr(diffsurr.train, "train", spy)
    plan = dataclasses.replace(bench.bench_plan("cpu", quick=True), train_steps=2, train_repeats=2,
                               min_s=0.0)
    model, x, y = _tiny()
    before = [p.detach().clone() for p in model.parameters()]
    data = (x[:6], y[:6], x[6:], y[6:])
    r = timing.train_option_times(model, ExpWeightedLoss(1.0, 1), data, 2, 1e-2,
                           (False, True, False), plan, torch.device("cpu"), 0)
    assert calls == [(2, 3, 0), (6, 3, 0)]  # 1 and 1 + 2 steps per epoch, 1 + 2 epochs
    assert r["val_s_per_sample"] > 0
    # a tiny model's extra steps can drown in a loaded machine's noise: then it says so
    assert (r["error"] == "" and r["s_per_step"] > 0 and r["other_s"] >= 0) or \
        ("load noise" in r["error"] and np.isnan(r["s_per_step"]))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # template kept


def test_train_timing_catches_compile_failures_only(monkeypatch):
    def broken_compile(module):
        def run(*args):
            raise RuntimeError("no compiler here")
        return run
    monkeypatch.setattr(torch, "compile", broken_compile)
    plan = dataclasses.replace(bench.bench_plan("cpu", quick=True), train_steps=1, min_s=0.0)
    model, x, y = _tiny()
    data = (x[:4], y[:4], x[6:], y[6:])
    r = timing.train_option_times(model, ExpWeightedLoss(1.0, 1), data, 2, 1e-2,
                                  (False, False, True), plan, torch.device("cpu"), 0)
    assert np.isnan(r["s_per_step"]) and r["error"].startswith("torch.compile failed")
    assert "no compiler here" in r["error"]
    with pytest.raises(RuntimeError, match="no compiler here"):  # only compile errors are caught
        timing.train_option_times(model, lambda yhat, y: broken_compile(None)(), data, 2, 1e-2,
                           (False, False, False), plan, torch.device("cpu"), 0)


def test_gpu_plan_and_bf16_inference_on_a_tiny_model():
    """The CUDA plan's options, and its bf16-autocast inference branch (runs on the CPU)."""
    plan = dataclasses.replace(bench.bench_plan("cuda", quick=True), batches=(1, 4), warmup=1,
                               min_s=0.0)
    model, x, _ = _tiny()
    cpu, xs = torch.device("cpu"), x[:, 0].double().numpy()
    per_sample = timing.time_interleaved([(timing.surrogate_call(model, cpu, p), None)
                                         for p in plan.precisions], xs, plan, plan.rounds)
    cuda_peak, rss = bench._inference_memory(model, xs, plan, cpu)
    assert per_sample.shape == (2, 2) and (per_sample > 0).all() and np.isnan(cuda_peak).all()
    assert rss > 0
    assert [bench._option_name(*o) for o in plan.train_options] == [
        "fp32", "bf16", "fp32+channels_last", "bf16+channels_last"]
    assert not any(o[2] for o in plan.train_options)  # quick on CUDA skips torch.compile
    assert sum(o[2] for o in bench.bench_plan("cuda", quick=False).train_options) == 4


@pytest.mark.parametrize("ratio, text", [(1880.4, "1,880x faster"), (1 / 1880.4, "1,880x slower"),
                                         (1.5, "1.5x faster"), (0.5, "2x slower"),
                                         (math.nan, "n/a")])
def test_ratio_text_says_which_way(ratio, text):
    assert bench._ratio_text(ratio) == text


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
    inputs = draw_inputs(3, 0, radius=3, size=30)[0]
    u = solve_torch(torch.from_numpy(inputs), mode="clamped")
    assert np.abs(u.numpy() - solver.solve(inputs, mode="clamped")).max() < 1e-10


def test_new_train_defaults_are_the_fast_exact_ones():
    from diffsurr.train import TrainConfig

    cfg = TrainConfig()
    assert cfg.fused_adam and cfg.channels_last and not cfg.compile and not cfg.amp
    assert "fused_adam" not in cfg.signature() and "val_batch_size" not in cfg.signature()


def test_benchmark_files_leave_out_train_speed_payoff_and_matched_files(tmp_path):
    for name in ("cpu-x.nc", "cpu-x-quick.nc", "train-speed-cpu-x.nc", "payoff-cpu-x.nc",
                 "matched-cpu-x.nc", "nn1-speed-cpu-x.nc", "notes.txt"):
        (tmp_path / name).write_text("")
    assert [f.name for f in bench.benchmark_files(tmp_path)] == ["cpu-x-quick.nc", "cpu-x.nc"]
