# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Stage 3b: generalisation to other source layouts
# Evaluates trained runs, without retraining, on test sets with 1, 3 or 4 sources,
# radii 3 and 8, and disks touching a wall (the preprint's open question, Sec. 5); writes
# `results/<profile>/generalisation.nc`.

# %% tags=["parameters"]
profile = "auto"
models = "1,2,3,4,5,6,7,8,9,10,11,12,13,14"
# Profile values by name select the runs (-p width 0.5) or the size (-p n_generalise 200).

# %%
from diffsurr import params
from diffsurr.generalise import generalisation_stage

p, own = params.profile_params(globals(), "generalise")
ds = generalisation_stage(p, params.model_list(own.get("models", "")), n=p.n_generalise)
ds.mean_res.to_pandas().round(4)
