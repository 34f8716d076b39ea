"""The linker's in-memory index of the catalog, built from ``CatalogSeries`` values.

Global lookups, all by hashing so that linking does not grow with the catalog:
series names (first word -> aliases), people and other names (``NameIndex``),
hyperlink keys and site prefixes, and BM25 over one document per series. Episode
work happens later and only inside candidate series, on what ``digest_series``
precomputed. A series can be added, replaced or removed on its own (``put``,
``remove``), which is what re-linking after a poll needs; ``put`` takes the series'
digest when a cache kept it, the costly part of adding a series.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from itertools import chain, repeat

from aggregator.linking.bm25 import BM25
from aggregator.linking.names import NameIndex
from aggregator.linking.series_index import (
    SeriesDigest,
    SeriesInfo,
    digest_series,
    index_series,
)
from aggregator.linking.urls import link_hash
from aggregator.linking.variants import word_stem
from aggregator.types import CatalogSeries

__all__ = ["Catalog", "LinkTarget", "NameUse"]


@dataclass(frozen=True, slots=True)
class NameUse:
    """How one series uses a name: its role and the episodes that name it."""

    series_id: int
    role: str  # "host", "author", "named", "regular", "guest", ...
    episodes: tuple[int, ...]  # indexes into SeriesInfo.episodes


@dataclass(frozen=True, slots=True)
class LinkTarget:
    series_id: int
    episode_index: int | None  # None: the series' site or feed


# A link target packed in one int: series id, then episode index + 1 (0: the series).
_INDEX_BITS = 24


# Shorter names, run together, too often spell an everyday word.
_MIN_JOINED = 5


def _joined(tokens: tuple[str, ...]) -> str | None:
    """A name's letters without the breaks between its words, when long enough to be
    told from everyday words."""
    letters = "".join(tokens)
    return letters if len(letters) >= _MIN_JOINED and letters.isalnum() else None


def _stem_key(tokens: tuple[str, ...], kind: str) -> str | None:
    """The key a title is found by with its words bent (see ``variants``)."""
    return word_stem(tokens[0]) if kind in ("title", "short") and len(tokens) >= 2 else None


def _drop(
    index: dict[str, list[tuple[tuple[str, ...], int, str]]], key: str, series_id: int
) -> None:
    """Take a series' entries out of one key of a name index (the key too, once empty)."""
    bucket = index.get(key, [])
    bucket[:] = [entry for entry in bucket if entry[1] != series_id]
    if not bucket:
        index.pop(key, None)


def _pack(series_id: int, index: int | None) -> int:
    return (series_id << _INDEX_BITS) | (0 if index is None else index + 1)


def _unpack(code: int) -> LinkTarget:
    index = code & ((1 << _INDEX_BITS) - 1)
    return LinkTarget(code >> _INDEX_BITS, None if index == 0 else index - 1)


