"""diffsurr.book.matched: the error-matched section's sentences follow the numbers (synthetic
files that flip the verdict), the table and the figure draw, the map is recounted against a
scaled opponent, and the pay-off map's labels are short and large enough for the page."""

import numpy as np
import pytest
import xarray as xr

from diffsurr import io, matched
from diffsurr.book import plots
from diffsurr.book import matched as bm
from diffsurr.book import payoff as po
from diffsurr.profiles import PROFILES

from test_book_payoff import DISKS, LINES, fake as fake_map

EXACT_S = 3e-4


def fake(eps_ms=(3.0, 20.0), quick=0, loaded=1):
    """A measure()-shaped dataset: the exact solve 0.3 ms, coarse variants on a power law
    cost = 3e-6 s · error^-0.5, one CG variant off the front; surrogates model 6 and 9."""
    names = ["exact float64", "float32", "coarse 50² float64", "coarse 25² float64",
             "coarse 8² float64", "CG rtol 0.1"]
    fam = ["exact", "float32", "coarse float64", "coarse float64", "coarse float64", "CG"]
    err = np.array([0.0, 4e-8, 1e-3, 4e-3, 4e-2, 8e-3])
    cost = np.array([EXACT_S, 2e-4, 3e-6 / np.sqrt(1e-3), 3e-6 / np.sqrt(4e-3),
                     3e-6 / np.sqrt(4e-2), 1e-2])
    stats = np.stack([err, 10 * err, 20 * err], axis=1)
    eps = np.asarray(eps_ms) * 1e-3
    return xr.Dataset(
        {"cost_s": ("variant", cost), "residual": (("variant", "stat"), stats),
         "family": ("variant", np.array(fam)), "eps_s": ("run", eps),
         "run_model": ("run", np.array([6, 9])), "run_arch": ("run", np.array(["table1"] * 2))},
        coords={"variant": names, "run": ["model_06", "model_09"], "stat": list(matched.STATS)},
        attrs={"device_kind": "cpu", "device_name": "Test CPU", "solver_device": "Test CPU",
               "cpu_count": 2, "created": "2026-12-06T14:00:00", "wall_time_s": 240.0,
               "torch_threads": 1, "quick": quick, "loaded": loaded,
               "load_other_1min": 3.0 if loaded else 0.1, "eq4_M": 20_000,
               "mode": "production", "n_score": 256})


FOUND = {"model_06": {"mean_res": 0.07, "p99_res": 0.3, "max_res": 0.5, "train_s": 2000.0,
                      "model": 6, "arch": "table1"},
         "model_09": {"mean_res": 4e-3, "p99_res": 0.05, "max_res": 0.4, "train_s": 4000.0,
                      "model": 9, "arch": "table1"}}


def test_the_curve_is_the_front_and_its_power_law():
    text = bm.curve_sentence(fake())
    assert "0.3 ms per solve" in text
    assert "4 are on the cost-error front" in text      # float32 and the three coarse grids
    assert "*CG rtol 0.1*" not in text and "*CG* is off the front" in text
    assert "33 times the exact solve" in text                  # 10 ms / 0.3 ms
    df = bm.classical(fake())
    fit = matched.fit_cost(df["cost"].values, df["error"].values)
    assert fit["b"] < 0 and f"cost ∝ (mean residual)^{fit['b']:.2f}" in text
    cheap_cg = fake()
    cheap_cg["cost_s"][-1] = 1e-5                               # CG now the cheapest at 8e-3
    text = bm.curve_sentence(cheap_cg)
    assert "*CG rtol 0.1*" in text and "off the front" not in text


def test_the_table_reads_off_each_surrogate():
    table = bm.comparison(fake(), FOUND)
    assert list(table["label"]) == ["model 9", "model 6"]      # most accurate first
    nine = table.loc["model_09"]
    assert nine["read"] == "front"
    assert nine["delta_matched_s"] == pytest.approx(3e-6 / np.sqrt(4e-3))   # a front point
    assert table.loc["model_06", "read"] == "clamped"         # beyond the coarsest grid
    out = bm.shown(table)
    assert out.loc["model 9", "N_min vs exact"] == "never"
    assert out.loc["model 9", "δ exact / δ matched"] == f"{EXACT_S / nine['delta_matched_s']:.3g}"
    assert out.loc["model 6", "ε / δ matched"] == "200"        # 3 ms / 15 µs, 3 digits


def test_verdict_never_when_every_call_is_slower_than_the_exact_solve():
    text = bm.verdict(bm.comparison(fake(), FOUND))
    assert "No surrogate pays off against either opponent" in text
    assert "At the 2 surrogates' own test mean residuals (4.0e-03 to 7.0e-02)" in text
    assert "(model 6 lies outside the measured front: the cost at its nearer end" in text
    table = bm.comparison(fake(), FOUND)
    assert (f"would have to be {table['eps_over_exact'].min():.2g} times faster relative to the "
            "exact solve") in text
    assert bm.verdict(bm.comparison(fake(), {})) == bm.NO_SURROGATE


