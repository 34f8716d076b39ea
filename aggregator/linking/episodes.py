"""Which episodes of a candidate series a review discusses, with the signals for each.

Only episodes published before the review (with a day's slack) are considered.
Signals: a hyperlink to the episode; its title as a phrase (fuzzy: plurals, numbers
in words, parts of a two-part title); numbers and ordinals read the ways the series
numbers itself (title numbers, ``itunes:episode``, order within the season);
references relative to the review's date ("the latest", "last week's", "Tuesday's",
"the premiere", "the finale"); guests named in the episode's description; dates;
and the review's distinctive terms against the episode's text (tf-idf within the
series, so words every episode shares count for little).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from aggregator.linking.analysis import Analysis
from aggregator.linking.candidates import SeriesSignals
from aggregator.linking.catalog import Catalog
from aggregator.linking.episode_found import (
    DAY,
    SLACK,
    SURE_AHEAD,
    EpisodeSignals,
    Found,
    SeriesStats,
    series_stats,
)
from aggregator.linking.references import match_dates, match_numbers, match_relative
from aggregator.linking.series_index import SeriesInfo, dated_count, out_by
from aggregator.linking.text import fold
from aggregator.linking.titles import match_titles
from aggregator.types import Evidence

__all__ = ["EpisodeSignals", "episode_signals"]

# Content-only candidates: the best few episodes by tf-idf.
_CONTENT_CANDIDATES = 3
# Review terms used for content similarity within a series (by weight).
_CONTENT_TERMS = 40
# A feed may carry an episode weeks after it first came out elsewhere (a live stream, a
# platform's exclusive window, a screener sent to critics), so a title, a number or a
# link may point at an episode the feed dates up to this long after the review; the
# weaker signals (guests, dates, content, recency) keep to what was out.
_EXPLICIT_SLACK = timedelta(days=45)
# ... when it names it surely (``SURE_AHEAD``), and not when the words around the name
# (about a clause either way) speak of it as still to come.
_AWAITED = re.compile(
    r"\b(?:next|upcoming|coming|soon|tomorrow|will|awaited|demnachst|nachste[nr]?"
    r"|kommende[nr]?|erscheint|out (?:on )?(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b"
)
_AWAITED_REACH = 40


def episode_signals(a: Analysis, signals: SeriesSignals, catalog: Catalog) -> list[EpisodeSignals]:
    series = signals.series
    published = a.review.published
    eligible = _eligible(series, published)
    reachable = _eligible(series, published, _EXPLICIT_SLACK)
    if not reachable:
        return []
    stats = series_stats(series)
    found = Found(series)

    allowed = set(eligible)
    for index, evidence in signals.link_episodes.items():
        if index in allowed:
            found.get_or_add(index).put("link", 1.0, evidence)
    for index, hits in signals.guest_episodes.items():
        if index in allowed:
            best = max(hits, key=lambda h: h[3])
            start, end, name, specific = best
            s, e = a.span(start, end)
            evidence = Evidence("guest", a.text[start:end], s, e, f"guest {name}")
            others = len({h[2] for h in hits}) - 1
            found.get_or_add(index).put("guest", min(1.0, specific + 0.2 * others), evidence)
    match_titles(a, series, eligible, stats, catalog, found)
    content = _content_scores(a, eligible, stats, catalog)
    season = _season_of(series, content)
    later = frozenset(i for i in reachable if i not in allowed)
    match_numbers(a, series, reachable, found, season, later)
    if later:
        _match_ahead(a, signals, reachable, later, stats, catalog, found)
    if published is not None:
        match_relative(a, series, eligible, published, found, season)
    match_dates(a, series, eligible, found)
    _content(content, found)
    # In a text about watching (a TV adaptation's recap: "the finale", "episode 8",
    # and the titles an adaptation takes over from the podcast), numbers, relative
    # references and titles count that series' episodes, not the podcast's.
    listening = 1.0 - max(0.0, -signals.features.medium)
    for item in found.values():
        episode = item.episode
        f = item.features
        f.number *= listening
        f.relative *= listening
        f.title *= listening
        f.bonus = 1.0 if episode.bonus else 0.0
        if item.index not in allowed:
            f.recent = 0.0  # not out yet by the review's date
        elif published is not None and episode.published is not None:
            days = max(0.0, (published - episode.published).total_seconds() / DAY)
            # Recency is a prior for reviews that name no episode; an explicit title,
            # number or link points where it points, however old.
            explicit = max(f.title, f.number, f.link)
            f.recent = math.exp(-days / 30) * (1.0 - explicit)
    return list(found.values())


def _match_ahead(
    a: Analysis,
    signals: SeriesSignals,
    reachable: list[int],
    later: frozenset[int],
    stats: SeriesStats,
    catalog: Catalog,
    found: Found,
) -> None:
    """Episodes the feed dates after the review that it names surely: by a link, by
    their whole title or by their own number (found by ``match_numbers``). Titles are
    matched among all the reachable episodes, so that a phrase many share names each
    less surely, but only the later ones are taken: the others were matched already."""
    series = signals.series
    ahead = Found(series)
    for index, evidence in signals.link_episodes.items():
        if index in later:
            ahead.get_or_add(index).put("link", 1.0, evidence)
    match_titles(a, series, reachable, stats, catalog, ahead)
    for index in later & found.keys():
        if _awaited(a, found[index]):
            del found[index]  # "part four is out Monday": not heard yet
    for index, item in ahead.items():
        f = item.features
        numbered = found[index].features.number if index in found else 0.0
        sure = max(f.link, f.title, numbered) >= SURE_AHEAD
        if index in later and sure and not _awaited(a, item):
            target = found.get_or_add(index)
            target.features.link = max(target.features.link, f.link)
            target.features.title = max(target.features.title, f.title)
            target.evidence += item.evidence


def _awaited(a: Analysis, item: EpisodeSignals) -> bool:
    """Whether the words that name an episode speak of it as still to come."""
    for evidence in item.evidence:
        if evidence.start < 0:
            continue  # in the headline: no sentence around it
        start = a.shift + evidence.start
        around = fold(a.text[max(0, start - _AWAITED_REACH) : start + _AWAITED_REACH])
        if _AWAITED.search(around):
            return True
    return False


def _eligible(
    series: SeriesInfo, published: datetime | None, slack: timedelta = SLACK
) -> list[int]:
    """The episodes out by the review's date (with slack), and the undated ones: the
    dated ones come first, oldest first, so they end where a bisection says."""
    n = len(series.episodes)
    if published is None:
        return list(range(n))
    dated = dated_count(series)
    out = out_by(series, published + slack, dated)
    return [*range(out), *range(dated, n)]


@dataclass(frozen=True, slots=True)
class _ContentScores:
    """The review's distinctive terms against the series' episodes: tf-idf sums, best
    first, and what the review's terms could reach at most."""

    scores: list[tuple[float, int]]
    attainable: float


