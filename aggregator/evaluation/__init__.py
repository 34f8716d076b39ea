"""Evaluation: how well the linker does on a labelled set, and fitting its weights.

Development tools above the linker, not part of the service: ``dataset`` reads a
labelled set (feeds through ``feeds.parse``, review files through
``reviews.extract``) and scores a linker on it beside a plain BM25 baseline; ``fit``
refits the weights of ``linking/score.py`` on it. ``python -m aggregator.evaluation``
(``__main__``) and ``aggregator eval`` print the figures. The linker imports nothing
of this package.
"""
