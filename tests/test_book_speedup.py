"""diffsurr.book.speedup: the speed-up chapter's sentences follow the numbers (synthetic files
that flip each verdict), old and quick files are left out with a reason, and the README's
headline is the one the committed benchmark file gives."""

import numpy as np
import pytest
import xarray as xr

from diffsurr import bench, io, timing
from diffsurr.book import speedup as sp

SOLVERS = ["time stepping (numpy)", "sparse LU (scipy)", "fast (numpy)",
           "fast torch float64 (cpu)", "fast torch float32 (cpu)"]


def fake(fast_s=1e-3, eps_s=20e-3, loaded=False, kind="cpu", created="2026-11-29T20:00:00",
         quick=False, fmt=bench.BENCH_FORMAT, f32_error=9e-7):
    """A bench_all-shaped dataset: δ per solver, ε per profile, E; n_min from Eq. 4."""
    delta = np.array([1.0, 30e-3, fast_s, 2 * fast_s, fast_s / 2])
    error = np.array([2e-8, 3e-14, 4e-14, 4e-14, f32_error])
    exact = np.array([0, 1, 1, 1, 0], np.int8)
    eps = np.array([eps_s, eps_s / 5])
    E = np.array([1e6, 1e5])
    batches = [1, 8]
    solve_s = np.stack([delta, delta], axis=1)
    n_min = np.array([[sp.speedup.break_even(d, e, 20_000, t) for d in delta]
                      for e, t in zip(eps, E)])
    infer = np.stack([eps, eps], axis=1)[:, None, :]
    ds = xr.Dataset(
        {"solve_s": (("solver", "batch"), solve_s), "delta_best_s": ("solver", delta),
         "delta_batch1_s": ("solver", delta), "delta_best_batch": ("solver", [1] * 5),
         "solve_error": ("solver", error), "exact": ("solver", exact),
         "infer_s": (("profile", "precision", "batch"), infer),
         "eps_best_s": ("profile", eps), "eps_batch1_s": ("profile", eps),
         "eps_best_batch": ("profile", [8, 8]),
         "speedup_best": (("profile", "solver"), delta[None] / eps[:, None]),
         "speedup_batch1": (("profile", "solver"), delta[None] / eps[:, None]),
         "train_s_per_epoch": ("profile", E / 800), "train_s_total": ("profile", E),
         "n_min": (("profile", "solver"), n_min)},
        coords={"solver": SOLVERS, "profile": ["paper", "ci"], "precision": ["fp32"],
                "batch": batches},
        attrs={"bench_format": fmt, "device_kind": kind, "device_name": "Test CPU",
               "cpu_count": 2, "torch_threads": 2, "created": created, "quick": int(quick),
               "git_commit": "abc123", "loaded": int(loaded), "load_start_1min": 3.0,
               "load_end_1min": 4.0, "load_other_1min": 3.0 if loaded else 0.2})
    return ds


def test_fastest_exact_skips_float32_and_inexact():
    ds = fake()
    assert sp.exact_solvers(ds) == ["sparse LU (scipy)", "fast (numpy)",
                                    "fast torch float64 (cpu)"]
    assert sp.fastest_exact(ds) == "fast (numpy)"  # float32 is faster but not exact
    ds["solve_error"].loc["fast (numpy)"] = 1e-9     # over EXACT_TOL: no longer exact
    assert sp.fastest_exact(ds) == "fast torch float64 (cpu)"
    assert "fast torch float32" in sp.inexact_sentence(ds)
    assert "9.0e-07" in sp.inexact_sentence(ds)


@pytest.mark.parametrize("eps_s, words", [
    (20e-3, ["slower than", "never pays off"]),                          # δ/ε = 1/20
    (1e-4, ["10 times faster than", "pays off against it after N_min ="]),
])
def test_finding_follows_the_ratio_and_judges_no_claim(eps_s, words):
    text = sp.verdict(fake(fast_s=1e-3, eps_s=eps_s))
    for w in words:
        assert w in text, (w, text)
    assert "hold" not in text           # the claim is judged in diffsurr.book.claims only


def test_time_stepping_sentence_flips():
    assert "50 times faster than" in sp.time_stepping_sentence(fake(eps_s=20e-3))
    assert "times slower than" in sp.time_stepping_sentence(fake(eps_s=5.0))


def test_load_sentence_flags_a_loaded_run():
    assert sp.load_sentence(fake(loaded=True)).startswith("**Measured on a loaded machine**")
    assert sp.load_sentence(fake(loaded=False)).startswith("Measured on a quiet machine")
    ds = fake()
    del ds.attrs["loaded"]
    assert "no load flag" in sp.load_sentence(ds)


def test_load_flag_threshold():
    # 2 cores, 2 own threads: other load = max(start, end - 2) against 0.5 * 2 = 1
    assert timing.load_flag(0.5, 2.9, 2, 2) == (pytest.approx(0.9), False)
    assert timing.load_flag(1.2, 2.0, 2, 2) == (pytest.approx(1.2), True)
    assert timing.load_flag(0.1, 3.5, 2, 2)[1]