def _content_scores(
    a: Analysis, eligible: list[int], stats: SeriesStats, catalog: Catalog
) -> _ContentScores:
    weights: dict[int, float] = {}
    review = _review_terms(a, catalog)
    count, log = stats.count, math.log
    for (term, tf), df in zip(review.items(), stats.dfs(review), strict=True):
        if df:
            weights[term] = (1 + log(tf)) * log(1 + count / df)  # * stats.idf(df)
    if not weights:
        return _ContentScores([], 0.0)
    # The review's most distinctive terms for this series carry the score (and keep the
    # work bounded in series with thousands of episodes).
    best = sorted(weights.items(), key=lambda item: -item[1])[:_CONTENT_TERMS]
    allowed = set(eligible)
    accumulated: dict[int, float] = {}
    for term, weight in best:
        for index in stats.postings(term):
            if index in allowed:
                accumulated[index] = accumulated.get(index, 0.0) + weight
    scores = sorted(((s, i) for i, s in accumulated.items()), reverse=True)
    return _ContentScores(scores, sum(weights.values()))


def _content(content: _ContentScores, found: Found) -> None:
    scores = content.scores
    if not scores:
        return
    top = scores[0][0]
    second = scores[1][0] if len(scores) > 1 else 0.0
    for rank, (score, index) in enumerate(scores):
        if rank >= _CONTENT_CANDIDATES and index not in found:
            continue
        item = found.get_or_add(index)
        item.features.content = score / top
        item.features.content_share = score / content.attainable
        if rank == 0:
            item.features.content_margin = (top - second) / top


# A season whose best episode's content score leads every other season's best by this
# factor is the one the review is about.
_SEASON_LEAD = 1.25


def _season_of(series: SeriesInfo, content: _ContentScores) -> int | None:
    """The season the review's words are about, when the series has several and one
    leads: "episode 1" of a late review of Serial's first season, written after the
    third began, is the first season's, not the newest one's."""
    best: dict[int, float] = {}
    for score, index in content.scores:
        season = series.episodes[index].season
        if season is not None and season not in best:
            best[season] = score
    if len(best) < 2:
        return None
    ranked = sorted(best.items(), key=lambda item: -item[1])
    (season, top), (_, second) = ranked[0], ranked[1]
    return season if top >= _SEASON_LEAD * second else None


def _review_terms(a: Analysis, catalog: Catalog) -> dict[int, int]:
    """The review's retrieval terms as catalog term ids, with counts (once per review)."""
    cached = a.extra.get("term_ids")
    if cached is None:
        counts: dict[int, int] = {}
        for term, n in a.term_counts.items():  # in order of first use, as terms() gives
            tid = catalog.known_term(term)
            if tid is not None:
                counts[tid] = n
        cached = a.extra["term_ids"] = counts
    return cached  # type: ignore[return-value]
