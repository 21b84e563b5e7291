"""Table 2 of the preprint: the 14 trained models, their hyperparameters and reported residuals.

The values ship with the package (``diffsurr/table2.csv``) and are read with
``importlib.resources``; nothing outside the package is read at run time.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources

import numpy as np
import xarray as xr

MODELS = range(1, 15)
ALPHA = {"MAE": 1, "MSE": 2}


@dataclass(frozen=True)
class ModelSpec:
    """One row of Table 2.

    ``w`` is the weight of Eq. 1, ``p1``/``p2`` switch NN1/NN2 on (1) or off (0),
    ``D1``–``D4`` are the dropout rates of Table 1 (None where the network is off),
    ``alpha`` is the exponent of Eq. 1 (1 for MAE, 2 for MSE). The ``paper_*`` residuals
    are in plain units (Table 2 prints them in units of 1e-3, 1e-2 and 1).
    """

    model: int
    w: float
    p1: float
    p2: float
    D1: float | None
    D2: float | None
    D3: float | None
    D4: float | None
    loss: str
    alpha: int
    paper_mean_res: float
    paper_p99_res: float
    paper_max_res: float


def _dropout(text: str) -> float | None:
    return float(text) if text.strip() else None


def _row_to_spec(row: dict[str, str]) -> ModelSpec:
    loss = row["loss"].strip()
    if loss not in ALPHA:
        raise ValueError(f"table2.csv model {row['model']}: loss {loss!r} is not one of "
                         f"{sorted(ALPHA)}")
    return ModelSpec(
        model=int(row["model"]),
        w=float(row["weight_w"]),
        p1=float(row["p1"]),
        p2=float(row["p2"]),
        D1=_dropout(row["D1"]),
        D2=_dropout(row["D2"]),
        D3=_dropout(row["D3"]),
        D4=_dropout(row["D4"]),
        loss=loss,
        alpha=ALPHA[loss],
        paper_mean_res=float(row["mean_res_1e-3"] + "e-3"),
        paper_p99_res=float(row["p99_res_1e-2"] + "e-2"),
        paper_max_res=float(row["max_res"]),
    )


@cache
def _load() -> tuple[ModelSpec, ...]:
    text = resources.files("diffsurr").joinpath("table2.csv").read_text(encoding="utf-8")
    specs = tuple(_row_to_spec(row) for row in csv.DictReader(io.StringIO(text)))
    if [s.model for s in specs] != list(MODELS):
        raise ValueError("table2.csv must list models 1–14 in order, "
                         f"found {[s.model for s in specs]}")
    return specs


def table2() -> dict[int, ModelSpec]:
    """All rows of Table 2, keyed by model number 1–14."""
    return {s.model: s for s in _load()}


def spec(model: int) -> ModelSpec:
    """The Table 2 row of ``model`` (an int in 1–14)."""
    if isinstance(model, bool) or not isinstance(model, (int, np.integer)):
        raise ValueError(f"model must be an int in 1–14, got {model!r} of type "
                         f"{type(model).__name__}")
    if int(model) not in MODELS:
        raise ValueError(f"model must be an int in 1–14, got {model}")
    return _load()[int(model) - 1]


def table2_frame() -> xr.Dataset:
    """Table 2 as an xarray.Dataset with dimension ``model`` (NaN where a dropout is not
    applicable)."""
    specs = _load()
    columns = [f.name for f in fields(ModelSpec) if f.name != "model"]
    data = {
        name: ("model", [np.nan if getattr(s, name) is None else getattr(s, name) for s in specs])
        for name in columns
    }
    ds = xr.Dataset(data, coords={"model": [s.model for s in specs]})
    ds.attrs["source"] = "Toledo-Marín et al., Table 2"
    ds["paper_mean_res"].attrs["long_name"] = ("mean residual over the test set "
                                               "(Table 2 prints it ×1e-3)")
    ds["paper_p99_res"].attrs["long_name"] = "99th-percentile residual (Table 2 prints it ×1e-2)"
    ds["paper_max_res"].attrs["long_name"] = "maximum residual"
    return ds
