# The whole study as one DAG:  data -> 14 trainings -> 14 evaluations -> benchmark -> book.
# Local:   snakemake --cores 2 --config profile=ci
# Cluster: snakemake --profile workflow/slurm --config profile=paper   (one Slurm job per rule
#          instance: each training is one GPU job; see workflow/slurm/config.yaml)
from diffsurr.profiles import get_profile

PROFILE, WHY = get_profile(config.get("profile", "auto"))
P = PROFILE.name
MODELS = [int(m) for m in config.get("models", range(1, 15))]
print(f"diffsurr workflow: profile {P!r} ({WHY}); models {MODELS}")

NB = f"results/{P}/notebooks"
PM = "papermill --cwd . --log-output --no-progress-bar -k python3"


def mdir(m):
    return f"results/{P}/model_{int(m):02d}"


localrules: all, book


rule all:
    input:
        "_build/html/index.html",


rule data:
    output:
        f"results/{P}/data.nc",
    log:
        f"{NB}/data.ipynb",
    shell:
        f"{PM} notebooks/data.ipynb {{log}} -p profile {P}"


rule train:
    input:
        f"results/{P}/data.nc",
    output:
        model=f"results/{P}/model_{{m}}/model.pt",
        history=f"results/{P}/model_{{m}}/history.nc",
    log:
        f"{NB}/train_{{m}}.ipynb",
    shell:
        f"{PM} notebooks/train.ipynb {{log}} -p profile {P} -p model {{wildcards.m}}"


rule evaluate:
    input:
        f"results/{P}/model_{{m}}/model.pt",
    output:
        f"results/{P}/model_{{m}}/eval.nc",
    log:
        f"{NB}/evaluate_{{m}}.ipynb",
    shell:
        f"{PM} notebooks/evaluate.ipynb {{log}} -p profile {P} -p model {{wildcards.m}}"


rule benchmark:
    output:
        f"{NB}/benchmark.ipynb",
    params:
        quick=str(P != "paper"),
    shell:
        f"{PM} notebooks/benchmark.ipynb {{output}} -p profile {P} -p quick {{params.quick}}"


rule book:
    input:
        expand(f"results/{P}/model_{{m}}/eval.nc", m=[f"{m:02d}" for m in MODELS]),
        f"{NB}/benchmark.ipynb",
    output:
        "_build/html/index.html",
    shell:
        f"DIFFSURR_PROFILE={P} jupyter-book build . --warningiserror --keep-going"
