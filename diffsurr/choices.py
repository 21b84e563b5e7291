"""The allowed values of the settings that name a part of a network.

The networks (:mod:`diffsurr.nets`, :mod:`diffsurr.baselines`) build what these name; the run
profiles (:mod:`diffsurr.profiles`) validate their values against them without importing the
networks.
"""

HEADS = ("table1", "relu")
"""NN2's output head: Table 1's, or "relu" (ConvT → ReLU, no final BatchNorm)."""
NN1_HEADS = ("table1", "d2-first", "relu", "leaky")
"""NN1's last layers: Table 1's conv → ReLU → D2 → BatchNorm; D2 → conv → ReLU → BatchNorm
(no dropout before the BatchNorm); D2 → conv → ReLU (no final BatchNorm, like NN2's relu head);
conv → LeakyReLU → D2 → BatchNorm (Table 1 with a final activation that cannot die)."""
NN1_VARIANT = "d2-first"
"""The NN1 head a study trains next to Table 1's (``nn1_variant_models``): only D2 moves, so
it tests the suspected cause of pathological NN1 outputs (the book's results page)."""
ARCHS = ("table1", "unet", "fno")
"""Network families a profile can train: the preprint's (Table 1) or a baseline."""
