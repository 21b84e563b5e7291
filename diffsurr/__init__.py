"""diffsurr: neural surrogates for steady diffusion, after Toledo-Marín, Fox, Sluka & Glazier
(2022)."""

__version__ = "0.1.0"
