# The whole study as one DAG:
#   data -> 14 trainings (+ seeds, + variants) -> evaluations, generalisation -> benchmark -> book
# Local:   snakemake --cores 2 --config profile=ci
# Cluster: snakemake --profile workflow/slurm --config profile=paper   (one Slurm job per rule
#          instance: each training is one GPU job; see workflow/slurm/config.yaml)
import re

from diffsurr.profiles import get_profile

PROFILE, WHY = get_profile(config.get("profile", "auto"))
P = PROFILE.name
MODELS = [int(m) for m in str(config.get("models", "1,2,3,4,5,6,7,8,9,10,11,12,13,14")).split(",")]
SEEDS = [int(s) for s in str(config.get("seeds", ",".join(map(str, PROFILE.extra_seeds)))).split(",") if s]
SEED_MODELS = [int(m) for m in str(config.get("seed_models", ",".join(map(str, PROFILE.seed_models)))).split(",") if m]
OTHER_HEAD = "table1" if PROFILE.head == "relu" else "relu"

RUNS = [f"model_{m:02d}" for m in MODELS]                                   # Table 2
RUNS += [f"model_{m:02d}_seed{s}" for m in SEED_MODELS for s in SEEDS]      # error bars
RUNS += ["model_09_rollback-none", f"model_12_head-{OTHER_HEAD}"]          # Fig. 4a, head
print(f"diffsurr workflow: profile {P!r} ({WHY}); {len(RUNS)} trainings")

NB = f"results/{P}/notebooks"
# One torch thread per job: small convolutions scale poorly over threads, so on a CPU
# `--cores 2` runs two trainings side by side instead.
PM = "OMP_NUM_THREADS={threads} papermill --cwd . --log-output --no-progress-bar -k python3"


wildcard_constraints:
    run=r"model_\d{2}(_seed\d+)?(_[a-z][a-z_]*-[^_/]+)*",


def run_params(run):
    """papermill -p flags for a run folder name: model, seed and overridden values."""
    m = re.match(r"model_(\d{2})(?:_seed(\d+))?(.*)$", run)
    flags = f"-p model {int(m.group(1))}" + (f" -p seed {m.group(2)}" if m.group(2) else "")
    for key, value in re.findall(r"_([a-z][a-z_]*)-([^_]+)", m.group(3)):
        flags += f" -p {key} {value}"
    return flags


localrules: all, book


rule all:
    input:
        "_build/html/index.html",


rule data:
    threads: 1
    output:
        f"results/{P}/data.nc",
    log:
        f"{NB}/data.ipynb",
    shell:
        f"{PM} notebooks/data.ipynb {{log}} -p profile {P}"


rule train:
    threads: 1
    input:
        f"results/{P}/data.nc",
    output:
        f"results/{P}/{{run}}/model.pt",
        f"results/{P}/{{run}}/history.nc",
    log:
        f"{NB}/train_{{run}}.ipynb",
    params:
        p=lambda wc: run_params(wc.run),
    shell:
        f"{PM} notebooks/train.ipynb {{log}} -p profile {P} {{params.p}}"


rule evaluate:
    threads: 1
    input:
        f"results/{P}/{{run}}/model.pt",
    output:
        f"results/{P}/{{run}}/eval.nc",
    log:
        f"{NB}/evaluate_{{run}}.ipynb",
    params:
        p=lambda wc: run_params(wc.run),
    shell:
        f"{PM} notebooks/evaluate.ipynb {{log}} -p profile {P} {{params.p}}"


rule generalise:
    threads: workflow.cores
    input:
        expand(f"results/{P}/model_{{m:02d}}/model.pt", m=MODELS),
    output:
        f"results/{P}/generalisation.nc",
    log:
        f"{NB}/generalise.ipynb",
    shell:
        f"{PM} notebooks/generalise.ipynb {{log}} -p profile {P} -p models {','.join(map(str, MODELS))}"


rule benchmark:
    threads: workflow.cores
    output:
        f"{NB}/benchmark.ipynb",
    params:
        quick=str(P != "paper"),
    shell:
        f"{PM} notebooks/benchmark.ipynb {{output}} -p profile {P} -p quick {{params.quick}}"


rule book:
    input:
        expand(f"results/{P}/{{run}}/eval.nc", run=RUNS),
        f"results/{P}/generalisation.nc",
        f"{NB}/benchmark.ipynb",
    output:
        "_build/html/index.html",
    shell:
        f"rm -rf book/executed && mkdir -p book/executed && cp {NB}/*.ipynb book/executed/ && "
        f"DIFFSURR_PROFILE={P} jupyter-book build . --warningiserror --keep-going"
