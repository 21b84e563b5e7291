# One entry point for humans and CI. `make test` and `make all` create .venv when missing.
PY      := .venv/bin/python
PROFILE ?= auto
BOOK    ?= reference
CORES   ?= 2
REPOSITORY ?=                 # the book's repository URL, for its buttons (Pages: its own)
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: all test venv study nn1-probe book bench gpu-check slurm-check clean

all: venv study book          ## the pipeline (Snakemake) at PROFILE, then the published book

venv: .venv/.installed
.venv/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[fno]'
	touch $@

test: venv                    ## unit and integration tests
	$(PY) -m pytest

study: venv                   ## data -> trainings -> evaluations and generalisation per run -> benchmark
	.venv/bin/snakemake --cores $(CORES) --config profile=$(PROFILE) -- data_sets
	.venv/bin/snakemake --cores $(CORES) --config profile=$(PROFILE) -- results

nn1-probe: venv               ## the NN1 probe: each variant 3 epochs (probe), then the longer one to 32 (convergence; hours)
	for p in probe convergence; do t=$$($(PY) -m diffsurr.nn1_probe $$p) && \
	  .venv/bin/snakemake --cores $(CORES) --config profile=$$p -- $$t || exit 1; done

book: venv                    ## the Jupyter Book of results/$(BOOK) (committed for reference; trains nothing)
	$(PY) -m diffsurr.book.build $(BOOK) $(if $(REPOSITORY),--repository $(REPOSITORY))

bench: venv
	$(PY) -m diffsurr.bench all

gpu-check: venv               ## first thing on a lent GPU (about 8 min); DRY=1: the same on CPU at smoke scale
	tools/gpu-check.sh

slurm-check: venv             ## the smoke study on a one-node Slurm here (sbatch), compared with a local run
	tools/slurm-local.sh check

clean:
	rm -rf _build .snakemake
