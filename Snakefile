# The whole study as one DAG:
#   data -> trainings (Table 2, seeds, variants) -> evaluations, generalisation (per Table 2
#   run) -> benchmark, pay-off map -> book
# Local:   snakemake --cores 2 --config profile=ci
# Cluster: snakemake --profile workflow/slurm --config profile=paper   (one Slurm job per rule
#          instance: each training is one GPU job; see workflow/slurm/config.yaml)
# Runs are named and parsed by diffsurr.runid only; the runs and their files are
# diffsurr.study's.
import sys
from pathlib import Path

from diffsurr.baselines import require
from diffsurr.bench import planned_output
from diffsurr.payoff import planned_output as payoff_output
from diffsurr.params import model_list
from diffsurr.profiles import baseline_archs, get_profile
from diffsurr.runid import RunId, data_path, parse_data_name, results_dir
from diffsurr.study import BASELINES_FILE, compared_runs, generalised_runs, study_runs

STUDY = {k: config[k] for k in ("extra_seeds", "seed_models") if k in config}
PROFILE, WHY = get_profile(config.get("profile", "auto"), **STUDY)
P = PROFILE.name
MODELS = model_list(config.get("models", ",".join(map(str, PROFILE.models or range(1, 15)))))
RUNS = [run.name for run in study_runs(PROFILE, MODELS)]
GENERALISED = [run.name for run in generalised_runs(PROFILE, MODELS)]
require(baseline_archs(PROFILE.baselines))
print(f"diffsurr workflow: profile {P!r} ({WHY}); {len(RUNS)} trainings")

# The results root of the notebooks too: results/, or $DIFFSURR_RESULTS where it is set.
ROOT = results_dir(P).absolute()
R = str(ROOT.relative_to(Path.cwd())) if ROOT.is_relative_to(Path.cwd()) else str(ROOT)
STRAY = [p for p in (ROOT, *(ROOT / run for run in RUNS)) if p.exists() and not p.is_dir()]
if STRAY:
    raise ValueError(f"not a folder, where results belong: {', '.join(map(str, STRAY))}; "
                     "move or delete it, then run again")
NB = f"{R}/notebooks"
# One torch thread per job: small convolutions scale poorly over threads, so on a CPU
# `--cores 2` runs two trainings side by side instead. papermill runs from this Python, so
# the README's `.venv/bin/snakemake` works without the venv on PATH.
PM = (f"OMP_NUM_THREADS={{threads}} {sys.executable} -m papermill --cwd . --log-output "
      "--no-progress-bar -k python3")


def run_of(wildcards):
    """The run a target folder names (ValueError, before any job, for a name that is not one)."""
    return RunId.parse(P, wildcards.run)


# Inputs are ancient(): a file's age never makes a job run again, since on a fresh clone the
# checkout order sets the ages and the data set is regenerated after the results were
# committed. A missing output still runs its job (and the jobs that use it); each stage checks
# the identity and checksum of what it reads (model.pt against its data, eval.nc and
# generalise.nc against model.pt).
def data_of(run):
    return ancient(f"{R}/{data_path(run.config()).name}")


def data_flags(wildcards):
    """papermill -p flags for the data values a data file's name stands for."""
    values = parse_data_name(P, wildcards.data)
    return " ".join(f"-p {k} {v}" for k, v in values.items())


wildcard_constraints:
    run=r"model_\d{2}[^/]*",
    data=r"data(_[^/]+)?",
    epoch=r"\d{3}",


localrules: all, data_sets, results, book


rule all:
    input:
        "_build/html/index.html",


rule data:
    threads: 1
    output:
        f"{R}/{{data}}.nc",
    log:
        f"{NB}/{{data}}.ipynb",
    params:
        p=data_flags,
    shell:
        f"{PM} notebooks/data.ipynb {{log}} -p profile {P} {{params.p}}"


rule train:
    threads: 1
    input:
        lambda wc: data_of(run_of(wc)),
    output:
        f"{R}/{{run}}/model.pt",
        f"{R}/{{run}}/history.nc",
    log:
        f"{NB}/train_{{run}}.ipynb",
    params:
        run=lambda wc: run_of(wc).name,
    shell:
        f"{PM} notebooks/train.ipynb {{log}} -p profile {P} -p run {{params.run}}"