def test_gpu_sentence():
    assert "No GPU has been measured" in sp.gpu_sentence({"a.nc": fake()})
    assert "`b.nc`" in sp.gpu_sentence({"a.nc": fake(), "b.nc": fake(kind="cuda")})


def test_solver_sentence_numbers():
    text = sp.solver_sentence(fake(fast_s=2e-3))
    assert "*fast (numpy)*, takes 2 ms per solve" in text
    assert "580 times less than the preprint's 1.16 s" in text
    assert "500 times less than time stepping" in text


def test_loader_leaves_out_old_and_quick_files(tmp_path):
    io.write_netcdf(fake(), tmp_path / "cpu-new.nc")
    io.write_netcdf(fake(quick=True), tmp_path / "cpu-new-quick.nc")
    old = fake().drop_vars(["exact"])
    del old.attrs["bench_format"], old.attrs["loaded"]
    io.write_netcdf(old, tmp_path / "cpu-old.nc")
    io.write_netcdf(fake(), tmp_path / "train-speed-cpu-x.nc")
    kept, dropped = sp.load_benchmarks(tmp_path)
    assert list(kept) == ["cpu-new.nc"]
    assert dropped == {"cpu-new-quick.nc": sp.QUICK, "cpu-old.nc": sp.OLD_FORMAT}
    table = sp.files_table(kept, dropped)
    assert list(table.shown) == ["yes", "no (1)", "no (2)"]
    assert sp.left_out_text(dropped) == (f"(1) `cpu-new-quick.nc` is {sp.QUICK}.  \n"
                                         f"(2) `cpu-old.nc` is {sp.OLD_FORMAT}.")
    assert sp.left_out_text({}) == ""
    assert list(table["torch threads"]) == ["2", "", ""]    # not 2.000000 beside empty rows


def test_headline_file_is_the_newest_quiet_one():
    benches = {"a.nc": fake(created="2026-11-29T10:00:00"),
               "b.nc": fake(created="2026-11-30T10:00:00"),
               "c.nc": fake(created="2026-12-01T10:00:00", loaded=True)}
    assert sp.headline_file(benches) == "b.nc"
    assert sp.headline_file({"c.nc": benches["c.nc"]}) is None


def test_headline_changes_with_the_numbers_and_a_loaded_file_is_none():
    slow = sp.headline(fake(eps_s=20e-3), "x.nc")
    fast = sp.headline(fake(eps_s=1e-6), "x.nc")
    assert "`results/benchmarks/x.nc`" in slow and "load 0.20" in slow
    assert "never pays off" in slow and "pays off against it" in fast
    assert "20 times slower than it" in slow and "1,000 times faster than it" in fast
    assert "no GPU has been measured" in slow
    assert "no GPU has been measured" not in sp.headline(fake(kind="cuda"), "x.nc")
    none = sp.no_headline({"c.nc": fake(loaded=True)})
    assert "none yet" in none and "`c.nc`" in none and "load 3.00" in none
    assert "GPU surrogate" in none


def test_tables_and_sections_render():
    ds = fake()
    assert list(sp.solver_table(ds, True).index) == sp.exact_solvers(ds)
    assert list(sp.solver_table(ds, False).index) == ["time stepping (numpy)",
                                                      "fast torch float32 (cpu)"]
    assert sp.surrogate_table(ds).shape == (2, 4)
    assert sp.ratio_table(ds).shape == (5, 6)
    text, *tables = sp.sections({"x.nc": ds})
    assert "`x.nc`" in text.data and len(tables) == 4
    assert all(sp.CAPTIONS[k] in t.to_html() for k, t in enumerate(tables))
    assert sp.findings({"x.nc": ds}).startswith("- On Test CPU")


def test_readme_markers():
    start, end = sp.MARKERS
    text = f"intro\n{start}\nold\n{end}\nrest\n"
    assert sp.readme_with_headline(text, "new") == f"intro\n{start}\nnew\n{end}\nrest\n"
    with pytest.raises(ValueError, match="needs one"):
        sp.readme_with_headline("no markers", "new")



def test_readme_headline_is_generated_from_the_committed_file():
    """README.md's headline is the one the committed benchmark file gives (regenerate it with
    ``python -m diffsurr.book.speedup --readme``)."""
    text = sp.README.read_text()
    assert sp.readme_with_headline(text, sp.current_headline()) == text, \
        "README headline out of date: run python -m diffsurr.book.speedup --readme"


def test_the_speed_figure_names_no_file_and_no_bare_profile_width():
    from diffsurr.book import bookfig, plots
    from diffsurr.book import speedup as S

    benches, _ = S.load_benchmarks()
    fig = plots.speed_bars(benches)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels and not any(".nc" in label or "[" in label for label in labels)
    assert "model 9, NN2 at Table 1 width (paper)" in labels
    assert "model 9, NN2 at width 0.125 (ci)" in labels
    assert bookfig.small_text(fig) == []
    caption = S.figure_caption(benches)
    assert "AMD EPYC" in caption and "brackets" not in caption and ".nc" not in caption


def test_bar_values_are_written_in_their_unit():
    from diffsurr.book.plots.study import _seconds

    assert [_seconds(v) for v in (1.5, 0.07, 3e-4, 0.0018)] == ["1.5 s", "70 ms", "300 µs",
                                                               "1.8 ms"]
