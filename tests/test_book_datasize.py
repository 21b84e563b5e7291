"""The data-size runs read for the book: table, fits, and sentences chosen from the numbers."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from diffsurr.book import datasize
from diffsurr.profiles import PROFILES
from diffsurr.study import study_runs


def _df(res):
    """Runs of the datasize profile with the given mean residuals (share -> (8 ep, equal))."""
    rows = []
    for run in study_runs(PROFILES["datasize"]):
        cfg = run.config()
        n = int(np.ceil(14400 * cfg.train_fraction))
        equal = cfg.epochs != 8
        rows.append({"run": run.name, "share": cfg.train_fraction, "n_train": n,
                     "epochs": cfg.epochs, "steps": np.ceil(n / 25) * cfg.epochs,
                     "mean_res": res[cfg.train_fraction][equal] if cfg.train_fraction in res
                     else np.nan, "p99_res": np.nan, "max_res": np.nan})
    return pd.DataFrame(rows)


def test_the_profile_runs_each_share_at_equal_epochs_and_equal_steps():
    df = _df({})
    assert sorted(df.share.unique()) == [0.125, 0.25, 0.5, 1.0]
    steps = df[df.epochs != 8].steps
    assert np.allclose(steps, df.loc[df.share == 1.0, "steps"].iloc[0], rtol=0.01)


def test_the_log_law_is_recovered_from_points_on_it():
    n = np.array([1800, 3600, 7200, 14400])
    fit = datasize.log_fit(n, 0.08 - 0.01 * np.log10(n))
    assert fit["b"] == pytest.approx(-0.01) and fit["r2_log"] == pytest.approx(1.0)
    assert np.isnan(datasize.log_fit(n[:2], n[:2] * 1.0)["b"])


def test_sentences_follow_the_numbers_and_the_spread():
    spread = 0.001
    data_limited = _df({1.0: (0.05, 0.05), 0.125: (0.09, 0.08)})
    text = datasize.sentence(data_limited, spread)
    assert "At equal optimiser steps" in text and "data limit the surrogate" in text
    partly = _df({1.0: (0.05, 0.05), 0.5: (0.06, 0.0505), 0.25: (0.07, 0.051),
                  0.125: (0.09, 0.08)})
    text = datasize.sentence(partly, spread).split("At equal optimiser steps")[1]
    assert "while the runs on 1/2, 1/4 of it stay within it" in text
    assert "the data limit the surrogate only below 1/4" in text
    same = _df({1.0: (0.05, 0.05), 0.125: (0.0505, 0.0502)})
    assert datasize.sentence(same, spread).count("within the seed spread") == 2
    assert datasize.sentence(_df({}), spread) == ("At equal epochs: not in yet. "
                                                 "At equal optimiser steps: not in yet.")


def test_the_table_reads_committed_runs_and_leaves_missing_ones_empty(tmp_results):
    run = study_runs(PROFILES["datasize"])[1]
    run.dir.mkdir(parents=True)
    xr.Dataset(attrs={"n_train": 7200}).to_netcdf(run.dir / "history.nc")
    xr.Dataset({s: ("set", [0.07, 0.06]) for s in datasize.STATS},
               coords={"set": ["test", "train"]}).to_netcdf(run.dir / "eval.nc")
    df = datasize.table()
    row = df.set_index("run").loc[run.label]
    assert row.n_train == 7200 and row.mean_res == 0.07 and row.steps == 288 * 8
    assert df.mean_res.isna().sum() == len(df) - 1
    assert "no data-size run" not in str(datasize.figure(df).axes[0].texts)
