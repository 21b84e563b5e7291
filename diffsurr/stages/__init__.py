"""The study's stages, one module per workflow rule (``Snakefile``): :mod:`.data`,
:mod:`.train`, :mod:`.evaluate`, :mod:`.generalise`; the benchmark rule runs
:mod:`diffsurr.bench`. The notebooks in ``notebooks/`` call these."""
