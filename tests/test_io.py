import re

import numpy as np
import pytest
import torch
import xarray as xr

from diffsurr import data, io


def test_netcdf_roundtrip_keeps_attrs_and_is_compressed(tmp_path):
    ds = xr.Dataset({"a": (("s", "y"), np.zeros((500, 100), np.float32))},
                    attrs=io.provenance(profile="ci", epochs=3, flag=True, nested={"k": 1}))
    path = io.write_netcdf(ds, tmp_path / "x.nc")
    back = io.read_netcdf(path, require=("a",))
    assert back.attrs["profile"] == "ci" and back.attrs["epochs"] == 3
    assert back.attrs["flag"] == 1 and '"k": 1' in back.attrs["nested"]
    assert "git_commit" in back.attrs and "torch" in back.attrs["versions"]
    assert path.stat().st_size < 500 * 100 * 4 / 4
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("name, stage", [
    ("data.nc", "the data stage (notebooks/data.ipynb)"),
    ("data_mode-clamped.nc", "the data stage"), ("history.nc", "the train stage"),
    ("eval.nc", "the evaluate stage"), ("generalise.nc", "the generalise stage"),
    ("payoff-cpu-x.nc", "the pay-off stage"), ("other.nc", "the stage that writes it")])
def test_a_missing_results_file_names_the_stage_that_writes_it(tmp_path, name, stage):
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / name}: {stage}")):
        io.read_netcdf(tmp_path / name)


def test_a_missing_checkpoint_names_the_train_stage(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at .*model.pt: the train stage"):
        io.load_checkpoint(tmp_path / "model.pt")


def test_missing_and_corrupt_files_have_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results file"):
        data.load(tmp_path / "nope.nc")
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"not a netcdf file at all")
    with pytest.raises(ValueError, match="not a readable netCDF"):
        data.load(bad)
    ds = xr.Dataset({"input": (("s",), np.zeros(3))})
    io.write_netcdf(ds, tmp_path / "partial.nc")
    with pytest.raises(ValueError, match="lacks variables"):
        data.load(tmp_path / "partial.nc")


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with io.atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert not list(tmp_path.glob(".*.tmp"))


class _Evil:
    """An arbitrary class: weights_only=True must refuse to unpickle it."""


def test_checkpoint_loads_weights_only(tmp_path):
    io.save_checkpoint({"w": torch.ones(3), "n": 2}, tmp_path / "c.pt")
    back = io.load_checkpoint(tmp_path / "c.pt")
    assert back["n"] == 2 and torch.equal(back["w"], torch.ones(3))
    torch.save({"obj": _Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="cannot be loaded safely"):
        io.load_checkpoint(tmp_path / "evil.pt")
    (tmp_path / "trunc.pt").write_bytes((tmp_path / "c.pt").read_bytes()[:20])
    with pytest.raises(ValueError, match="cannot be loaded safely"):
        io.load_checkpoint(tmp_path / "trunc.pt")