def test_verdict_flips_when_a_network_beats_the_exact_solve_only():
    # model 9 at 0.1 ms: faster than the exact 0.3 ms, slower than its matched ~0.05 ms
    text = bm.verdict(bm.comparison(fake(eps_ms=(3.0, 0.1)), FOUND))
    assert "Against the exact solve, 1 of 2 surrogates pay off; against the error-matched " \
           "solve, 0 of 2" in text
    assert "takes the pay-off away from model 9" in text
    # and at 0.01 ms it beats both, with a finite break-even against the matched solve
    table = bm.comparison(fake(eps_ms=(3.0, 0.01)), FOUND)
    text = bm.verdict(table)
    assert "against the error-matched solve, 1 of 2" in text
    n = table.loc["model_09", "n_min_matched"]
    assert np.isfinite(n) and f"{n:,.0f} uses at the least (model 9)" in text
    assert n > table.loc["model_09", "n_min_exact"]          # a cheaper opponent: later


def test_map_is_recounted_against_the_scaled_opponent():
    maps = {"payoff-cpu-test.nc": fake_map([DISKS, LINES])}
    table = bm.comparison(fake(), FOUND)
    text = bm.map_sentence(maps, table)
    rho = float(table.loc["model_06", "matched_over_exact"])
    assert f"costs {rho:.2g} times the exact solve's time" in text
    assert "radius-5 disks: 2 of 9 cells pay off against the exact solve" in text
    scaled = int(((rho * maps["payoff-cpu-test.nc"].delta_s.sel(family="disks")
                   / maps["payoff-cpu-test.nc"].eps_s) > 1).sum())
    assert f"2 of 9 cells pay off against the exact solve, {scaled} against the scaled" in text
    assert "an assumption" in text
    assert "no map is measured" in bm.map_sentence({}, table)


def test_figure_caption_and_source():
    ds = fake()
    fig = bm.figure(ds, bm.comparison(ds, FOUND))
    ax = plots.panels(fig)[0]
    assert ax.get_xscale() == "log" and not ax.texts            # no labels to overlap
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Table 2, NN1 alone (forward pass)" in legend
    assert "Table 2, with NN2 (forward pass)" in legend
    assert "Figure P.2" in bm.caption("matched-cpu-test.nc", ds)
    assert "loaded machine" in bm.caption("matched-cpu-test.nc", ds)
    assert "1 torch thread)" in bm.source_sentence({"m.nc": ds}, "full")
    assert bm.source_sentence({}, "full") == bm.NO_FILE


def test_full_files_win_over_the_quick_one(tmp_path):
    bench_dir, root = tmp_path / "benchmarks", tmp_path / "results"
    io.write_netcdf(fake(quick=1), root / "ci" / "matched-cpu-x.nc")
    maps, kind = bm.load(PROFILES["ci"], bench_dir, root)
    assert kind == "quick" and list(maps) == ["matched-cpu-x.nc"]
    io.write_netcdf(fake(), bench_dir / "matched-cpu-y.nc")
    assert bm.load(PROFILES["ci"], bench_dir, root)[1] == "full"


@pytest.mark.parametrize("v, text", [(950, "950"), (12_300, "12k"), (57_300, "57k"),
                                     (210_000, "210k"), (879_300, "880k"), (2.1e6, "2.1M"),
                                     (8.4e7, "84M"), (2.43e8, "240M"),
                                     (1.2e9, "1.2G"), (np.inf, "never"), (np.nan, "–")])
def test_map_labels_are_short(v, text):
    assert plots.count_label(v) == text


COLUMN_PX, DPI = 660, 110
"""The book's content column at a 1280 px window (screenshot of the pay-off page), and the
dpi figures are glued at (diffsurr.book.bookfig.glue_figure)."""


def _page_pt(fig, fontsize):
    """A font size as it reads on the page: the PNG is scaled to the column where wider."""
    width_px = fig.get_size_inches()[0] * DPI
    return fontsize * min(1.0, COLUMN_PX / width_px) * DPI / 96


def test_map_and_matched_figures_read_at_9pt_on_the_page():
    fig = plots.payoff_map(po.map_panels({"a.nc": fake_map([DISKS, LINES])}))
    sizes = [t.get_fontsize() for ax in plots.panels(fig) for t in ax.texts]
    assert min(_page_pt(fig, s) for s in sizes) >= 9
    ds = fake()
    fig = bm.figure(ds, bm.comparison(ds, FOUND))
    ax = plots.panels(fig)[0]
    sizes = ([t.get_fontsize() for t in fig.legends[0].get_texts()]
             + [ax.xaxis.label.get_fontsize(), ax.yaxis.label.get_fontsize()]
             + [t.get_fontsize() for t in ax.get_xticklabels()])
    assert min(_page_pt(fig, s) for s in sizes) >= 9


def test_section_without_a_file_says_so_and_with_one_has_every_part(tmp_path):
    none = bm.section(PROFILES["ci"], {}, tmp_path / "none", tmp_path / "none")
    assert none["source"] == bm.NO_FILE and none["text"] == ""
    assert plots.panels(none["figure"])
    io.write_netcdf(fake(), tmp_path / "benchmarks" / "matched-cpu-y.nc")
    maps = {"payoff-cpu-test.nc": fake_map([DISKS, LINES])}
    part = bm.section(PROFILES["ci"], maps, tmp_path / "benchmarks", tmp_path, found=FOUND)
    assert "No surrogate pays off against either opponent" in part["text"]
    assert "The pay-off map against an error-matched opponent" in part["text"]
    assert (part["table"].caption.startswith("matched-cpu-y.nc:")
            and "`" not in part["table"].caption)
    assert "Figure P.2" in part["caption"]
    empty = bm.section(PROFILES["ci"], maps, tmp_path / "benchmarks", tmp_path, found={})
    assert bm.NO_SURROGATE in empty["text"] and empty["table"].data == bm.NO_SURROGATE
