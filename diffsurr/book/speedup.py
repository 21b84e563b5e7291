"""Findings of the speed-up chapter (book/speedup.md) and the README's headline.

Everything the chapter states is computed here from the ``bench all`` files in
``results/benchmarks/`` (:func:`load_benchmarks`); the page only inserts the sentences and
tables. Each sentence that states a conclusion picks its wording from the numbers through a
named threshold below, and tests feed numbers that flip it.

``python -m diffsurr.book.speedup --readme`` rewrites the README's headline between its
markers from the committed file (``--check`` only compares; exit status 1 when they differ).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import io, speedup
from ..bench import BENCH_FORMAT, EXACT_TOL, LOADED_PER_CORE
from .plots import surrogate_label
from ..results import load_benchmark_files

CLAIMED_SPEEDUP = speedup.PREPRINT_SPEEDUP
"""The preprint's δ/ε, "about 1000 times faster" (Sec. 4)."""
FASTER = 1.0
"""δ/ε above this: the surrogate is faster than the solver (and Eq. 4 has a solution)."""
HEADLINE_PROFILE = "paper"
"""The surrogate the verdicts judge: Table 2 model 9 at full NN2 width, the preprint's."""
TIME_STEPPING = "time stepping (numpy)"
"""The solver of the preprint's kind (explicit time stepping to steady state)."""
README = io.REPO_ROOT / "README.md"
WRAP = 96
"""Line width of the README's headline paragraph."""
MARKERS = ("<!-- headline:start (generated: python -m diffsurr.book.speedup --readme) -->",
           "<!-- headline:end -->")
OLD_FORMAT = ("written by the benchmark before format 2 (its sparse row was compared with "
              "itself, the surrogate was timed without the host copies the solvers paid, and "
              "it records no load flag)")
QUICK = "a quick (CI) run, too short to quote"


# ---------------------------------------------------------------- loading
def load_benchmarks(folder=None) -> tuple[dict[str, xr.Dataset], dict[str, str]]:
    """({file name: dataset} of the full format-2 runs, {file name: why it is left out})."""
    kept, dropped = {}, {}
    for name, ds in load_benchmark_files(folder).items():
        reason = (OLD_FORMAT if int(ds.attrs.get("bench_format", 1)) < BENCH_FORMAT
                  else QUICK if int(ds.attrs.get("quick", 0)) else "")
        if reason:
            dropped[name] = reason
        else:
            kept[name] = ds
    return kept, dropped


def headline_file(benches: dict[str, xr.Dataset]) -> str | None:
    """The file the README quotes: the most recent full run measured on a quiet machine
    (None if there is none: a loaded run's times are not a headline)."""
    quiet = [name for name, ds in benches.items() if not int(ds.attrs.get("loaded", 1))]
    return max(quiet, key=lambda name: benches[name].attrs["created"]) if quiet else None


# ---------------------------------------------------------------- numbers
def exact_solvers(ds: xr.Dataset) -> list[str]:
    """Solvers that are float64 and within EXACT_TOL of the independent reference."""
    return [str(s) for s in ds.solver.values
            if int(ds.exact.sel(solver=s)) and float(ds.solve_error.sel(solver=s)) <= EXACT_TOL]


def fastest_exact(ds: xr.Dataset) -> str:
    """The exact solver with the smallest δ at its best batch."""
    names = exact_solvers(ds)
    if not names:
        raise ValueError("no solver in this benchmark is exact")
    return min(names, key=lambda s: float(ds.delta_best_s.sel(solver=s)))


