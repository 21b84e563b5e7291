# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Stage 3b: generalisation to other source layouts
# Evaluates trained models, without retraining, on test sets with 1, 3 or 4 sources,
# radii 3 and 8, and disks touching a wall (the preprint's open question, Sec. 5); writes
# `results/<profile>/generalisation.nc`.

# %% tags=["parameters"]
profile = "auto"
models = "1,2,3,4,5,6,7,8,9,10,11,12,13,14"
n_per_layout = None   # None: the profile's n_generalise
device = None

# %%
from diffsurr.generalise import generalisation_stage
from diffsurr.profiles import get_profile
from diffsurr.registry import spec

model_list = [spec(int(m)).model for m in str(models).split(",")]
p, why = get_profile(profile, device=device, n_generalise=n_per_layout)
print(f"profile {p.name!r} ({why})")
ds = generalisation_stage(p, model_list, n=p.n_generalise)
ds.mean_res.to_pandas().round(4)
