"""Timing: one rule for timing solvers, surrogates and training steps, and the machine they run on.

:func:`time_per_sample` (and :func:`time_interleaved`, several functions at once) is the one
way the benchmark (:mod:`diffsurr.bench`), the pay-off map (:mod:`diffsurr.payoff`), the
error-matched comparison (:mod:`diffsurr.matched`) and the baselines stage time a function of a
numpy batch: untimed warm-up calls, then the fastest of timed calls, per sample.
:func:`surrogate_call` makes a network such a function, paying the host/device copies a torch
solver pays. :func:`train_option_times` times training steps through the trainer itself.

:func:`device_name`, :func:`device_slug` name the device in file names; :func:`load_flag` says
whether other processes loaded the machine during a measurement; :func:`measurement_file` is
where a measurement's file belongs (committed under ``results/benchmarks/`` for a full run, in
the profile's git-ignored folder for a quick one).
"""

from __future__ import annotations

import copy
import platform
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .runid import results_root


@dataclass(frozen=True)
class TimingRule:
    """How :func:`time_per_sample` times one function: at each of ``batches``, ``warmup``
    untimed calls, then timed calls until they add up to ``min_s`` (at least ``min_calls``, at
    most ``max_calls``); the fastest call counts."""

    batches: tuple
    warmup: int
    min_s: float
    max_calls: int
    min_calls: int


LOADED_PER_CORE = 0.5
"""A run is flagged ``loaded`` when the 1-min load average of other processes (at the start,
or at the end less the benchmark's own torch threads) exceeds this many per CPU core."""


def device_name(device):
    """The GPU's name on CUDA; on CPU the model name from /proc/cpuinfo (else platform's)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def device_slug(kind, name):
    """File-name slug of a device: ``cuda-nvidia-h200``, ``cpu-intel-xeon-processor``."""
    name = re.sub(r"\((r|tm)\)", "", name, flags=re.IGNORECASE)
    return "-".join([kind] + re.findall(r"[a-z0-9]+", name.lower()))


def load_flag(load_start, load_end, own_threads, cpu_count, per_core=LOADED_PER_CORE):
    """(other processes' 1-min load, loaded?): the larger of the load at the start and the
    load at the end less the benchmark's own threads, against ``per_core`` x ``cpu_count``."""
    other = max(float(load_start), float(load_end) - own_threads, 0.0)
    return other, bool(other > per_core * cpu_count)


def reset_peak_rss():
    """Reset the process's peak RSS (Linux /proc/self/clear_refs); False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def min_call_time(fn, min_s, max_calls, min_calls=1):
    """Shortest wall time of repeated calls of fn: at least ``min_calls``, then on until
    ``min_s`` is spent or ``max_calls`` are made."""
    times = []
    while len(times) < min_calls or (sum(times) < min_s and len(times) < max_calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def time_per_sample(fn, x, plan, max_batch=None):
    """Seconds per sample of ``fn`` (numpy batch -> numpy result) at each of plan.batches.

    The one timing rule of ``bench all``, for solvers and surrogate alike: for each batch size
    b, fn(x[:b]) is called plan.warmup times untimed, then timed until plan.min_s is spent;
    the fastest call, divided by b. NaN above ``max_batch`` and where CUDA runs out of
    memory. CUDA work is finished by the copy of the result to the host inside fn.
    """
    return time_interleaved([(fn, max_batch)], x, plan, rounds=1)[0]


def time_interleaved(cases, x, plan, rounds):
    """:func:`time_per_sample`'s rule for several functions at once, interleaved: ``cases``
    is a list of (fn, max_batch); in each of ``rounds`` rounds every (batch, case) in turn
    gets its share (1/rounds) of the timed calls, after plan.warmup untimed calls in the first
    round; the fastest call over all rounds is kept. A change of the machine's load during the
    run so meets every variant alike, and their ratios stay comparable. Returns (case, batch)."""
    out = np.full((len(cases), len(plan.batches)), np.nan)
    failed = set()
    calls = (max(1, -(-plan.min_calls // rounds)), max(1, plan.max_calls // rounds))
    for r in range(rounds):
        for j, b in enumerate(plan.batches):
            xb = x[:b]
            for i, (fn, max_batch) in enumerate(cases):
                if (max_batch is not None and b > max_batch) or (i, j) in failed:
                    continue
                try:
                    for _ in range(plan.warmup if r == 0 else 0):
                        fn(xb)
                    t = min_call_time(lambda: fn(xb), plan.min_s / rounds, calls[1], calls[0])
                    out[i, j] = np.fmin(out[i, j], t / b)
                except torch.cuda.OutOfMemoryError:
                    torch.cuda.empty_cache()
                    failed.add((i, j))
                    out[i, j] = np.nan
    return out


def surrogate_call(model, device, precision="fp32"):
    """The surrogate as a numpy -> numpy function, with the copies the torch solvers pay:
    a float64 (B, N, N) host batch to float32 on the device, eval mode, no_grad (bf16
    autocast for ``precision`` "bf16"), the (B, N, N) prediction back on the host."""
    model.eval()

    def run(batch):
        with torch.no_grad(), torch.autocast(device.type, torch.bfloat16,
                                             enabled=precision == "bf16"):
            out = model(torch.from_numpy(batch[:, None]).float().to(device))
        return out.float().cpu().numpy()[:, 0]
    return run


def resolve_device(device: str | None) -> torch.device:
    """``device`` ("cpu", "cuda", "cuda:N"; default CUDA when available) as a torch device;
    ValueError for another kind, or for CUDA where torch sees none."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {str(device)!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA device; use 'cpu'")
    return device


