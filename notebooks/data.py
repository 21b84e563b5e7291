# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Stage 1: data
# Draws the profile's source configurations and solves each exactly (preprint Sec. 2),
# writing its data file (`results/<profile>/data.nc`, or `data_<values>.nc` for other data
# values) with the train/validation/test split and a content checksum.

# %% tags=["parameters"]
profile = "auto"      # "paper", "reference", "ci", "smoke" or "auto"
force = False         # regenerate even if the data file exists
# Any profile value can be given by name (-p n_samples 500); data values name the file.

# %%
from diffsurr import params, study

p, own = params.profile_params(globals(), "data")
path = study.data_stage(p, **own)
