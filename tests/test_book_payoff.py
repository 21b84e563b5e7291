"""diffsurr.book.payoff: the pay-off chapter's sentences follow the numbers (synthetic maps
that flip each one), full files win over the profile's quick one, and the figure draws."""

import numpy as np
import pytest
import xarray as xr

from diffsurr import io
from diffsurr.book import plots
from diffsurr.book import payoff as po
from diffsurr.profiles import PROFILES
from diffsurr.speedup import break_even

GRIDS, SOURCES = [100, 200, 400], [1, 5, 20]


def fake(delta_ms, eps_ms=(10.0, 40.0, 160.0), kind="cpu", quick=0, loaded=1):
    """A payoff()-shaped dataset: δ (family, grid, sources) in ms, ε per grid in ms."""
    delta = np.asarray(delta_ms, float) * 1e-3
    eps = np.asarray(eps_ms) * 1e-3
    tau = 3 * eps
    E = np.array([8, 800])[None, :] * (14_400 * tau[:, None] + 1_600 * eps[:, None])
    n_min = np.array([[[[break_even(delta[f, g, s], eps[g], 20_000, e) for e in E[g]]
                        for s in range(3)] for g in range(3)] for f in range(2)])
    cell = ("family", "grid", "sources")
    m = {"measured": "measured"}
    return xr.Dataset(
        {"delta_s": (cell, delta, m), "eps_s": ("grid", eps, m), "train_step_s": ("grid", tau, m),
         "speedup": (cell, delta / eps[None, :, None], {"measured": "derived: d/e"}),
         "solve_diff": (cell, np.full(delta.shape, 3e-14), m),
         "train_s": (("grid", "epochs"), E, {"measured": "extrapolated: from steps"}),
         "n_min": (cell + ("epochs",), n_min, {"measured": "derived: Eq. 4"})},
        coords={"family": ["disks", "polylines"], "grid": GRIDS, "sources": SOURCES,
                "epochs": [8, 800]},
        attrs={"device_kind": kind, "device_name": "Test CPU", "solver_device": "Test CPU",
               "cpu_count": 2, "created": "2026-11-30T01:00:00", "wall_time_s": 300.0,
               "quick": quick, "loaded": loaded, "load_other_1min": 3.0 if loaded else 0.1,
               "network": "Table 2 model 6: NN1 alone", "eq4_M": 20_000,
               "eq4_profile": "reference", "eq4_n_train": 14_400, "eq4_n_val": 1_600})


# δ in ms per (family, grid, sources), ε = 10, 40, 160 ms at N = 100, 200, 400: disks pay off
# only with 20 sources at N = 200 and 400; polylines from 20 sources at N = 100, from 5 at 200
# and 400
DISKS = [[1, 2, 5], [2, 5, 50], [5, 20, 500]]
LINES = [[1, 5, 30], [2, 50, 90], [5, 200, 900]]


def test_onset_and_sentence_follow_the_numbers():
    ds = fake([DISKS, LINES])
    text = po.crossing_sentence(ds, "disks")
    assert ("pays off at N = 200 and 400 only with 20 sources, the most measured; never at "
            "N = 100") in text
    assert "Larger grids favour the surrogate" in text
    lines = po.crossing_sentence(ds, "polylines")
    assert ("at N = 100 only with 20 sources, the most measured; at N = 200 and 400 from "
            "5 sources on") in lines
    n8, n800 = ds.n_min.sel(family="disks", grid=400, sources=20).values   # E/δ smallest
    assert n8 < float(ds.n_min.sel(family="disks", grid=200, sources=20, epochs=8))
    assert "The smallest break-even is at N = 400 with 20 sources" in text
    assert f"{n8 / 1e6:.3g} million uses with 8 epochs" in text or f"{n8:,.0f} uses with 8" in text
    assert f"{n800 / 1e6:.3g} million uses with 800 epochs" in text


def test_sentence_flips_to_never_and_back():
    slow = fake([np.full((3, 3), 1.0), np.full((3, 3), 1.0)])       # δ < ε everywhere
    text = po.crossing_sentence(slow, "disks")
    assert "never pays off on this machine" in text and "up to 20 sources" in text
    fast_nets = fake([np.full((3, 3), 1.0)] * 2, eps_ms=(0.1, 0.1, 0.1))
    text = po.crossing_sentence(fast_nets, "disks")
    assert "pays off at N = 100, 200 and 400 from 1 source on" in text
    assert "The same numbers of sources pay off at every grid" in text


def test_threshold_is_the_named_constant(monkeypatch):
    ds = fake([DISKS, LINES])               # disks, N = 200, k = 20: δ/ε = 50/40 = 1.25
    assert "at N = 200 and 400 only with 20" in po.crossing_sentence(ds, "disks")
    assert "smallest break-even is at N = 400" in po.crossing_sentence(ds, "polylines")
    monkeypatch.setattr(po, "FASTER", 2.0)
    assert "at N = 400 only with 20 sources, the most measured; never at N = 100 and 200" in \
        po.crossing_sentence(ds, "disks")
    # polylines: k = 20 (δ/ε = 3, 2.25, 5.6) still pays everywhere, k = 5 (1.25) no more
    assert "at N = 100, 200 and 400 only with 20 sources" in po.crossing_sentence(ds, "polylines")


