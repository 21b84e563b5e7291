# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Stage 3: evaluate one trained model
# Predictions on the test set and part of the training set; residual statistics (Table 2),
# slice statistics (Figs. 9-10), PDFs (Fig. 11, Supplement A), 2-D histograms (Fig. 8),
# figure samples with NN1 and NN2 outputs (Figs. 5-7) and the metrics beyond the preprint,
# written to `results/<profile>/model_NN/eval.nc`.

# %% tags=["parameters"]
model = 9
profile = "auto"
seed = None
epochs = None         # the overrides the model was trained with (they name its folder)
lr = None
rollback = None
head = None
device = None

# %%
from diffsurr import evaluate
from diffsurr.profiles import get_profile
from diffsurr.registry import spec

spec(model)
p, why = get_profile(profile, epochs=epochs, lr=lr, rollback=rollback, head=head,
                     device=device)
print(f"profile {p.name!r} ({why}): {p.description}")
ds = evaluate.evaluate_stage(p, model, seed=seed)
test = ds.sel(set="test")
for name in ("mean_res", "p99_res", "max_res", "mean_nrmse"):
    print(f"test {name}: {float(test[name]):.4g}")
