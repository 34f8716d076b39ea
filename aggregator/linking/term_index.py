"""Which episodes of a series hold each retrieval term, by term string and by term id.

``EpisodeTerms`` is made from one series alone (part of its ``SeriesDigest``, which a
cache may keep across runs); ``TermIndex`` is the same postings under the term ids of
one catalog, which the linker reads. Turning one into the other asks the catalog for
an id per distinct term of the series, in the order the terms were first used, so the
catalog hands out the ids it would have handed out going episode by episode.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["EpisodeTerms", "TermIndex"]


@dataclass(frozen=True, slots=True)
class EpisodeTerms:
    """A series' retrieval terms as strings, each with the episodes that hold it.

    Flat arrays, as in ``TermIndex``: ``episodes[starts[k]:starts[k + 1]]`` are the
    indexes of the episodes holding ``terms[k]``, in episode order.
    """

    terms: tuple[str, ...]  # distinct, in the order of first use, episode by episode
    starts: array[int]
    episodes: array[int]
    count: int  # episodes in the series

    @classmethod
    def of(cls, by_episode: Sequence[Iterable[str]]) -> EpisodeTerms:
        """From the distinct terms of each episode, in episode order."""
        holders: dict[str, list[int]] = {}
        for index, terms in enumerate(by_episode):
            for term in terms:
                holders.setdefault(term, []).append(index)
        episodes = array(_typecode(len(by_episode)))
        starts = [0]
        for held in holders.values():
            episodes.extend(held)
            starts.append(len(episodes))
        offsets = array(_typecode(len(episodes)), starts)
        return cls(tuple(holders), offsets, episodes, len(by_episode))


class TermIndex:
    """Which episodes of a series hold each retrieval term of their titles and
    descriptions: the within-series document frequencies and postings, made once at
    build time rather than counted again whenever the series becomes a candidate.

    Three flat arrays (term ids in order; where each term's episodes start; episode
    indexes grouped by term, in episode order) take about the memory of one array of
    term ids per episode, which is what they replace.
    """

    __slots__ = ("_episodes", "_ids", "_starts")

    def __init__(self, by_episode: Sequence[Iterable[int]]) -> None:
        holders: dict[int, list[int]] = {}
        for index, ids in enumerate(by_episode):
            for term in ids:
                holders.setdefault(term, []).append(index)
        ids = sorted(holders)
        self._ids = array("I", ids)
        self._episodes = array(_typecode(len(by_episode)))
        starts = [0]
        for term in ids:
            self._episodes.extend(holders[term])
            starts.append(len(self._episodes))
        self._starts = array(_typecode(len(self._episodes)), starts)

    @classmethod
    def interned(
        cls, terms: EpisodeTerms, term_ids: Callable[[Sequence[str]], list[int]]
    ) -> TermIndex:
        """``terms`` under the ids ``term_ids`` gives them (the ids of each term, in
        order): the index that ``TermIndex([[term_id(t) for t in episode] for episode
        in ...])`` makes, with each distinct term interned once, not once per episode."""
        ids = term_ids(terms.terms)
        order = sorted(range(len(ids)), key=ids.__getitem__)
        found, starts = terms.episodes, terms.starts
        episodes = array(found.typecode)  # _typecode(terms.count), as in __init__
        ends = [0]
        for k in order:
            episodes.extend(found[starts[k] : starts[k + 1]])
            ends.append(len(episodes))
        index = cls.__new__(cls)
        index._ids = array("I", [ids[k] for k in order])
        index._episodes = episodes
        index._starts = array(_typecode(len(episodes)), ends)
        return index

    def __len__(self) -> int:
        return len(self._ids)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TermIndex):
            return NotImplemented
        return (self._ids, self._starts, self._episodes) == (
            other._ids,
            other._starts,
            other._episodes,
        )

    __hash__ = None  # type: ignore[assignment]  # equal by value, and not frozen

    def _find(self, term: int) -> int:
        """The position of ``term`` in the index, or -1."""
        k = bisect_left(self._ids, term)
        return k if k < len(self._ids) and self._ids[k] == term else -1

    def df(self, term: int) -> int:
        """How many episodes hold the term."""
        k = self._find(term)
        return self._starts[k + 1] - self._starts[k] if k >= 0 else 0

    def dfs(self, terms: Iterable[int]) -> list[int]:
        """``df`` of each of many terms, in their order."""
        ids, starts, n = self._ids, self._starts, len(self._ids)
        found: list[int] = []
        for term in terms:
            k = bisect_left(ids, term)
            found.append(starts[k + 1] - starts[k] if k < n and ids[k] == term else 0)
        return found

    def postings(self, term: int) -> array[int]:
        """The indexes of the episodes that hold the term, in episode order."""
        k = self._find(term)
        if k < 0:
            return self._episodes[:0]
        return self._episodes[self._starts[k] : self._starts[k + 1]]


def _typecode(largest: int) -> str:
    """The smallest unsigned array type that holds values up to ``largest``."""
    return "H" if largest < 1 << 16 else "I"
