"""The book layer: what the pages of the Jupyter Book show, computed and tested here.

One module per chapter returns that chapter's numbers and verdicts from the results (its
thresholds are named, documented constants); :mod:`diffsurr.book.claims` judges each of the
preprint's claims once, so every page that states a claim shows the same verdict. Pages only
insert these numbers and sentences into their prose and show the figures.
"""
