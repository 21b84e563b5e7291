"""Roll-back rules: when to reject an epoch and return to an earlier state (preprint Sec. 2, Eq. 3).

Preprint, Eq. 3: "if the ratio of loss value from epoch n to n + 1 is larger than L_thrs,
the training algorithm reverts to the NN state corresponding to epoch n − s", with
L_thrs = C · (1/m) Σ_{ep=n−m+1}^{n} L(ep), C = 5, m = 20, s = 5. Read literally this compares
a ratio (dimensionless, ≈ 1) with a loss level (≈ 1e-3) and would roll back at every epoch.
We read it as the sentence after Eq. 3 does ("5 times the average loss over the previous 20
epochs"): epoch n + 1 is a jump when L(n+1) > L_thrs. The rule needs m accepted epochs first.

The authors' code (run_script.jl; the book's differences page) used another rule: from
epoch 22 on, a jump is L(n) − L(n−1) > 10 × the mean of the last 20 absolute successive
differences; it kept one backup every 5 epochs and went back to the latest backup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("preprint", "code", "none")


@dataclass(frozen=True)
class RollbackRule:
    """A roll-back rule: ``kind`` in ``KINDS``; C, m, s as in Eq. 3."""

    kind: str = "preprint"
    C: float = 5.0
    m: int = 20
    s: int = 5

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"roll-back rule must be one of {KINDS}, got {self.kind!r}")
        if not (self.C > 0 and self.m >= 1 and self.s >= 1):
            raise ValueError(f"roll-back needs C > 0, m >= 1, s >= 1; got C={self.C}, "
                             f"m={self.m}, s={self.s}")

    def is_jump(self, accepted: list[float], candidate: float) -> bool:
        """Whether ``candidate`` (the loss of the epoch just trained) is a jump after
        the losses of the ``accepted`` epochs."""
        if self.kind == "none":
            return False
        if self.kind == "preprint":
            if len(accepted) < self.m:
                return False
            return candidate > self.C * float(np.mean(accepted[-self.m:]))
        # the authors' code: epochs are 1-based there, the rule starts at epoch 22
        if len(accepted) < 21:
            return False
        diffs = np.abs(np.diff(accepted[-21:]))
        return candidate - accepted[-1] > 10.0 * float(diffs.mean())

    def target_epoch(self, n_accepted: int) -> int:
        """The number of accepted epochs to keep when a jump happens after ``n_accepted``.

        Preprint: back to epoch n − s. Code: back to the latest backup (every ``s`` epochs).
        """
        if self.kind == "code":
            return (n_accepted // self.s) * self.s
        return max(n_accepted - self.s, 0)

    def needed_states(self, n_accepted: int) -> list[int]:
        """Epochs whose states must be kept to be able to roll back from here on.

        Preprint: the last 2s + 1. After a jump at n the run goes on from n − s, and a second
        jump within s epochs of that must go back to its own n − s, down to n − 2s. (A third
        jump within s epochs of the second would need older states still; it goes back to
        the oldest kept state instead, and the history's ``rolled_back_to`` says where.)
        """
        if self.kind == "none":
            return []
        if self.kind == "code":
            return [(n_accepted // self.s) * self.s]
        return list(range(max(n_accepted - 2 * self.s, 0), n_accepted + 1))
