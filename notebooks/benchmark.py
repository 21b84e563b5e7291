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
# # Stage 4: benchmark
# Times, in one run on this device and under one timing rule, every solver (checked against an
# independent solution), the surrogate's inference at the same batch sizes, and training
# through the trainer itself; records the machine's load. A full run writes
# `results/benchmarks/<device>.nc` (committed); a quick one (scaled profiles)
# `results/<profile>/benchmark-<device>.nc`.

# %% tags=["parameters"]
profile = "auto"
device = None
quick = False         # fewer repetitions (CI)

# %%
from diffsurr import bench, params

p, own = params.profile_params(globals(), "benchmark")
table = bench.bench_all(device=p.resolved_device(), quick=own["quick"])
print(table.attrs["table"])
print("written to", bench.save(table, profile=p.name))
