"""Table 2 registry: values, validation and the xarray view."""

import dataclasses
import math

import numpy as np
import pytest

from diffsurr.registry import ModelSpec, spec, table2, table2_frame


def test_all_fourteen_rows():
    rows = table2()
    assert list(rows) == list(range(1, 15))
    assert all(isinstance(s, ModelSpec) and s.model == m for m, s in rows.items())


def test_model_9_row():
    s = spec(9)
    assert (s.w, s.p1, s.p2) == (100.0, 1.0, 1.0)
    assert (s.D1, s.D2, s.D3, s.D4) == (0.4, 0.4, 0.1, 0.1)
    assert (s.loss, s.alpha) == ("MAE", 1)
    assert s.paper_mean_res == pytest.approx(2.08e-3, rel=1e-12)
    assert s.paper_p99_res == pytest.approx(2.02e-2, rel=1e-12)
    assert s.paper_max_res == pytest.approx(0.30, rel=1e-12)


def test_spot_checks_other_rows():
    one, six, thirteen = spec(1), spec(6), spec(13)
    assert (one.w, one.loss, one.alpha) == (1000.0, "MSE", 2)
    assert ((one.paper_mean_res, one.paper_p99_res, one.paper_max_res)
            == pytest.approx((2.77e-3, 2.26e-2, 0.35)))
    assert (six.p1, six.p2, six.D1, six.D2, six.D3, six.D4) == (1.0, 0.0, 0.3, 0.3, None, None)
    assert six.paper_mean_res == pytest.approx(75.8e-3)
    assert ((thirteen.w, thirteen.p1, thirteen.D1, thirteen.D3, thirteen.loss)
            == (10.0, 0.0, None, 0.3, "MAE"))


def test_loss_and_alpha_agree_on_every_row():
    assert {s.model for s in table2().values() if s.alpha == 2} == set(range(1, 8))
    assert all((s.loss, s.alpha) in {("MAE", 1), ("MSE", 2)} for s in table2().values())


def test_dropout_is_none_exactly_where_network_is_off():
    for s in table2().values():
        assert (s.D1 is None) == (s.D2 is None) == (s.p1 == 0)
        assert (s.D3 is None) == (s.D4 is None) == (s.p2 == 0)


def test_spec_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec(9).w = 1.0


@pytest.mark.parametrize("bad", [0, 15, -1, "9", 9.5, True, None])
def test_bad_model_raises_naming_valid_range(bad):
    with pytest.raises(ValueError, match="1–14"):
        spec(bad)


def test_numpy_integer_model_is_accepted():
    assert spec(np.int64(5)).model == 5


def test_table2_frame():
    ds = table2_frame()
    assert ds.sizes == {"model": 14}
    assert ds["model"].values.tolist() == list(range(1, 15))
    row = ds.sel(model=9)
    assert float(row["w"]) == 100.0
    assert str(row["loss"].values) == "MAE"
    assert int(row["alpha"]) == 1
    assert float(row["paper_mean_res"]) == pytest.approx(2.08e-3)
    assert math.isnan(float(ds["D1"].sel(model=4)))
    assert float(ds["D3"].sel(model=4)) == 0.3
