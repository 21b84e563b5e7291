"""diffsurr.book.text: table cells as text."""

import numpy as np

from diffsurr.book import text


def test_cells_have_three_significant_digits_and_integers_stay_integers():
    assert text.cell(0.25) == "0.25" and text.cell(298.0) == "298" and text.cell(0.0003) == "3.00·10⁻⁴"
    assert text.cell(14400) == "14,400" and text.cell(True) == "True" and text.cell("x") == "x"
    assert text.cell(np.float64(2.23456e-3)) == "0.00223"
