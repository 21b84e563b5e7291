"""Workflow rule ``data``: draw and solve the data set of a profile.

The rule's function lives in :mod:`diffsurr.dataset`, which the train stage and the book build
also use to make a missing data set (a stage never imports another stage).
"""

from ..dataset import data_stage, ensure_data

__all__ = ["data_stage", "ensure_data"]
