"""The episodes a review points at, as the episode-level signal modules find them:
the signals of one episode, the set found so far, the within-series statistics they
are weighed by, and two rules every reference obeys (a more recent episode wins a tie;
a reference next to another show's name is that show's).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import chain

from aggregator.linking.analysis import Analysis
from aggregator.linking.catalog import Catalog
from aggregator.linking.features import EpisodeFeature, EpisodeFeatures
from aggregator.linking.series_index import EpisodeInfo, SeriesInfo
from aggregator.types import Evidence

__all__ = [
    "DAY",
    "SLACK",
    "SURE_AHEAD",
    "EpisodeSignals",
    "Found",
    "SeriesStats",
    "by_recency",
    "later",
    "owner_factor",
    "series_stats",
]

# Review dates are days, episode dates instants: an episode up to this long after the
# review's date may still be the one it discusses (time zones, a review dated the day).
SLACK = timedelta(days=1, hours=12)
# An episode the feed dates after the review (a live stream first, an exclusive window)
# counts only when named this surely: a link, its whole title, its own number.
SURE_AHEAD = 0.9
DAY = 86400.0
# A reference within this many characters of another show's name belongs to it
# (about two sentences), and keeps this share of its strength for the others.
_OWNER_REACH = 300
_FOREIGN = 0.3


@dataclass(slots=True)
class EpisodeSignals:
    index: int
    episode: EpisodeInfo
    features: EpisodeFeatures = field(default_factory=EpisodeFeatures)
    evidence: list[Evidence] = field(default_factory=list)

    def put(self, name: EpisodeFeature, value: float, evidence: Evidence | None = None) -> None:
        if self.features.raise_to(name, value) and evidence is not None:
            self.evidence = [e for e in self.evidence if e.kind != evidence.kind]
            self.evidence.append(evidence)


class Found(dict[int, EpisodeSignals]):
    """The episodes with at least one signal so far."""

    def __init__(self, series: SeriesInfo) -> None:
        super().__init__()
        self.series = series

    def get_or_add(self, index: int) -> EpisodeSignals:
        item = self.get(index)
        if item is None:
            item = self[index] = EpisodeSignals(index, self.series.episodes[index])
        return item


class SeriesStats:
    """Within-series statistics, kept while a series is a candidate of recent reviews.

    Document frequencies and postings come from the series' ``TermIndex`` (made at
    build time); what is kept here is what reviews work out on demand: how many
    episodes share each title part, the rarity of title words and the weights of title
    parts.
    """

    def __init__(self, series: SeriesInfo) -> None:
        self.count = len(series.episodes)
        self._terms = series.terms
        self._title_only = series.title_only
        # title part -> how many episodes have it
        self.segments: Counter[tuple[str, ...]] = Counter(
            chain.from_iterable(set(e.segments) for e in series.episodes)
        )
        # For one revision of the catalog: per title part, (content words, their
        # weights, total weight); per title word, its weight (titles._part).
        self.parts: dict[tuple[str, ...], tuple[list[str], dict[str, float], float]] = {}
        self.word_weights: dict[str, float] = {}
        self.revision = -1
        self._idf1 = self.idf(1)

    def df(self, term: int) -> int:
        return self._terms.df(term)

    def dfs(self, terms: Iterable[int]) -> list[int]:
        return self._terms.dfs(terms)

    def postings(self, term: int) -> Sequence[int]:
        """The indexes of the episodes that hold a term, in episode order."""
        return self._terms.postings(term)

    def idf(self, df: int) -> float:
        return math.log(1 + self.count / max(1, df))

    def rarity(self, word: str, catalog: Catalog) -> float:
        """How specific a title word is to few episodes of the series (0..1].

        Measured on titles and descriptions: a word the whole series talks about
        ("Mosul" in Caliphate) is a topic, not a reference to one episode. Its count is
        the episodes holding it as a term or in a title part (``title_only``: the
        latter only where it is more).
        """
        term = catalog.known_term(word)
        df = self._terms.df(term) if term is not None else 0
        df = max(df, self._title_only.get(word, 0), 1)
        return math.log(1 + self.count / df) / self._idf1  # idf(df) / idf(1)


# Keyed by the object's id, with the object kept beside its stats: an id is only
# unique among live objects, and a cache keyed by the id alone handed a new catalog's
# series the stats of a dead one (seen as a wrong episode after re-linking).
_STATS: OrderedDict[tuple[int, int], tuple[SeriesInfo, SeriesStats]] = OrderedDict()
# A review examines the episodes of at most eight series (linker._EPISODE_CANDIDATES):
# this keeps the last few dozen reviews' series, and bounds the memory of the cache.
# An entry holds what reviews asked of the series (title parts and words): about
# 12 KB at 100k episodes (3 MB for 256), since the term counts are built with the
# catalog (SeriesInfo.terms).
_STATS_SIZE = 256


def series_stats(series: SeriesInfo) -> SeriesStats:
    key = (series.id, id(series))
    entry = _STATS.get(key)
    if entry is None or entry[0] is not series:
        entry = _STATS[key] = (series, SeriesStats(series))
        if len(_STATS) > _STATS_SIZE:
            _STATS.popitem(last=False)
    else:
        _STATS.move_to_end(key)
    return entry[1]


def by_recency(
    series: SeriesInfo, matches: list[tuple[float, int, Evidence]]
) -> list[tuple[float, int, Evidence]]:
    """Discount matches that a more recent episode matches as well or better.

    "Day four" of a year-end series, "Summer School 3", "the first one": several
    episodes carry the same number; a review means the latest before it. The k-th
    most recent of equally good matches keeps 1/(k+1) of its strength.
    """
    if len(matches) < 2:
        return matches
    # Newest first; same-day releases tie (half a day apart at most).
    order = sorted(matches, key=lambda m: _when(series, m[1]), reverse=True)
    ranked: list[tuple[float, int, Evidence]] = []
    seen: list[float] = []  # strengths of strictly newer matches, sorted
    pending: list[float] = []  # strengths of the current same-day group
    group_time: float | None = None
    for strength, index, evidence in order:
        when = _when(series, index)
        if group_time is None or group_time - when > DAY / 2:
            for s in pending:
                bisect.insort(seen, s)
            pending = []
            group_time = when
        newer = len(seen) - bisect.bisect_left(seen, strength - 1e-9)
        ranked.append((strength / (1 + newer), index, evidence))
        pending.append(strength)
    return ranked


def _when(series: SeriesInfo, index: int) -> float:
    published = series.episodes[index].published
    return published.timestamp() if published is not None else float(index)


def later(series: SeriesInfo, i: int, j: int) -> bool:
    """Episode i came out at least half a day after episode j (same-day releases tie)."""
    a, b = series.episodes[i].published, series.episodes[j].published
    if a is None or b is None:
        return i > j
    return (a - b).total_seconds() > DAY / 2


def owner_factor(a: Analysis, series_id: int, position: int) -> float:
    """1.0 unless the reference sits next to another show's name and not this one's.

    In "Connected, on the other hand ... In episode 94", the number belongs to
    Connected, not to the show named two paragraphs earlier.
    """
    named: list[tuple[int, int]] = a.extra.get("named_at", [])  # type: ignore[assignment]
    if not named:
        return 1.0
    distance = {
        sid: min(abs(pos - position) for pos, s in named if s == sid)
        for sid in {s for _, s in named}
    }
    nearest = min(distance, key=distance.__getitem__)
    if nearest == series_id or distance[nearest] > _OWNER_REACH:
        return 1.0
    mine = distance.get(series_id)
    return 1.0 if mine is not None and mine <= 2 * distance[nearest] else _FOREIGN