def _times(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _ms(s: float) -> str:
    return f"{_times(1e3 * s)} ms"


def _cell(v) -> str:
    """A table number: '-' for NaN, 'never' for inf (Eq. 4), 3 digits or a grouped integer."""
    if isinstance(v, str):
        return v
    if np.isnan(v):
        return "-"
    if np.isinf(v):
        return "never"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _device(ds: xr.Dataset) -> str:
    a = ds.attrs
    kind = f"{a['cpu_count']}-core CPU" if a["device_kind"] == "cpu" else "GPU"
    return f"{a['device_name']} ({kind})"


def load_sentence(ds: xr.Dataset) -> str:
    """Whether the run was loaded (the ``loaded`` flag, LOADED_PER_CORE), in one sentence."""
    a = ds.attrs
    if "loaded" not in a:
        return "This file records no load flag."
    core = f"{LOADED_PER_CORE} per core, {LOADED_PER_CORE * a['cpu_count']:g} on {a['cpu_count']}"
    if int(a["loaded"]):
        return (f"**Measured on a loaded machine**: other processes kept a 1-min load of "
                f"{a['load_other_1min']:.2f} (threshold {core}); its times are slower than a "
                "quiet machine's, by an unknown factor that need not be the same for every "
                "row.")
    return (f"Measured on a quiet machine: other processes' 1-min load {a['load_other_1min']:.2f} "
            f"(threshold {core}).")


def solver_sentence(ds: xr.Dataset) -> str:
    """The fastest exact solver against the preprint's 1.16 s and against time stepping."""
    best = fastest_exact(ds)
    d = float(ds.delta_best_s.sel(solver=best))
    step = float(ds.delta_best_s.sel(solver=TIME_STEPPING))
    return (f"The fastest exact solver on {_device(ds)}, *{best}*, takes {_ms(d)} per solve "
            f"(batch {int(ds.delta_best_batch.sel(solver=best))}), "
            f"{_times(speedup.PREPRINT_DELTA_S / d)} times less than the preprint's 1.16 s and "
            f"{_times(step / d)} times less than time stepping on the same machine; it agrees "
            f"with the independent reference to {float(ds.solve_error.sel(solver=best)):.0e} "
            f"(exact means within {EXACT_TOL:.0e}).")


def inexact_sentence(ds: xr.Dataset) -> str:
    """The solvers that are not exact, with their error (float32, time stepping)."""
    names = [str(s) for s in ds.solver.values if str(s) not in exact_solvers(ds)]
    if not names:
        return "Every solver measured is exact."
    parts = [f"*{s}* ({_ms(float(ds.delta_best_s.sel(solver=s)))} per solve, error "
             f"{float(ds.solve_error.sel(solver=s)):.1e})" for s in names]
    return ("Not exact, and kept apart: " + "; ".join(parts) + f". Their error exceeds "
            f"{EXACT_TOL:.0e} or they compute in float32.")


def ratio_clause(ratio: float) -> str:
    """'N times faster than' / 'N times slower than' for δ/ε (the surrogate's side)."""
    return (f"{_times(ratio)} times faster than" if ratio > FASTER
            else f"{_times(1 / ratio)} times slower than")


def conclusion(ratio: float, n_min: float) -> str:
    """What δ/ε against the fastest exact solver says of Eq. 4 (FASTER). The preprint's claim
    itself is judged against time stepping on a GPU, in :mod:`diffsurr.book.claims`."""
    if ratio > FASTER:
        return f"the surrogate pays off against it after N_min = {n_min:,.0f} uses (Eq. 4)."
    return "against this solver the surrogate never pays off (Eq. 4 has no solution)."


def _judged(ds: xr.Dataset, profile: str) -> tuple[str, float, float, float]:
    best = fastest_exact(ds)
    return (best, float(ds.speedup_best.sel(profile=profile, solver=best)),
            float(ds.n_min.sel(profile=profile, solver=best)), float(ds.eps_best_s.sel(
                profile=profile)))


def verdict(ds: xr.Dataset, profile: str = HEADLINE_PROFILE) -> str:
    """The preprint's "about 1000 times faster" judged against the fastest exact solver,
    measured in the same run (:func:`conclusion`)."""
    best, ratio, n_min, eps = _judged(ds, profile)
    return (f"On {_device(ds)} the surrogate ({surrogate_label(profile)}, {_ms(eps)} per "
            "sample at batch "
            f"{int(ds.eps_best_batch.sel(profile=profile))}) is {ratio_clause(ratio)} the "
            f"fastest exact solver, *{best}*: {conclusion(ratio, n_min)}")


def speed_evidence(benches: dict[str, xr.Dataset],
                   profile: str = HEADLINE_PROFILE) -> tuple[dict, ...]:
    """Per benchmark file, what the claim "about 1000× faster" is judged on
    (:class:`diffsurr.book.claims.Context`): the device, whether it is a GPU, whether the run
    was loaded (files without the flag count as loaded), and δ/ε against time stepping and
    against the fastest exact solver."""
    return tuple({"file": name, "device": _device(ds), "gpu": ds.attrs["device_kind"] == "cuda",
                  "loaded": bool(int(ds.attrs.get("loaded", 1))),
                  "vs_stepping": float(ds.speedup_best.sel(profile=profile, solver=TIME_STEPPING)),
                  "vs_exact": float(ds.speedup_best.sel(profile=profile,
                                                        solver=fastest_exact(ds)))}
                 for name, ds in benches.items())


def time_stepping_sentence(ds: xr.Dataset, profile: str = HEADLINE_PROFILE) -> str:
    """The surrogate against time stepping, the preprint's kind of solver."""
    ratio = float(ds.speedup_best.sel(profile=profile, solver=TIME_STEPPING))
    return (f"Against time stepping, the preprint's kind of solver, the surrogate is "
            f"{ratio_clause(ratio)} it on the same machine.")


def gpu_sentence(benches: dict[str, xr.Dataset]) -> str:
    """Which devices were measured; the GPU case of the preprint needs a GPU file."""
    gpus = [name for name, ds in benches.items() if ds.attrs["device_kind"] == "cuda"]
    if gpus:
        return "GPU measurements: " + ", ".join(f"`{g}`" for g in gpus) + "."
    return ("No GPU has been measured yet (`python -m diffsurr.bench all --device cuda` adds "
            "one); a CPU has no tensor cores, so these files say little about the GPU case "
            "the preprint describes.")


def preprint_sentence() -> str:
    """The preprint's own numbers reproduce its break-even (Eq. 4)."""
    return (f"The preprint's own numbers reproduce its break-even: with M = "
            f"{speedup.PREPRINT_M:,}, δ = {speedup.PREPRINT_DELTA_S} s, E = 12 h and ε = δ/"
            f"{CLAIMED_SPEEDUP:,.0f}, Eq. 4 gives N_min = {speedup.preprint_break_even():,.0f} "
            f"(the preprint: ≈ {speedup.PREPRINT_N_MIN:,}; with M = 16,000 training samples it "
            f"would be {speedup.preprint_break_even(M=16_000):,.0f}).")


# ---------------------------------------------------------------- tables
def files_table(benches: dict[str, xr.Dataset], dropped: dict[str, str]) -> pd.DataFrame:
    """One row per file in results/benchmarks: device, date, load, and whether it is shown
    (a left-out file refers by number to :func:`left_out_text`)."""
    rows = [{"file": name, "device": ds.attrs["device_name"],
             "measured": ds.attrs["created"][:16].replace("T", " "),
             "commit": ds.attrs["git_commit"][:12] + ("-dirty" if "dirty" in ds.attrs["git_commit"]
                                                      else ""),
             "torch threads": str(int(ds.attrs["torch_threads"])),
             "1-min load (start → end)": f"{ds.attrs['load_start_1min']:.2f} → "
                                         f"{ds.attrs['load_end_1min']:.2f}",
             "loaded": "yes" if int(ds.attrs["loaded"]) else "no", "shown": "yes"}
            for name, ds in benches.items()]
    rows += [{"file": name, "shown": f"no ({i})"} for i, name in enumerate(dropped, 1)]
    return pd.DataFrame(rows).astype(object).fillna("")


def left_out_text(dropped: dict[str, str]) -> str:
    """Why each file the files table marks "no (i)" is left out, below the table (a reason is a
    sentence, too long for a table column)."""
    return "  \n".join(f"({i}) `{name}` is {why}." for i, (name, why) in enumerate(
        dropped.items(), 1))


def solver_table(ds: xr.Dataset, exact: bool = True) -> pd.DataFrame:
    """ms per solve at each batch, error and 20,000-solve time, exact (or other) solvers."""
    names = [s for s in map(str, ds.solver.values) if (s in exact_solvers(ds)) == exact]
    sub = ds.sel(solver=names)
    table = (sub.solve_s * 1e3).to_pandas()
    table.columns = [f"ms, batch {b}" for b in table.columns]
    table["20,000 solves (min)"] = sub.delta_best_s.to_pandas() * 2e4 / 60
    table["× faster than 1.16 s"] = speedup.PREPRINT_DELTA_S / sub.delta_best_s.to_pandas()
    table["max |u − u_ref|"] = sub.solve_error.to_pandas()
    return table


def surrogate_table(ds: xr.Dataset) -> pd.DataFrame:
    """ε at each batch per profile and precision, and E, the extrapolated training time."""
    table = (ds.infer_s * 1e3).to_dataframe().infer_s.unstack("batch")
    table.columns = [f"ms, batch {b}" for b in table.columns]
    table["training, h per epoch"] = (ds.train_s_per_epoch / 3600).to_pandas().reindex(
        table.index.get_level_values("profile")).values
    table["E, days (800 epochs)"] = (ds.train_s_total / 86400).to_pandas().reindex(
        table.index.get_level_values("profile")).values
    return table


def ratio_table(ds: xr.Dataset) -> pd.DataFrame:
    """δ/ε at batch 1 and at the best batches, and Eq. 4's N_min, per solver and profile."""
    frames = {(p, "δ/ε, batch 1"): ds.speedup_batch1.sel(profile=p).to_pandas()
              for p in map(str, ds.profile.values)}
    frames.update({(p, "δ/ε, best batches"): ds.speedup_best.sel(profile=p).to_pandas()
                   for p in map(str, ds.profile.values)})
    frames.update({(p, "N_min (Eq. 4)"): ds.n_min.sel(profile=p).to_pandas()
                   for p in map(str, ds.profile.values)})
    return pd.DataFrame(frames).sort_index(axis=1, level=0, sort_remaining=False)


CAPTIONS = (f"Exact solvers (float64, within {EXACT_TOL:.0e} of the independent reference): "
            "ms per solve at each batch (host numpy in and out; '-': a per-sample loop, not "
            "timed at this batch)",
            "Not exact, shown apart: float32 paths and time stepping, with their error",
            "Surrogate (Table 2 model 9): ms per sample at the same batches, with the same "
            "copies; training time through diffsurr.train, extrapolated to 800 epochs",
            "δ/ε at batch 1 and with each side at its best batch, and Eq. 4's N_min")


def figure_caption(benches: dict[str, xr.Dataset]) -> str:
    """The speed-up figure's caption, naming the device(s) its bars were measured on."""
    devices = list(dict.fromkeys(_device(ds) for ds in benches.values()))
    where = (f"on {devices[0]}" if len(devices) == 1 else
             "on the device named after each label (" + "; ".join(devices) + ")")
    surrogates = list(dict.fromkeys(surrogate_label(str(p)) for ds in benches.values()
                                    for p in ds.profile.values))
    return ("**Figure S.1.** Time per sample at the best batch of every solver (blue: exact; "
            "grey: float32 or time stepping, not exact) and of the surrogate (orange: "
            + "; ".join(surrogates) + f"), each measured in one run {where} "
            "(`results/benchmarks/`); dashed: the "
            f"preprint's δ = {speedup.PREPRINT_DELTA_S:g} s, dotted: its surrogate at "
            f"δ/{speedup.PREPRINT_SPEEDUP:g} (Sec. 4).")


def sections(benches: dict[str, xr.Dataset]) -> list:
    """What the page displays per file, in order: a paragraph with its findings (Markdown),
    then its four tables (exact solvers, the others, surrogate, ratios) as captioned pandas
    Stylers; ``display(*sections(benches))`` shows them all."""
    from IPython.display import Markdown

    out = []
    for name, ds in benches.items():
        out.append(Markdown(f"**{_device(ds)}** (`{name}`). {load_sentence(ds)} "
                            f"{solver_sentence(ds)} {inexact_sentence(ds)}"))
        frames = (solver_table(ds, True), solver_table(ds, False), surrogate_table(ds),
                  ratio_table(ds))
        out += [f.style.format(_cell).set_caption(c) for f, c in zip(frames, CAPTIONS)]
    return out


def findings(benches: dict[str, xr.Dataset]) -> str:
    """The surrogate against the fastest exact solver and against time stepping, one bullet
    per measured device, with the run's load."""
    return "\n".join(f"- {verdict(ds)} {time_stepping_sentence(ds)} {load_sentence(ds)}"
                     for ds in benches.values())


# ---------------------------------------------------------------- README headline
def headline(ds: xr.Dataset, name: str, profile: str = HEADLINE_PROFILE) -> str:
    """The README's headline paragraph, from one benchmark file measured on a quiet machine."""
    a = ds.attrs
    best, ratio, n_min, eps = _judged(ds, profile)
    d = float(ds.delta_best_s.sel(solver=best))
    return (f"**Headline (generated from `results/benchmarks/{name}`: one run on {_device(ds)}, "
            f"{a['created'][:10]}, other processes' load {a['load_other_1min']:.2f}):** the "
            f"fastest exact solver, *{best}*, takes {_ms(d)} per solve, "
            f"{_times(speedup.PREPRINT_DELTA_S / d)} times less than the preprint's 1.16 s, and "
            f"agrees with an independent solution to "
            f"{float(ds.solve_error.sel(solver=best)):.0e}; the {profile}-width surrogate "
            f"(Table 2 model {a.get('model', 9)}, {_ms(eps)} per sample at batch "
            f"{int(ds.eps_best_batch.sel(profile=profile))}, timed the same way) is "
            f"{ratio_clause(ratio)} it: {conclusion(ratio, n_min)} "
            f"{time_stepping_sentence(ds, profile)} "
            f"{GPU_NOTE if a['device_kind'] != 'cuda' else ''}"
            "The book's speed-up chapter shows every device in `results/benchmarks/`.")


GPU_NOTE = ("The preprint's \"about 1000 times faster\" was a GPU surrogate (NVIDIA Quadro RTX "
            "6000) against its Julia time stepping; no GPU has been measured here. ")


def no_headline(benches: dict[str, xr.Dataset]) -> str:
    """The README's headline paragraph when no benchmark file was measured on a quiet machine:
    which files there are, and their load."""
    files = "; ".join(f"`{name}` ({_device(ds)}, other processes' load "
                      f"{ds.attrs.get('load_other_1min', float('nan')):.2f})"
                      for name, ds in benches.items()) or "none"
    return ("**Headline:** none yet. No benchmark in `results/benchmarks/` was measured on a "
            f"quiet machine (files: {files}); a loaded run's times are shown in the book's "
            "speed-up chapter, flagged, but not quoted here. " + GPU_NOTE
            + "`python -m diffsurr.bench all` on a quiet machine writes the file this headline "
            "is generated from.")


def readme_with_headline(text: str, paragraph: str) -> str:
    """``text`` (the README) with ``paragraph`` between the MARKERS."""
    start, end = MARKERS
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"the README needs one {start!r} line and, after it, one {end!r}")
    head, rest = text.split(start)
    return head + start + "\n" + paragraph + "\n" + end + rest.split(end, 1)[1]


def current_headline(folder=None) -> str:
    """The headline from the committed benchmark files."""
    benches, _ = load_benchmarks(folder)
    name = headline_file(benches)
    text = headline(benches[name], name) if name else no_headline(benches)
    return textwrap.fill(text, WRAP, break_long_words=False, break_on_hyphens=False)


def main(argv=None) -> int:
    """``--readme``: rewrite README.md's headline; ``--check``: 1 when it is out of date."""
    parser = argparse.ArgumentParser(prog="python -m diffsurr.book.speedup",
                                     description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--readme", action="store_true", help="rewrite README.md's headline")
    group.add_argument("--check", action="store_true", help="exit 1 if it is out of date")
    args = parser.parse_args(argv)
    text = README.read_text()
    new = readme_with_headline(text, current_headline())
    if args.check:
        print("README headline is " + ("up to date" if new == text else "OUT OF DATE"))
        return int(new != text)
    Path(README).write_text(new)
    print(f"wrote the headline into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