rule evaluate:
    threads: 1
    input:
        ancient(f"{R}/{{run}}/model.pt"),
        lambda wc: data_of(run_of(wc)),
    output:
        f"{R}/{{run}}/eval.nc",
    log:
        f"{NB}/evaluate_{{run}}.ipynb",
    params:
        run=lambda wc: run_of(wc).name,
    shell:
        f"{PM} notebooks/evaluate.ipynb {{log}} -p profile {P} -p run {{params.run}}"


# The best model after each of the profile's milestones (epochs) but the last, which is
# model.pt itself (convergence profile).
rule evaluate_milestone:
    threads: 1
    input:
        ancient(f"{R}/{{run}}/model.pt"),
        lambda wc: data_of(run_of(wc)),
    output:
        f"{R}/{{run}}/eval-{{epoch}}.nc",
    log:
        f"{NB}/evaluate_{{run}}_epoch{{epoch}}.ipynb",
    params:
        run=lambda wc: run_of(wc).name,
        milestone=lambda wc: int(wc.epoch),
    shell:
        f"{PM} notebooks/evaluate.ipynb {{log}} -p profile {P} -p run {{params.run}} "
        "-p milestone {params.milestone}"


rule generalise:
    threads: 1
    input:
        ancient(f"{R}/{{run}}/model.pt"),
    output:
        f"{R}/{{run}}/generalise.nc",
    log:
        f"{NB}/generalise_{{run}}.ipynb",
    params:
        run=lambda wc: run_of(wc).name,
    shell:
        f"{PM} notebooks/generalise.ipynb {{log}} -p profile {P} -p run {{params.run}}"


# The paper profile's full benchmark writes results/benchmarks/<device>.nc (committed); the
# scaled profiles' quick one results/<profile>/benchmark-<device>.nc (git-ignored).
rule benchmark:
    threads: workflow.cores
    output:
        notebook=f"{NB}/benchmark.ipynb",
        result=planned_output(PROFILE, quick=P != "paper"),
    params:
        quick=str(P != "paper"),
    shell:
        f"{PM} notebooks/benchmark.ipynb {{output.notebook}} -p profile {P} -p quick {{params.quick}}"


# The pay-off map: the paper profile's full run writes
# results/benchmarks/payoff-<device>.nc (committed), the scaled profiles' quick one
# results/<profile>/payoff-<device>.nc (git-ignored).
rule payoff:
    threads: workflow.cores
    output:
        notebook=f"{NB}/payoff.ipynb",
        result=payoff_output(PROFILE, quick=P != "paper"),
    params:
        quick=str(P != "paper"),
    shell:
        f"{PM} notebooks/payoff.ipynb {{output.notebook}} -p profile {P} -p quick {{params.quick}}"


# The baselines' size and cost next to models 9 and 12, measured in one run;
# one thread, as each training runs.
rule baselines:
    threads: 1
    input:
        [ancient(f"{R}/{run.name}/model.pt") for run in compared_runs(PROFILE)],
    output:
        notebook=f"{NB}/baselines.ipynb",
        result=f"{R}/{BASELINES_FILE}",
    shell:
        f"{PM} notebooks/baselines.ipynb {{output.notebook}} -p profile {P}"


# Every data set the study's runs read. `make study` makes them before it plans the results:
# Snakemake reruns every job that reads a file it makes in the same run, whatever the file's
# age, so a data set missing on a fresh clone would retrain the runs whose weights are not
# committed as soon as one result is missing.
rule data_sets:
    input:
        sorted({f"{R}/{data_path(RunId.parse(P, run).config()).name}" for run in RUNS}),


# Every result the book reads (`snakemake results` computes what is missing, no book).
rule results:
    input:
        expand(f"{R}/{{run}}/eval.nc", run=RUNS),
        expand(f"{R}/{{run}}/generalise.nc", run=GENERALISED),
        expand(f"{R}/{{run}}/eval-{{epoch:03d}}.nc", run=RUNS,
               epoch=[e for e in PROFILE.milestones if e < PROFILE.epochs]),
        f"{NB}/benchmark.ipynb",
        f"{NB}/payoff.ipynb",
        [f"{NB}/baselines.ipynb"] if PROFILE.baselines else [],


rule book:
    input:
        rules.results.input,
    output:
        "_build/html/index.html",
    shell:
        f"{sys.executable} -m diffsurr.book.build {P}"