class Catalog:
    """The index the ``Linker`` reads; see the module docstring."""

    def __init__(self) -> None:
        self._series: dict[int, SeriesInfo] = {}
        self._aliases: dict[str, list[tuple[tuple[str, ...], int, str]]] = {}
        self._joined: dict[str, list[tuple[tuple[str, ...], int, str]]] = {}
        self._stemmed: dict[str, list[tuple[tuple[str, ...], int, str]]] = {}
        self.names = NameIndex()
        self._name_uses: dict[int, tuple[NameUse, ...]] = {}
        # Names some series uses other than as an episode's guest (see ``credited``).
        self._credited: set[int] = set()
        self._series_names: dict[int, tuple[int, ...]] = {}
        self._links: dict[int, tuple[int, ...]] = {}  # link hash -> packed targets
        self._prefixes: dict[int, tuple[int, ...]] = {}  # prefix hash -> series ids
        self.retrieval = BM25()
        self._vocabulary: dict[str, int] = {}
        self.revision = 0  # bumped by every put and remove (caches compare it)
        # Per-word values computed from the whole catalog (titles._global), kept until
        # the catalog changes.
        self.word_values: dict[str, float] = {}

    @classmethod
    def build(
        cls,
        series: Iterable[CatalogSeries],
        digest: Callable[[CatalogSeries], SeriesDigest] = digest_series,
    ) -> Catalog:
        """The catalog of ``series``; ``digest`` gives each one's digest (a cache's)."""
        catalog = cls()
        for one in series:
            catalog.put(one, digest(one))
        return catalog

    # --- updates -------------------------------------------------------------------

    def put(self, series: CatalogSeries, digest: SeriesDigest | None = None) -> None:
        """Add a series, or replace the one with the same id (after a poll).

        ``digest``: ``digest_series(series)``, made earlier (a cache kept it); made
        here when not given.
        """
        if digest is None:
            digest = digest_series(series)
        elif digest.id != series.id:
            raise ValueError(f"the digest of series {digest.id} given for series {series.id}")
        self.remove(series.id)
        self.revision += 1
        self.word_values.clear()
        info = index_series(digest, self.term_ids)
        sid = info.id
        self._series[sid] = info
        for alias in info.aliases:
            entry = (alias.tokens, sid, alias.kind)
            self._aliases.setdefault(alias.tokens[0], []).append(entry)
            if (joined := _joined(alias.tokens)) is not None:
                self._joined.setdefault(joined, []).append(entry)
            if (stem_key := _stem_key(alias.tokens, alias.kind)) is not None:
                self._stemmed.setdefault(stem_key, []).append(entry)
        uses: dict[int, tuple[str, list[int]]] = {}
        # Each name acquired once per series: hosts are named in most episodes, and
        # acquiring (tokenizing) them again was most of the cost of putting a digest.
        acquired: dict[str, int | None] = {}
        for name, role in info.names:
            name_id = acquired[name] = self.names.acquire(name)
            if name_id is not None and name_id not in uses:
                uses[name_id] = (role, [])
            elif name_id is not None:
                self.names.release(name_id)  # one owner per (name, series)
        for index, names in enumerate(digest.episode_names):
            for name in names:
                if name in acquired:
                    name_id = acquired[name]  # in uses already, owned once
                else:
                    name_id = acquired[name] = self.names.acquire(name)
                    if name_id is not None and name_id in uses:
                        self.names.release(name_id)
                if name_id is None:
                    continue
                role, episodes = uses.setdefault(name_id, ("guest", []))
                episodes.append(index)
        for name_id, (role, episodes) in uses.items():
            use = NameUse(sid, role, tuple(episodes))
            self._name_uses[name_id] = (*self._name_uses.get(name_id, ()), use)
            if role != "guest":
                self._credited.add(name_id)
        self._series_names[sid] = tuple(uses)
        for key in info.links:
            self._links[key] = (*self._links.get(key, ()), _pack(sid, None))
        for index, episode in enumerate(info.episodes):
            for key in episode.links:
                self._links[key] = (*self._links.get(key, ()), _pack(sid, index))
        for key in info.prefixes:
            self._prefixes[key] = (*self._prefixes.get(key, ()), sid)
        self.retrieval.add(sid, chain.from_iterable(repeat(t, n) for t, n in digest.doc))

    def remove(self, series_id: int) -> None:
        """Forget a series (no error if it is not there)."""
        info = self._series.pop(series_id, None)
        if info is None:
            return
        self.revision += 1
        self.word_values.clear()
        for alias in info.aliases:
            _drop(self._aliases, alias.tokens[0], series_id)
            if (joined := _joined(alias.tokens)) is not None:
                _drop(self._joined, joined, series_id)
            if (stem_key := _stem_key(alias.tokens, alias.kind)) is not None:
                _drop(self._stemmed, stem_key, series_id)
        for name_id in self._series_names.pop(series_id, ()):
            kept = tuple(u for u in self._name_uses.get(name_id, ()) if u.series_id != series_id)
            if kept:
                self._name_uses[name_id] = kept
            else:
                self._name_uses.pop(name_id, None)
            if all(u.role == "guest" for u in kept):
                self._credited.discard(name_id)
            self.names.release(name_id)
        for key in {*info.links, *(k for e in info.episodes for k in e.links)}:
            targets = tuple(t for t in self._links.get(key, ()) if t >> _INDEX_BITS != series_id)
            if targets:
                self._links[key] = targets
            else:
                self._links.pop(key, None)
        for key in info.prefixes:
            owners = tuple(s for s in self._prefixes.get(key, ()) if s != series_id)
            if owners:
                self._prefixes[key] = owners
            else:
                self._prefixes.pop(key, None)
        self.retrieval.remove(series_id)

    # --- lookups -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._series)

    def __iter__(self) -> Iterator[SeriesInfo]:
        return iter(self._series.values())

    def __contains__(self, series_id: object) -> bool:
        return series_id in self._series

    def series(self, series_id: int) -> SeriesInfo:
        return self._series[series_id]

    def term_id(self, term: str) -> int:
        """A stable small integer for a retrieval term (ids are never reused)."""
        found = self._vocabulary.get(term)
        if found is None:
            found = self._vocabulary[sys.intern(term)] = len(self._vocabulary)
        return found

    def term_ids(self, terms: Sequence[str]) -> list[int]:
        """``term_id`` of each term, in order (for many at once: a series' terms)."""
        vocabulary = self._vocabulary
        found = []
        for term in terms:
            known = vocabulary.get(term)
            if known is None:
                known = vocabulary[sys.intern(term)] = len(vocabulary)
            found.append(known)
        return found

    def known_term(self, term: str) -> int | None:
        return self._vocabulary.get(term)

    def aliases_starting(self, word: str) -> list[tuple[tuple[str, ...], int, str]]:
        """Series names whose first word is ``word``: (tokens, series id, kind)."""
        return self._aliases.get(word, [])

    def aliases_spelled(self, letters: str) -> list[tuple[tuple[str, ...], int, str]]:
        """Series names spelled with these letters once spaces and hyphens are gone
        ("Drop Out" for "The Dropout", "Stown" for "S-Town"): (tokens, series id, kind)."""
        return self._joined.get(letters, [])

    def aliases_stemmed(self, word_stem: str) -> list[tuple[tuple[str, ...], int, str]]:
        """Titles of two words or more whose first word has this stem, for reading a
        title with its words bent ("Fake Hitler"): (tokens, series id, kind)."""
        return self._stemmed.get(word_stem, [])

    def name_uses(self, name_id: int) -> dict[int, NameUse]:
        """The series that use a name, and how."""
        return {use.series_id: use for use in self._name_uses.get(name_id, ())}

    @property
    def credited(self) -> AbstractSet[int]:
        """Names some series credits or names as its own (host, author, regular, ...),
        not only as one episode's guest: the names a lone surname may stand for."""
        return self._credited

    def link_targets(self, key: str) -> list[LinkTarget]:
        """What a URL key (``urls.url_key``) points at: series sites and episode pages."""
        return [_unpack(code) for code in self._links.get(link_hash(key), ())]

    def prefix_owners(self, key: str) -> set[int]:
        """The series with a link under a host or host-and-folder (``urls.prefixes``)."""
        return set(self._prefixes.get(link_hash(key), ()))
