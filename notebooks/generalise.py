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
# # Stage 3b: generalisation of one trained run to other source layouts
# Evaluates the trained run, without retraining, on test sets with 1, 3 or 4 sources,
# radii 3 and 8, and disks touching a wall (the preprint's open question, Sec. 5); writes the
# run's `generalise.nc` (`results/<profile>/<run>/generalise.nc`), with the SHA-256 of the
# model.pt it used. Does nothing when that file exists for this very model.pt (force=True
# computes it again).

# %% tags=["parameters"]
profile = "auto"
model = None          # Table 2 row, 1-14 (or give run)
seed = None
run = None            # a run folder name instead, e.g. "model_09_rollback-none"
force = False         # compute again even if generalise.nc exists for this model.pt
# Profile values by name name the run, as in the train notebook; device is an execution setting.
# The size per layout is the profile's n_generalise.

# %%
from diffsurr import params
from diffsurr.stages.generalise import generalise_stage

run, execution, flags = params.run_params(globals(), "generalise")
ds = generalise_stage(run, **flags, **execution)
ds.mean_res.sel(model=run.model).to_pandas().round(4)
