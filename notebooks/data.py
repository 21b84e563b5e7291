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
# writing `results/<profile>/data.nc` with the train/validation/test split.

# %% tags=["parameters"]
profile = "auto"      # "paper", "ci" or "auto" (paper with CUDA, ci without)
n_samples = None      # None: the profile's value
force = False         # regenerate even if data.nc exists

# %%
from diffsurr import study
from diffsurr.profiles import get_profile

p, why = get_profile(profile, n_samples=n_samples)
print(f"profile {p.name!r} ({why}): {p.description}")
path = study.data_stage(p, force=force)
