"""A plain BM25 linker, the baseline ``aggregator eval`` compares the linker with.

The whole review is the query (folded words, stopwords dropped, no stemming, no
names, no dates); there is one document per series (its title and description and
every episode's title and description). The series is the top hit when it scores at
least the threshold; the episode is the top hit among that series' episodes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from aggregator.linking.bm25 import BM25
from aggregator.linking.text import STOPWORDS, fold
from aggregator.types import CatalogSeries, LinkProposal, Relation, ReviewDocument

__all__ = ["PlainBM25"]

_WORD = re.compile(r"[^\W_]+")


def _plain_terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(fold(text)) if len(w) > 1 and w not in STOPWORDS]


class PlainBM25:
    def __init__(self, series: Iterable[CatalogSeries], threshold: float = 0.0) -> None:
        self.threshold = threshold
        self._index = BM25()
        self._episodes: dict[int, BM25] = {}
        for s in series:
            words = _plain_terms(f"{s.title} {s.description_text}")
            episodes = BM25()
            for e in s.episodes:
                text = _plain_terms(f"{e.title} {e.description_text}")
                words.extend(text)
                episodes.add(e.id, text)
            self._index.add(s.id, words)
            self._episodes[s.id] = episodes

    def top(self, review: ReviewDocument) -> tuple[int, float] | None:
        """The best series for the review and its BM25 score."""
        hits = self._index.search(_query(review), 1)
        return hits[0] if hits else None

    def link(self, review: ReviewDocument) -> list[LinkProposal]:
        hit = self.top(review)
        if hit is None or hit[1] < self.threshold:
            return []
        series_id = hit[0]
        proposals = [LinkProposal(series_id, None, Relation.REVIEWS, 1.0, ())]
        episodes = self._episodes[series_id].search(_query(review), 1)
        if episodes:
            proposals.append(LinkProposal(series_id, episodes[0][0], Relation.REVIEWS, 1.0, ()))
        return proposals


def _query(review: ReviewDocument) -> dict[str, float]:
    return {t: float(n) for t, n in Counter(_plain_terms(review.text)).items()}
