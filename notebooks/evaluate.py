# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: kernelspec,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Stage 3: evaluate one trained run
# Predictions on the test set and part of the training set; residual statistics (Table 2),
# slice statistics (Figs. 9-10), PDFs (Fig. 11, Supplement A), 2-D histograms (Fig. 8),
# figure samples with NN1 and NN2 outputs (Figs. 5-7) and the metrics beyond the preprint,
# written to the run's `eval.nc`.

# %% tags=["parameters"]
profile = "auto"
model = None          # Table 2 row, 1-14 (or give run)
seed = None
run = None            # a run folder name instead, e.g. "model_09_rollback-none"
milestone = None      # an epoch of the profile's milestones: evaluate the best model after it
# Profile values by name name the run, as in the train notebook; device is an execution setting.

# %%
from diffsurr import params
from diffsurr.stages.evaluate import evaluate_stage

run, execution, own = params.run_params(globals(), "evaluate")
ds = evaluate_stage(run, **own, **execution)
test = ds.sel(set="test")
for name in ("mean_res", "p99_res", "max_res", "mean_nrmse"):
    print(f"test {name}: {float(test[name]):.4g}")
