"""Evaluation: how well the linker does on a labelled set, and fitting its weights.

Development tools above the linker, not part of the service: ``dataset`` reads a
labelled set (feeds through ``feeds.parse``, review files through
``reviews.extract``) and scores a linker on it beside a plain BM25 baseline;
``crossval`` breaks the figures down by trait, keeps a set's held-out part apart and
cross-validates by series; ``fit`` refits the weights of ``linking/score.py``.
``aggregator eval`` prints the figures (the one evaluation command).
The linker imports nothing of this package.
"""
