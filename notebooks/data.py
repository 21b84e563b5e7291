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
# # Stage 1: data
# Draws the profile's source configurations and solves each exactly (preprint Sec. 2),
# writing its data file (`results/<profile>/data.nc`, or `data_<values>.nc` for other data
# values) with the train/validation/test split and a content checksum.

# %% tags=["parameters"]
profile = "auto"      # "paper", "reference", "ci", "smoke" or "auto"
force = False         # regenerate even if the data file exists
# Any profile value can be given by name (-p n_samples 500); data values name the file.

# %%
from diffsurr import params
from diffsurr.stages.data import data_stage

p, own = params.profile_params(globals(), "data")
path = data_stage(p, **own)