def test_shrinking_and_non_monotone_maps_are_said_so():
    shrink = [[1, 2, 50], [2, 5, 50], [5, 20, 50]]       # pays at N = 100, 200, not at 400
    text = po.crossing_sentence(fake([shrink, LINES]), "disks")
    assert "at N = 100 and 200 only with 20 sources, the most measured; never at N = 400" in text
    assert "Larger grids do not favour the surrogate here" in text
    odd = [[1, 20, 5], [2, 5, 50], [5, 20, 500]]         # N = 100: 5 sources pay, 20 do not
    text = po.crossing_sentence(fake([odd, LINES]), "disks")
    assert "Not monotone in the number of sources" in text and "N = 100 with 5" in text


def test_conclusions_name_device_load_and_gpu():
    maps = {"payoff-cpu-test.nc": fake([DISKS, LINES])}
    text = po.conclusions(maps)
    assert "Test CPU (2-core CPU)" in text and "loaded machine" in text
    assert text.count("**Radius-5 disks") == 1 and "800 epochs" in text
    assert "No GPU has been measured" in po.gpu_sentence(maps)
    maps["payoff-cuda-x.nc"] = fake([DISKS, LINES], kind="cuda")
    assert "`payoff-cuda-x.nc`" in po.gpu_sentence(maps)
    assert "exact solver on its host CPU" in po.conclusions(maps)
    assert po.conclusions({}) == po.NO_FILE and po.method_sentence({}) == po.NO_FILE


def test_table_marks_measured_and_extrapolated_and_never():
    table = po.map_table(fake([DISKS, LINES]))
    assert len(table) == 18
    assert "δ, ms [measured]" in table.columns and "E, h (8 ep.) [extrapolated]" in table.columns
    assert "N_min (800 ep.) [derived]" in table.columns and len(table.columns) == 6
    (styler,) = po.tables({"f.nc": fake([DISKS, LINES])})
    assert "E for 800 epochs is 100 times E for 8" in styler.caption
    assert table.loc[("disks", 100, 1), "N_min (8 ep.) [derived]"] == "never"


def test_full_files_win_over_the_quick_one(tmp_path):
    bench_dir, root = tmp_path / "benchmarks", tmp_path / "results"
    (root / "ci").mkdir(parents=True)
    io.write_netcdf(fake([DISKS, LINES], quick=1), root / "ci" / "payoff-cpu-x.nc")
    maps, kind = po.load_maps(PROFILES["ci"], bench_dir, root)
    assert kind == "quick" and list(maps) == ["payoff-cpu-x.nc"]
    assert "quick run" in po.source_sentence(maps, kind, PROFILES["ci"])
    io.write_netcdf(fake([DISKS, LINES]), bench_dir / "payoff-cpu-y.nc")
    maps, kind = po.load_maps(PROFILES["ci"], bench_dir, root)
    assert kind == "full" and list(maps) == ["payoff-cpu-y.nc"]
    assert "full run(s)" in po.source_sentence(maps, kind, PROFILES["ci"])
    assert po.load_maps(PROFILES["smoke"], tmp_path / "none", tmp_path / "none")[0] == {}


def test_figure_has_a_panel_per_family_and_epochs_and_marks_never():
    maps = {"a.nc": fake([DISKS, LINES])}
    fig = plots.payoff_map(po.map_panels(maps))
    axes = plots.panels(fig)
    assert len(axes) == 4
    texts = [t.get_text() for t in axes[0].texts]
    assert texts.count("never") == 7 and len(texts) == 9      # disks: 20 at N = 200, 400 pay
    assert texts[5] != "never" and texts[8] != "never"          # (grid, sources) order
    assert "Figure P.1" in po.figure_caption(maps)
    assert plots.payoff_map([]) is not None


@pytest.mark.parametrize("paying, expected", [
    ([[0, 0], [0, 1]], {100: None, 200: 5}),
    ([[1, 1], [1, 1]], {100: 1, 200: 1}),
    ([[1, 0], [0, 1]], {100: None, 200: 5}),
])
def test_onset_is_from_which_grid_on(paying, expected):
    import pandas as pd

    df = pd.DataFrame(np.array(paying, bool), index=[100, 200], columns=[1, 5])
    assert po.onset(df) == expected


def test_equal_counts_but_other_cells_are_not_called_the_same():
    moved = [[1, 2, 50], [2, 50, 5], [5, 20, 500]]      # one paying cell per grid, not the same k
    text = po.crossing_sentence(fake([moved, LINES]), "disks")
    assert "Cells that pay off out of 3, by grid: 1 at N = 100, 1 at N = 200" in text
    assert "The same numbers of sources" not in text


def test_the_method_says_the_map_is_the_surrogates_best_case():
    text = po.method_sentence({"cpu": fake(np.ones((2, 3, 3)))})
    assert "model 6's mean residual is 37 times the best model's" in text
    assert "the best case for a surrogate" in text and "largest difference 3e-14" in text
