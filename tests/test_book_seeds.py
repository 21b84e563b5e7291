"""diffsurr.book.seeds: Table 2 with error bars and the seeds chapter's sentences."""

import numpy as np
import pytest

from diffsurr.book import seeds as chapter
from diffsurr.profiles import PROFILES
from diffsurr.book.report import RESIDUALS

from conftest import base, seeds_ds


def test_table2_seeds_means_stds_and_the_preprints_values():
    ds = seeds_ds(base())
    ds["max_res"] = ds["mean_res"] * 100
    df = chapter.table2_seeds(ds)
    label = RESIDUALS[0][3]
    assert df.loc[5, (label, "mean")] == pytest.approx(2.0)
    assert df.loc[5, (label, "std")] == pytest.approx(np.std([2.0, 2.1, 1.9], ddof=1))
    assert np.isnan(df.loc[1, (label, "std")]) and df.loc[1, ("seeds", "n")] == 1
    assert df.loc[5, (label, "preprint")] == pytest.approx(2.04)
    shown = chapter.table2_seeds_display(df)
    assert "±" in shown.loc[5, (label, "ours: mean ± std")]
    assert shown.loc[1, (label, "ours: mean ± std")].endswith("(n = 1)")
    assert "model 5" in chapter.relative_spread(df)


def test_sentences_follow_the_results():
    ds = seeds_ds(base())
    ds["max_res"] = ds["mean_res"] * 100
    text = chapter.seeds_found(ds, PROFILES["reference"])
    assert "5 (n = 3), 9 (n = 3), 11 (n = 3), 12 (n = 3)" in text and "seeds 0, 1, 2" in text
    unseeded = seeds_ds({m: [2e-3] for m in range(1, 15)})
    unseeded["max_res"] = unseeded["mean_res"]
    assert "no spread can be given" in chapter.relative_spread(chapter.table2_seeds(unseeded))
    assert "Models with two or more seeds: none" in chapter.seeds_found(unseeded, PROFILES["smoke"])
    assert chapter.seeds_found(unseeded, PROFILES["smoke"]).startswith(
        "Training seeds found: seed 0.")
    assert text.startswith("Training seeds found: seeds 0, 1, 2.")
