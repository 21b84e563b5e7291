# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Stage 2: train one Table 2 model
# Trains model `model` with the roll-back trainer (preprint Sec. 2, Eq. 3) and writes
# `results/<profile>/model_NN/` (model.pt, history.nc). Rerun after a kill: it resumes
# from the last checkpoint. Rerun after it finished: it says so and does nothing unless
# `retrain=True`.

# %% tags=["parameters"]
model = 9             # Table 2 row, 1-14
profile = "auto"      # "paper", "ci" or "auto"
seed = None           # training seed; None: the profile's
epochs = None         # None: the profile's value
lr = None
rollback = None       # "preprint", "code" or "none"; None: the profile's
head = None           # NN2 output head, "table1" or "relu"; None: the profile's
device = None         # None: cuda if available, else cpu
retrain = False

# %%
from diffsurr import study
from diffsurr.profiles import get_profile
from diffsurr.registry import spec

print(spec(model))
p, why = get_profile(profile, epochs=epochs, lr=lr, rollback=rollback, head=head,
                     device=device)
print(f"profile {p.name!r} ({why}): {p.description}")
out = study.train_stage(p, model, seed=seed, retrain=retrain)

# %%
import xarray as xr

history = xr.open_dataset(out / "history.nc")
history[["train_loss", "val_loss"]].to_dataframe().tail()