def measurement_file(quick_name: str, full_name: str, quick: bool, profile: str | None = None,
                     root=None) -> Path:
    """Where a measurement belongs: a full run in ``<root>/benchmarks/<full_name>`` (committed),
    a quick one in ``<root>/<profile>/<quick_name>`` (git-ignored; ``profile`` default "ci").
    ``root``: the results root (:func:`diffsurr.runid.results_root`) unless given."""
    root = Path(root) if root is not None else results_root()
    return root / (profile or "ci") / quick_name if quick else root / "benchmarks" / full_name


def file_slug(ds) -> str:
    """The device slug of a measurement file (its ``device_kind`` and ``device_name``)."""
    return device_slug(ds.attrs["device_kind"], ds.attrs["device_name"])


def profile_slug(profile) -> str:
    """The device slug a run of ``profile`` will measure on (its resolved device, here)."""
    kind = torch.device(profile.resolved_device()).type
    return device_slug(kind, device_name(kind))


def trainer_epoch_s(template, loss_fn, data, n_steps, cfg):
    """Wall time of the fastest warm epoch (all but the first of ``cfg.epochs``) of
    diffsurr.train.train on ``n_steps`` batches.

    The trainer's own loop, with its per-epoch validation, dead-unit count and state copies;
    no checkpoint, no roll-back (max_rollbacks = 0 in ``cfg``). The fastest epoch, because
    other processes on a shared machine only ever add time."""
    from diffsurr.train import train

    xs, ys, xv, yv = data
    n = n_steps * cfg.batch_size
    _, hist = train(copy.deepcopy(template), loss_fn, xs[:n], ys[:n], xv, yv, cfg,
                    progress=False)
    return float(np.diff(hist.wall_time_s.values).min())


def train_option_times(template, loss_fn, data, batch, lr, option, plan, device, seed):
    """Seconds per training step and the rest of an epoch, timed through diffsurr.train.train.

    Two runs of 1 + plan.train_repeats epochs each, one with 1 step per epoch and one with
    1 + plan.train_steps; their fastest warm epochs differ by plan.train_steps steps alone, so
    s_per_step is that difference over plan.train_steps, and ``other_s`` (validation, dead-unit
    count, state
    copies) the short epoch less one step. Validation per sample is timed with the trainer's
    evaluate_loss. Only torch.compile failures and CUDA out-of-memory are caught (``error``).
    """
    from diffsurr.train import TrainConfig, evaluate_loss

    amp, channels_last, compiled = option
    result = {"s_per_step": np.nan, "other_s": np.nan, "val_s_per_sample": np.nan,
              "cuda_peak": np.nan, "error": ""}
    cfg = TrainConfig(epochs=1 + plan.train_repeats, batch_size=batch, lr=lr, seed=seed,
                      max_rollbacks=0, device=str(device), amp=amp, channels_last=channels_last,
                      compile=compiled)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    try:
        short = trainer_epoch_s(template, loss_fn, data, 1, cfg)
        if compiled:
            torch._dynamo.reset()
        long = trainer_epoch_s(template, loss_fn, data, 1 + plan.train_steps, cfg)
        model = copy.deepcopy(template).to(device)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        xv, yv = data[2].to(device), data[3].to(device)
        evaluate_loss(model, loss_fn, xv, yv, cfg.val_batch_size, amp)  # warm-up
        val_s = min_call_time(lambda: evaluate_loss(model, loss_fn, xv, yv,
                                                     cfg.val_batch_size, amp), plan.min_s, 3)
        result["val_s_per_sample"] = val_s = val_s / len(xv)
        step = (long - short) / plan.train_steps
        if step <= 0:
            result["error"] = (f"the run with {plan.train_steps} more steps per epoch was not "
                               f"slower ({long:.3g} s vs {short:.3g} s): load noise; rerun")
        else:
            result.update(s_per_step=step, other_s=max(short - step - len(xv) * val_s, 0.0))
    except torch.cuda.OutOfMemoryError as err:
        result["error"] = f"out of memory: {err}"[:500]
        torch.cuda.empty_cache()
    except Exception as err:  # torch.compile raises many kinds (Dynamo, Inductor, Triton)
        if not compiled:
            raise
        result["error"] = f"torch.compile failed: {type(err).__name__}: {err}"[:500]
    finally:
        if compiled:
            torch._dynamo.reset()
    if device.type == "cuda":
        result["cuda_peak"] = torch.cuda.max_memory_allocated(device)
    return result
