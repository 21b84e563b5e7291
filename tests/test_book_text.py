"""diffsurr.book.text: table cells as text."""

import numpy as np
import pytest

from diffsurr.book import text


def test_cells_have_three_significant_digits_and_integers_stay_integers():
    assert (text.cell(0.25) == "0.25" and text.cell(298.0) == "298"
            and text.cell(0.0003) == "3.00·10⁻⁴")
    assert text.cell(14400) == "14,400" and text.cell(True) == "True" and text.cell("x") == "x"
    assert text.cell(np.float64(2.23456e-3)) == "0.00223"


def test_needs_calls_the_function_only_when_its_models_are_in():
    import xarray as xr
    from matplotlib.figure import Figure

    from diffsurr.book.text import missing_note, needs

    calls = []

    @needs(5, 12)
    def sentence(evals):
        calls.append(1)
        return "computed"

    @needs(12, kind="figure")
    def figure(evals, profile):
        return "fig", "caption"

    @needs(7, kind="table")
    def table(evals):
        return "table"

    full = xr.Dataset(coords={"model": [5, 7, 12]}, attrs={"profile_name": "reference"})
    part = full.sel(model=[5])
    assert sentence(full) == "computed" and figure(full, None) == ("fig", "caption")
    assert table(full) == "table" and len(calls) == 1
    assert sentence(part) == missing_note([12], "reference") and len(calls) == 1
    assert "needs model 12, not yet evaluated in `results/reference/`" in sentence(part)
    fig, cap = figure(part, None)
    assert isinstance(fig, Figure) and cap == missing_note([12], "reference")
    assert "needs model 7" in table(part).to_html()
    assert missing_note([6, 7], join="or").startswith("*Not shown yet: it needs model 6 or 7, ")
    assert "models 2, 3 and 11" in missing_note([2, 3, 11])
    with pytest.raises(ValueError, match="kind"):
        needs(1, kind="plot")
