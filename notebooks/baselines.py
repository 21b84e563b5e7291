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
# # Stage 6: the baselines' size and cost
# The study's baselines (a U-Net and a Fourier neural operator, trained by the train stage
# with model 12's loss) next to models 9 and 12: parameters, and a training step and a forward
# pass per sample of the trained weights, measured side by side in this one run on this
# device. Writes `results/<profile>/baselines.nc`; the book's baselines page adds each run's
# accuracy from its `eval.nc` and `generalise.nc`.

# %% tags=["parameters"]
profile = "auto"
device = None

# %%
from diffsurr import params
from diffsurr.stages.baselines import baselines_stage
from diffsurr.study import baselines_path

p, _ = params.profile_params(globals(), "baselines")
ds = baselines_stage(p)
print(ds[["parameters", "train_step_s", "infer_s"]].to_dataframe().to_string())
print("written to", baselines_path(p))
