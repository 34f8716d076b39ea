"""A small Okapi BM25 index that documents can join and leave one at a time.

Used for series-level retrieval (one document per series) and by the plain
baseline in ``aggregator.evaluation``. Postings are dicts of term frequencies; the
collection statistics (document count, average length, document frequencies)
follow every ``add`` and ``remove``, so scores after an update are those of an
index built from scratch.
"""

from __future__ import annotations

import heapq
import math
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping

__all__ = ["BM25"]


class BM25:
    """Okapi BM25 (k1=1.2, b=0.75, the usual defaults; Robertson & Zaragoza 2009).

    A posting list is an ``array`` of (document id, term frequency) pairs, which
    takes a fraction of the memory of a dict per term.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, array[int]] = {}
        self._lengths: dict[int, int] = {}
        self._doc_terms: dict[int, tuple[str, ...]] = {}
        self._total = 0
        self._norms: dict[int, float] | None = None  # length norm per document, as asked

    def __len__(self) -> int:
        return len(self._lengths)

    def __contains__(self, doc_id: int) -> bool:
        return doc_id in self._lengths

    def add(self, doc_id: int, terms: Iterable[str]) -> None:
        """Index a document (replacing any earlier one with the same id)."""
        self.remove(doc_id)
        counts = Counter(sys.intern(term) for term in terms)
        for term, tf in counts.items():
            posting = self._postings.get(term)
            if posting is None:
                posting = self._postings[term] = array("I")
            posting.extend((doc_id, tf))
        length = sum(counts.values())
        self._norms = None
        self._lengths[doc_id] = length
        self._doc_terms[doc_id] = tuple(counts)
        self._total += length

    def remove(self, doc_id: int) -> None:
        length = self._lengths.pop(doc_id, None)
        if length is None:
            return
        self._norms = None
        self._total -= length
        for term in self._doc_terms.pop(doc_id, ()):
            posting = self._postings.get(term)
            if posting is None:
                continue
            kept = array("I")
            for k in range(0, len(posting), 2):
                if posting[k] != doc_id:
                    kept.extend((posting[k], posting[k + 1]))
            if kept:
                self._postings[term] = kept
            else:
                del self._postings[term]

    def idf(self, term: str) -> float:
        """BM25's idf, floored at a small positive value so common terms never subtract."""
        n = len(self._lengths)
        df = self.document_frequency(term)
        return max(0.01, math.log(1 + (n - df + 0.5) / (df + 0.5)))

    def idfs(self, terms: Iterable[str]) -> dict[str, float]:
        """``idf`` of each of many terms that some document holds (the others left out)."""
        n = len(self._lengths)
        postings = self._postings
        found: dict[str, float] = {}
        for term in terms:
            posting = postings.get(term)
            if posting:
                df = len(posting) // 2
                found[term] = max(0.01, math.log(1 + (n - df + 0.5) / (df + 0.5)))
        return found

    def document_frequency(self, term: str) -> int:
        return len(self._postings.get(term, ())) // 2

    def search(self, query: Mapping[str, float], limit: int) -> list[tuple[int, float]]:
        """Best ``limit`` documents for a weighted query (term -> query weight)."""
        scores = self.scores(query)
        return heapq.nlargest(limit, scores.items(), key=lambda item: item[1])

    def scores(self, query: Mapping[str, float]) -> dict[int, float]:
        """BM25 score of every document sharing a term with the query."""
        if not self._lengths:
            return {}
        norms = self._norms
        if norms is None:
            average = self._total / len(self._lengths) or 1.0
            k1, b = self.k1, self.b
            norms = self._norms = {
                doc_id: k1 * (1 - b + b * length / average)
                for doc_id, length in self._lengths.items()
            }
        k1_1 = self.k1 + 1
        scores: dict[int, float] = {}
        for term, weight in query.items():
            posting = self._postings.get(term)
            if not posting:
                continue
            idf = self.idf(term) * weight
            pairs = iter(posting)
            for doc_id, tf in zip(pairs, pairs, strict=True):
                scores[doc_id] = scores.get(doc_id, 0.0) + idf * tf * k1_1 / (tf + norms[doc_id])
        return scores
