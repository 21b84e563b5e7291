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
# # Stage 5: pay-off map
# Measures, in one run on this device, the exact solver's time per solve (float64, checked
# against the sparse reference) for grids of 100 to 512 pixels and 1 to 20 disk or polyline
# sources, NN1's forward and training-step time per sample at each grid, and Eq. 4's
# break-even N_min for every cell. A full run writes `results/benchmarks/payoff-<device>.nc`
# (committed); a quick one (scaled profiles) `results/<profile>/payoff-<device>.nc`.

# %% tags=["parameters"]
profile = "auto"
device = None
quick = False         # grids 100 and 200 only, one timed call per batch (CI)

# %%
from diffsurr import params, payoff

# the benchmark stage's parameters (profile, device, quick) are this stage's too
p, own = params.profile_params(globals(), "benchmark")
result = payoff.payoff(device=p.resolved_device(), quick=own["quick"])
print(result.n_min.to_dataframe().n_min.unstack("sources").to_string())
print("written to", payoff.save(result, profile=p.name))
