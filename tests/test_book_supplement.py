"""diffsurr.book.supplement: Supplement A's per-slice PDFs on synthetic evaluations, with the
per-slice bins of new eval.nc files and the shared bins of older ones."""

import functools
import warnings

import numpy as np
import pytest

from diffsurr import metrics
from diffsurr.book import plots, report
from diffsurr import results as result_files
from diffsurr.book import supplement as chapter
from diffsurr.registry import MODELS

from test_report import write_results


def _load(root, smoke, shared):
    mp = pytest.MonkeyPatch()
    mp.setenv("DIFFSURR_RESULTS", str(root))
    if shared:                                   # eval.nc as written before per-slice bins
        mp.setattr(metrics, "slice_pdfs", functools.partial(metrics.slice_pdfs,
                                                            range=(-0.5, 0.5)))
    write_results(root, smoke)
    out = result_files.load_evals(smoke, MODELS)
    mp.undo()
    return out


@pytest.fixture(scope="module")
def new(tmp_path_factory, smoke):
    return _load(tmp_path_factory.mktemp("new"), smoke, shared=False)


@pytest.fixture(scope="module")
def old(tmp_path_factory, smoke):
    return _load(tmp_path_factory.mktemp("old"), smoke, shared=True)


def test_both_layouts_are_recognised_and_drawn(new, old):
    assert chapter.shared_bin_models(new) == [] and chapter.shared_bin_models(old) == list(MODELS)
    assert "Each slice has its own bins" in chapter.bins_text(new)
    assert "written before per-slice bins" in chapter.bins_text(old)
    w_new, w_old = chapter.bin_widths(new.sel(model=9)), chapter.bin_widths(old.sel(model=9))
    assert np.ptp(w_old) == pytest.approx(0) and w_old[0] == pytest.approx(0.01)
    filled = new.sel(model=9)["count20"].values > 0
    np.testing.assert_allclose(w_new[filled], 2 * metrics.SLICE_PDF_HALF_WIDTH
                               * new.sel(model=9)["std_xprime20"].values[filled] / 100)
    for ev in (new, old):
        assert len(plots.panels(plots.supplement_slice_pdfs(ev.sel(model=9)))) == 21


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, smoke):
    """Per-slice bins except model 9's file, written with shared bins."""
    root = tmp_path_factory.mktemp("mixed")
    mp = pytest.MonkeyPatch()
    mp.setenv("DIFFSURR_RESULTS", str(root))
    write_results(root, smoke)
    mp.setattr(metrics, "slice_pdfs", functools.partial(metrics.slice_pdfs, range=(-0.5, 0.5)))
    write_results(root, smoke, models=(9,))
    out = result_files.load_evals(smoke, MODELS)
    mp.undo()
    return out


def test_a_mixed_set_names_the_files_with_shared_bins(mixed, old):
    assert chapter.shared_bin_models(mixed) == [9]
    text = chapter.bins_text(mixed)
    assert "The files of model 9 were written before per-slice bins" in text
    assert "The other models' slices have their own bins" in text
    np.testing.assert_allclose(chapter.bin_widths(mixed.sel(model=9)), 0.01)
    overall, per_slice = plots.supplement_edges(mixed.sel(model=9))
    np.testing.assert_allclose(overall, plots.supplement_edges(old.sel(model=9))[0])
    assert per_slice.shape == (20, 101)
    assert len(plots.panels(plots.supplement_slice_pdfs(mixed.sel(model=9)))) == 21
    assert len(plots.panels(plots.supplement_slice_pdfs(mixed.sel(model=12)))) == 21


def test_peakedness_sentence_flips(new):
    ev = new.copy(deep=True)
    ev["count20"][:] = 1000
    gauss_peak = 1 / (ev["std_xprime20"] * np.sqrt(2 * np.pi))
    ev["pdf"] = (ev["pdf"] * 0 + 2 * gauss_peak).where(np.isfinite(ev["pdf"]))
    np.testing.assert_allclose(chapter.peakedness(ev.sel(model=9)), 2)
    assert "mostly more sharply peaked" in chapter.peakedness_text(ev)
    ev["pdf"] = ev["pdf"] / 4
    assert "describe them fairly" in chapter.peakedness_text(ev)
    ev["count20"][:] = chapter.MIN_PIXELS - 1
    assert chapter.peakedness_text(ev).startswith("No slice of any model")


def test_peakedness_leaves_out_slices_of_one_value_quietly(new):
    """Slices with a standard deviation of 0 (one pixel, or one value) are left out without a
    NumPy warning, which the page would print."""
    ev = new.sel(model=9).copy(deep=True)
    ev["count20"][:5] = 1
    ev["std_xprime20"][:5] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(chapter.peakedness(ev)).all()


def test_shared_bins_leave_narrow_slices_unresolved(old):
    ev = old.copy(deep=True)
    ev["count20"][:] = 1000
    res, tot = chapter.resolved(ev)
    ev["std_xprime20"][:] = 0.001                      # narrower than two shared bins of 0.01
    assert chapter.resolved(ev) == (0, tot) and res > 0
    assert f"0 of the {tot} slices" in chapter.bins_text(ev)


def test_pathological_models_and_captions(new, smoke):
    ev = new.copy(deep=True)
    assert chapter.pathological_text(ev) == ""
    ev["max_res"].loc[{"model": 9, "set": "test"}] = 32.6
    assert chapter.pathological_text(ev).startswith("Model 9 is pathological")
    ev["max_res"].loc[{"model": 12, "set": "train"}] = 1.5
    assert chapter.pathological_text(ev).startswith("Models 9 and 12 are pathological")
    cap = chapter.figure_caption(ev.sel(model=9), smoke, bad=True)
    assert "Model 9 is pathological (largest residual 32.6)" in cap and "Fig. S7" in cap
    cap4 = chapter.figure_caption(ev.sel(model=4), smoke, bad=False)
    assert "no supplementary figure" in cap4 and "pathological" not in cap4
    ev["count20"].loc[{"model": 4}] = 0
    assert "No slice holds pixels." in chapter.figure_caption(ev.sel(model=4), smoke, False)


def test_glue_figures_of_every_model_with_a_note_for_those_not_in(new, smoke, monkeypatch):
    glued = {}
    monkeypatch.setattr(chapter.bookfig, "glue_figure",
                        lambda name, fig, cap, **kw: glued.__setitem__(name, cap))
    names = chapter.glue_figures(new.sel(model=[4, 9]), smoke)
    assert names == [f"fig-supplement-{m:02d}" for m in range(1, 15)] and set(glued) == set(names)
    assert glued["fig-supplement-09"].startswith("**Figure A.9")
    assert "needs model 5, not yet evaluated" in glued["fig-supplement-05"]


def test_empty_text_displays_nothing(capsys):
    """The page's sentences go through report.md: an empty one (no pathological model) shows no
    ``<IPython.core.display.Markdown object>`` (outside a kernel, display prints that repr)."""
    report.md("")
    assert capsys.readouterr().out == ""
    report.md("A sentence.")
    assert "Markdown object" in capsys.readouterr().out
