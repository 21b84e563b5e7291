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
# # Stage 2: train one run
# Trains a Table 2 model with the roll-back trainer (preprint Sec. 2, Eq. 3) into its run
# folder `results/<profile>/<run>/` (model.pt, history.nc). Rerun after a kill: it resumes
# from the last checkpoint. Rerun after it finished: it says so and does nothing unless
# `retrain=True` (the old model then stays until the new one is complete). It prints the
# profile chosen and why, then a rough estimate of the training time; a missing data set is
# made first, as the data stage would make it (same seeds, same checksum).

# %% tags=["parameters"]
profile = "auto"      # "paper", "reference", "ci", "smoke" or "auto" (paper with CUDA, else ci)
model = None          # Table 2 row, 1-14 (or give run)
seed = None           # training seed; None: the profile's
run = None            # a run folder name instead, e.g. "model_09_seed1_lr-0.0001"
retrain = False
# Any profile value can be given by name as well (-p lr 1e-4 -p epochs 20): it names the run's
# folder. Execution settings (device, checkpoint_every, channels_last, compile) do not.

# %%
from diffsurr import params
from diffsurr.stages.train import train_stage

run, execution, flags = params.run_params(globals(), "train")
out = train_stage(run, **flags, **execution)

# %%
import xarray as xr

history = xr.open_dataset(out / "history.nc")
history[["train_loss", "val_loss"]].to_dataframe().tail()
