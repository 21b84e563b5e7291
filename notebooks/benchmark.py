# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Stage 4: benchmark
# Times, in one run on this device, every exact solver, the surrogate's inference at batch 1
# and batched, and training per epoch; writes `results/benchmarks/<device>.nc`.

# %% tags=["parameters"]
profile = "auto"
device = None
quick = False         # fewer repetitions (CI)

# %%
from diffsurr import bench, params

p, own = params.profile_params(globals(), "benchmark")
table = bench.bench_all(device=p.resolved_device(), quick=own["quick"])
print(table.attrs["table"])
print("written to", bench.save(table))
