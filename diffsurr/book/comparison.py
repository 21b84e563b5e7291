"""Two models compared over training seeds: the evidence rule the claims use.

A difference of two models' seed means counts only when it exceeds the seed spread
(:data:`SPREAD_K`); a model with one seed gets an estimated spread (:data:`ESTIMATED_SPREAD`).
:class:`Comparison` holds one such comparison and its outcome (:data:`COMPARISON`);
:func:`dead_networks` and :func:`overfit_ratio` say when a comparison is not evidence.
:mod:`diffsurr.book.claims` judges the preprint's claims with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from .report import DEAD_STD


SPREAD_K = 2.0
"""A difference Δ = m_a − m_b of two models' seed means exceeds the seed spread when
|Δ| > SPREAD_K · sqrt(s_a² + s_b²) (sample standard deviations over seeds, ddof = 1): larger
than two single runs, one of each model, would typically differ by seed noise alone."""


ESTIMATED_SPREAD = "median coefficient of variation of the models with several seeds"
"""A model trained with one seed has no spread of its own; its standard deviation is estimated
as its value times the median, over the models with several seeds, of their std / |mean| on
the same statistic (and the comparison is marked as using an estimated spread)."""


OVERFIT_RATIO = 1.1
"""A model overfits when its mean test residual exceeds its mean training residual by more
than 10 %; a claim about overfitting is tested only on pairs where one model does."""


COMPARISON = {
    "supported": "in the claimed direction and larger than the seed spread",
    "within spread": "within the seed spread",
    "contradicted": "against the claimed direction and larger than the seed spread",
    "one seed": "not judged: no model has several seeds, so the difference cannot be "
                "compared with seed noise",
    "not evidence": "not evidence",
}
"""A comparison's outcome, in words."""


@dataclass
class Comparison:
    """Models a and b compared on one statistic; the claim is that ``lower`` has the lower
    value times ``factor`` (``need`` "lower": beyond the seed spread). ``excluded`` says why
    the comparison is not evidence (a dead network, nothing overfits)."""

    stat: str
    unit: float
    model_a: int
    model_b: int
    lower: int
    mean_a: float
    std_a: float
    n_a: int
    mean_b: float
    std_b: float
    n_b: int
    need: str = "lower"
    estimated: bool = False
    factor: float = 1.0
    excluded: str = ""

    def _scaled(self, model: int) -> float:
        return self.factor if model == self.lower else 1.0

    @property
    def delta(self) -> float:
        """m_a − m_b, the claimed lower model's mean multiplied by ``factor``."""
        return self.mean_a * self._scaled(self.model_a) - self.mean_b * self._scaled(self.model_b)

    @property
    def spread(self) -> float:
        return float(np.hypot(self.std_a * self._scaled(self.model_a),
                              self.std_b * self._scaled(self.model_b)))

    @property
    def outcome(self) -> str:
        """A key of :data:`COMPARISON`."""
        if self.excluded:
            return "not evidence"
        if not np.isfinite(self.spread):
            return "one seed"
        if abs(self.delta) <= SPREAD_K * self.spread:
            return "supported" if self.need == "not higher" else "within spread"
        return "supported" if self.agrees else "contradicted"

    @property
    def agrees(self) -> bool:
        """Whether the difference points the claimed way (whatever its size)."""
        return self.delta != 0 and (self.delta < 0) == (self.lower == self.model_a)

    @property
    def single_seed(self) -> bool:
        return min(self.n_a, self.n_b) < 2

    def words(self) -> str:
        if self.excluded:
            return f"not evidence: {self.excluded}"
        note = " (a single-seed model's spread estimated)" if self.estimated else ""
        if self.outcome in ("supported", "contradicted"):
            return COMPARISON[self.outcome] + note
        side = "in the claimed direction" if self.agrees else "against the claimed direction"
        return f"{side}, but {COMPARISON[self.outcome]}{note}"


def seed_stats(da: xr.DataArray, dim: str = "seed") -> xr.Dataset:
    """Mean, sample standard deviation (ddof = 1; NaN with fewer than two values) and number
    of values of ``da`` over ``dim`` (NaN values, seeds a model lacks, are skipped)."""
    n = da.notnull().sum(dim)
    mean = da.mean(dim, skipna=True)
    var = ((da - mean) ** 2).sum(dim, skipna=True) / (n - 1).where(n > 1)
    return xr.Dataset({"mean": mean, "std": np.sqrt(var), "n": n})


def compare(values: xr.DataArray, stat: str, unit: float, a: int, b: int, lower: int,
            need: str = "lower", factor: float = 1.0, excluded: str = "") -> Comparison:
    """Models ``a`` and ``b`` of ``values`` (dims model, seed) compared on their seed
    statistics; a single-seed model's std is estimated (:data:`ESTIMATED_SPREAD`)."""
    st = seed_stats(values)
    seeded = st["n"] >= 2
    cv = float((st["std"] / np.abs(st["mean"])).where(seeded).median()) if seeded.any() else np.nan
    out, estimated = [], False
    for m in (a, b):
        mean, std, n = (float(st["mean"].sel(model=m)), float(st["std"].sel(model=m)),
                        int(st["n"].sel(model=m)))
        if n == 1 and np.isfinite(cv):
            std, estimated = cv * abs(mean), True
        out += [mean, std, n]
    return Comparison(stat, unit, a, b, lower, *out, need=need, estimated=estimated,
                      factor=factor, excluded=excluded)


def dead_networks(seeds: xr.Dataset) -> dict[int, list[str]]:
    """Model -> the networks ("NN1", "NN2") whose output is constant (:data:`DEAD_STD`) in any
    of its seeds."""
    out: dict[int, list[str]] = {}
    for net in ("nn1", "nn2"):
        name = f"out_std_{net}"
        if name not in seeds:
            continue
        dead = (seeds[name] < DEAD_STD).any("seed")
        for m in seeds["model"].values[dead.values]:
            out.setdefault(int(m), []).append(net.upper())
    return out


def overfit_ratio(seeds: xr.Dataset) -> xr.DataArray:
    """Seed-mean test / training mean residual per model (> :data:`OVERFIT_RATIO`: overfits)."""
    res = seeds["mean_res"].mean("seed", skipna=True)
    return res.sel(set="test") / res.sel(set="train")
