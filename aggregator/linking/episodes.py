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
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aggregator.linking.analysis import Analysis
from aggregator.linking.candidates import SeriesSignals
from aggregator.linking.catalog import Catalog
from aggregator.linking.entries import EpisodeInfo, SeriesInfo, canon
from aggregator.linking.text import STOPWORDS, terms
from aggregator.types import Evidence

__all__ = ["EpisodeSignals", "episode_signals"]

_SLACK = timedelta(days=1, hours=12)
_DAY = 86400.0
# Content-only candidates: the best few episodes by tf-idf.
_CONTENT_CANDIDATES = 3
# Sum of word weights (1.0: the word is in one episode's text only, and in one show's)
# at which a title is distinctive enough to be a reference on its own.
_TITLE_RARITY = 1.0
# Title score = coverage ** this: half a title's (rarity-weighted) words give 0.35.
_COVER_POWER = 1.5
# A reference within this many characters of another show's name belongs to it
# (about two sentences), and keeps this share of its strength for the others.
_OWNER_REACH = 300
_FOREIGN = 0.3
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_PART_LIKE = frozenset({"part", "class", "hour", "day"})
_NOT_TITLE = frozenset({"episode", "ep", "part", "chapter", "season", "show", "podcast"})


@dataclass(slots=True)
class EpisodeSignals:
    index: int
    episode: EpisodeInfo
    features: dict[str, float] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)

    def put(self, name: str, value: float, evidence: Evidence | None = None) -> None:
        if value > self.features.get(name, 0.0):
            self.features[name] = value
            if evidence is not None:
                self.evidence = [e for e in self.evidence if e.kind != evidence.kind]
                self.evidence.append(evidence)


class _SeriesStats:
    """Within-series document frequencies, computed when a series is first a candidate."""

    def __init__(self, series: SeriesInfo) -> None:
        self.count = len(series.episodes)
        self.terms: dict[int, int] = {}
        self.title_words: dict[str, int] = {}
        self.segments: dict[tuple[str, ...], int] = {}
        for episode in series.episodes:
            for term in episode.terms:
                self.terms[term] = self.terms.get(term, 0) + 1
            for segment in set(episode.segments):
                self.segments[segment] = self.segments.get(segment, 0) + 1
            for word in {w for segment in episode.segments for w in segment}:
                self.title_words[word] = self.title_words.get(word, 0) + 1

    def idf(self, df: int) -> float:
        return math.log(1 + self.count / max(1, df))

    def rarity(self, word: str, catalog: Catalog) -> float:
        """How specific a title word is to few episodes of the series (0..1].

        Measured on titles and descriptions: a word the whole series talks about
        ("Mosul" in Caliphate) is a topic, not a reference to one episode.
        """
        term = catalog.known_term(word)
        df = self.terms.get(term, 0) if term is not None else 0
        df = max(df, self.title_words.get(word, 1))
        return self.idf(df) / self.idf(1)


_STATS: OrderedDict[tuple[int, int], _SeriesStats] = OrderedDict()
_STATS_SIZE = 64


def _stats(series: SeriesInfo) -> _SeriesStats:
    key = (series.id, id(series))
    found = _STATS.get(key)
    if found is None:
        found = _STATS[key] = _SeriesStats(series)
        if len(_STATS) > _STATS_SIZE:
            _STATS.popitem(last=False)
    else:
        _STATS.move_to_end(key)
    return found


def episode_signals(a: Analysis, signals: SeriesSignals, catalog: Catalog) -> list[EpisodeSignals]:
    series = signals.series
    published = a.review.published
    eligible = [
        i
        for i, e in enumerate(series.episodes)
        if published is None or e.published is None or e.published <= published + _SLACK
    ]
    if not eligible:
        return []
    stats = _stats(series)
    found = _Found(series)

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
    _titles(a, series, eligible, stats, catalog, found)
    _numbers(a, series, eligible, found)
    if published is not None:
        _relative(a, series, eligible, published, found)
    _dates(a, series, eligible, found)
    _content(a, series, eligible, stats, catalog, found)
    for item in found.values():
        e = item.episode
        f = item.features
        f["bonus"] = 1.0 if e.bonus else 0.0
        if published is not None and e.published is not None:
            days = max(0.0, (published - e.published).total_seconds() / _DAY)
            # Recency is a prior for reviews that name no episode; an explicit title,
            # number or link points where it points, however old.
            explicit = max(f.get("title", 0.0), f.get("number", 0.0), f.get("link", 0.0))
            f["recent"] = math.exp(-days / 30) * (1.0 - explicit)
    return list(found.values())


class _Found(dict[int, EpisodeSignals]):
    """The episodes with at least one signal so far."""

    def __init__(self, series: SeriesInfo) -> None:
        super().__init__()
        self.series = series

    def get_or_add(self, index: int) -> EpisodeSignals:
        item = self.get(index)
        if item is None:
            item = self[index] = EpisodeSignals(index, self.series.episodes[index])
        return item


def _review_words(a: Analysis) -> tuple[list[str], dict[str, list[int]]]:
    cached = a.extra.get("canon")
    if cached is None:
        words = [canon(t.norm) for t in a.tokens]
        # "$2 trillion" is written "$2,000,000,000,000" in a title.
        for i in range(len(words) - 1):
            scale = _SCALES.get(a.tokens[i + 1].norm)
            if scale and words[i].isdigit():
                words[i] = str(int(words[i]) * scale)
        positions: dict[str, list[int]] = {}
        for i, w in enumerate(words):
            positions.setdefault(w, []).append(i)
        cached = a.extra["canon"] = (words, positions)
    return cached  # type: ignore[return-value]


def _titles(
    a: Analysis,
    series: SeriesInfo,
    eligible: list[int],
    stats: _SeriesStats,
    catalog: Catalog,
    found: _Found,
) -> None:
    words, positions = _review_words(a)
    own = {canon(w) for alias in series.aliases for w in alias.tokens}
    matches: list[tuple[float, int, Evidence]] = []
    for index in eligible:
        episode = series.episodes[index]
        best = 0.0
        best_span = (0, 0)
        for segment in episode.segments:
            content = [w for w in dict.fromkeys(segment) if _title_word(w, own)]
            if not content or not any(w in positions for w in content):
                continue
            weights = {w: stats.rarity(w, catalog) * _global(w, catalog) for w in content}
            total = sum(weights.values())
            distinct = min(1.0, total / _TITLE_RARITY)
            lead = _lead(words, positions, segment, weights)
            width = len(segment) + 2
            starts = sorted({p for w in content for p in positions.get(w, ())})
            if lead is not None:
                score, p = lead
                s_tok = a.tokens[p]
                e_tok = a.tokens[min(len(a.tokens) - 1, p + 1)]
                score /= math.sqrt(stats.segments.get(segment, 1))
                if score > best:
                    best, best_span = min(1.0, score), (s_tok.start, e_tok.end)
            for p in starts:
                lo, hi = p, min(len(words), p + width)
                window = set(words[lo:hi])
                matched = [c for c in content if c in window]
                cover = sum(weights[c] for c in matched) / total
                span_positions = [q for q in range(lo, hi) if words[q] in matched]
                s_tok, e_tok = a.tokens[span_positions[0]], a.tokens[span_positions[-1]]
                # A part of a title is much weaker evidence than all of it.
                score = cover**_COVER_POWER * distinct
                if a.cased[p]:
                    caps = sum(1 for q in span_positions if a.tokens[q].cap)
                    score *= 0.6 + 0.4 * caps / len(span_positions)
                if a.in_quotes(s_tok.start, e_tok.end) or a.in_anchor(s_tok.start, e_tok.end):
                    score += 0.3 * cover
                if _contiguous(words, segment, max(0, lo - 1), hi + 1):
                    score += 0.2 * cover
                # A part several titles share ("Nice White Parents - Ep. 3") names a run
                # of episodes rather than one of them.
                score /= math.sqrt(stats.segments.get(segment, 1))
                if score > best:
                    best, best_span = min(1.0, score), (s_tok.start, e_tok.end)
        if best > 0.15:
            start, end = best_span
            s, e = a.span(start, end)
            evidence = Evidence(
                "episode-title", a.text[start:end], s, e, f"title {episode.title!r} ({best:.2f})"
            )
            matches.append((round(best, 2), index, evidence))
    for strength, index, evidence in _by_recency(series, matches):
        found.get_or_add(index).put("title", strength, evidence)  # type: ignore[operator]


def _global(word: str, catalog: Catalog) -> float:
    """0.5..1: how few series of the catalog use a word (1: one series only)."""
    n = len(catalog)
    df = catalog.retrieval.document_frequency(word)
    if n <= 1 or df <= 1:
        return 1.0
    return 0.5 + 0.5 * max(0.0, 1 - math.log(df) / math.log(n))


def _lead(
    words: list[str], positions: dict[str, list[int]], segment: tuple[str, ...], weights: dict[str, float]
) -> tuple[float, int] | None:
    """A title cited by its first words ("the 7 habits book" for "The 7 Habits of Highly
    Effective People"): (score, position) when its first two or more words appear in
    order, the score growing with the words and their weight."""
    head = list(segment)
    while head and head[0] in STOPWORDS:
        head.pop(0)
    if len(head) < 2 or len(head) == len(segment) and len(head) <= 2:
        return None
    best: tuple[float, int] | None = None
    for p in positions.get(head[0], ()):
        k = 0
        while k < len(head) and p + k < len(words) and words[p + k] == head[k]:
            k += 1
        if k >= 2:
            weight = max((weights.get(w, 0.0) for w in head[:k]), default=0.0)
            score = min(1.0, 0.3 * k) * weight
            if best is None or score > best[0]:
                best = (score, p)
    return best


def _title_word(word: str, own: set[str]) -> bool:
    """Words of a title that can point at it: not stopwords, not the show's own name,
    not small numbers (those are read as episode numbers)."""
    if word in STOPWORDS or word in own or word in _NOT_TITLE:
        return False
    return not (word.isdigit() and int(word) < 100)


def _contiguous(words: list[str], segment: tuple[str, ...], lo: int, hi: int) -> bool:
    n = len(segment)
    return any(tuple(words[k : k + n]) == segment for k in range(lo, max(lo, hi - n + 1)))


def _numbers(a: Analysis, series: SeriesInfo, eligible: list[int], found: _Found) -> None:
    seasons = {r.value for r in a.numbers if r.noun == "season"}
    order = _season_order(series, eligible)
    for ref in a.numbers:
        if ref.noun == "season":
            continue
        matches: list[tuple[float, int, Evidence]] = []
        for index in eligible:
            e = series.episodes[index]
            if ref.season is not None and e.season is not None and e.season != ref.season:
                continue
            if seasons and e.season is not None and e.season not in seasons and ref.season is None:
                continue
            strength = _number_strength(ref.noun, ref.value, ref.ordinal, e, order.get(index))
            if ref.season is not None and e.season == ref.season:
                strength = max(strength, 1.0 if e.numbers.episode == ref.value else 0.0)
            if strength <= 0:
                continue
            s, t = a.span(ref.start, ref.end)
            evidence = Evidence(
                "episode-number",
                a.text[ref.start : ref.end],
                s,
                t,
                f"{'ordinal' if ref.ordinal else 'number'} {ref.value} matches {e.title!r}",
            )
            matches.append((strength, index, evidence))
        owner = _owner_factor(a, series.id, ref.start)
        for strength, index, evidence in _by_recency(series, matches):
            found.get_or_add(index).put("number", strength * owner, evidence)  # type: ignore[operator]


def _by_recency(
    series: SeriesInfo, matches: list[tuple[float, int, Evidence]]
) -> list[tuple[float, int, Evidence]]:
    """Discount matches that a more recent episode matches as well or better.

    "Day four" of a year-end series, "Summer School 3", "the first one": several
    episodes carry the same number; a review means the latest before it. The k-th
    most recent of equally good matches keeps 1/(k+1) of its strength.
    """
    ranked: list[tuple[float, int, Evidence]] = []
    for strength, index, evidence in matches:
        newer = sum(
            1
            for other, i, _ in matches
            if other >= strength - 1e-9 and _later(series, i, index)
        )
        ranked.append((strength / (1 + newer), index, evidence))
    return ranked


def _later(series: SeriesInfo, i: int, j: int) -> bool:
    """Episode i came out at least half a day after episode j (same-day releases tie)."""
    a, b = series.episodes[i].published, series.episodes[j].published
    if a is None or b is None:
        return i > j
    return (a - b).total_seconds() > _DAY / 2


def _number_strength(noun: str, value: int, ordinal: bool, e: EpisodeInfo, position: int | None) -> float:
    numbers = e.numbers
    own = dict(numbers.nouns)
    if noun not in ("episode", "week"):
        if own.get(noun) == value:
            return 1.0
        if noun in _PART_LIKE and any(own.get(n) == value for n in _PART_LIKE):
            return 0.8  # "the second hour" of a two-part "Part Two"
        if noun in _PART_LIKE and numbers.plain == value:
            return 0.6
        if noun == "chapter" and numbers.episode == value:
            return 0.8
        return 0.0
    schemes = [
        0.9 if numbers.episode == value else 0.0,
        0.8 if own.get("chapter") == value else 0.0,
        0.8 if numbers.plain == value else 0.0,
        0.7 if e.itunes_number == value else 0.0,
        0.6 if (ordinal or noun == "week") and position == value else 0.0,
    ]
    agreeing = sum(1 for x in schemes if x)
    # Two numbering schemes that agree (a title number and the order) are surer than one.
    return min(1.0, max(schemes) + (0.1 if agreeing > 1 else 0.0))


def _season_order(series: SeriesInfo, eligible: list[int]) -> dict[int, int]:
    """Position (1-based) of each full episode within its season, by date."""
    counters: dict[int | None, int] = {}
    order: dict[int, int] = {}
    for index in eligible:
        e = series.episodes[index]
        if e.bonus:
            continue
        counters[e.season] = counters.get(e.season, 0) + 1
        order[index] = counters[e.season]
    return order


def _relative(
    a: Analysis, series: SeriesInfo, eligible: list[int], published: datetime, found: _Found
) -> None:
    full = [i for i in eligible if not series.episodes[i].bonus and series.episodes[i].published]
    if not full:
        return
    seasons = {r.value for r in a.numbers if r.noun == "season"}

    def days(index: int) -> float:
        when = series.episodes[index].published
        assert when is not None
        return (published - when).total_seconds() / _DAY

    latest = full[-1]
    context = series.episodes[latest].season
    if seasons:
        context = max(seasons) if context is None or context not in seasons else context
    in_season = [i for i in full if series.episodes[i].season == context] or full
    for ref in a.relative:
        chosen: list[int] = []
        detail = ""
        if ref.kind == "latest":
            chosen = [i for i in full if days(i) <= days(latest) + 1]
            detail = "the latest episode before the review"
        elif ref.kind in ("this_week", "yesterday"):
            limit = 8 if ref.kind == "this_week" else 2.5
            chosen = [i for i in full if -1.5 <= days(i) <= limit]
            detail = f"published {ref.kind.replace('_', ' ')} of the review"
        elif ref.kind == "fortnight":
            chosen = [i for i in full if -1.5 <= days(i) <= 15]
            detail = "published in the fortnight before the review"
        elif ref.kind == "last_week":
            chosen = [i for i in full if 4 <= days(i) <= 16]
            detail = "published the week before the review"
        elif ref.kind == "weekday" and ref.weekday is not None:
            limit = 15 if ref.last else 8.5
            chosen = [
                i
                for i in full
                if -1.5 <= days(i) <= limit and _on_weekday(series.episodes[i], ref.weekday)
            ]
            detail = "published on that weekday before the review"
        elif ref.kind == "premiere":
            chosen = [i for i in in_season if days(i) <= days(in_season[0]) + 1][:2]
            chosen = chosen[:1] if len(chosen) > 1 and days(chosen[0]) - days(chosen[1]) > 1 else chosen[:1]
            detail = "the first episode of its season"
        elif ref.kind == "finale":
            chosen = [in_season[-1]]
            detail = "the last episode before the review"
        owner = _owner_factor(a, series.id, ref.start)
        matches: list[tuple[float, int, Evidence]] = []
        for index in chosen:
            strength = owner
            if ref.kind in ("premiere", "finale"):
                # "The premiere" of a show that began years before the review is not it.
                strength *= 1.0 if days(index) <= 60 else 0.5 if days(index) <= 365 else 0.2
            s, e = a.span(ref.start, ref.end)
            when = series.episodes[index].published
            evidence = Evidence(
                "relative",
                a.text[ref.start : ref.end],
                s,
                e,
                f"{detail}: {series.episodes[index].title!r} ({when:%Y-%m-%d})" if when else detail,
            )
            matches.append((strength, index, evidence))
        for strength, index, evidence in _by_recency(series, matches):
            found.get_or_add(index).put("relative", strength, evidence)


def _owner_factor(a: Analysis, series_id: int, position: int) -> float:
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


def _on_weekday(episode: EpisodeInfo, weekday: int) -> bool:
    days = {d.weekday() for d in (episode.published, episode.aired) if d is not None}
    # Shows often go out the day after they are recorded or first aired.
    return weekday in days or (weekday + 1) % 7 in days


def _dates(a: Analysis, series: SeriesInfo, eligible: list[int], found: _Found) -> None:
    for ref in a.dates:
        if ref.month is None:
            continue
        for index in eligible:
            e = series.episodes[index]
            when = e.aired or e.published
            if when is None or when.year != ref.year or when.month != ref.month:
                continue
            if ref.day is not None and abs(when.day - ref.day) > 1:
                continue
            s, t = a.span(ref.start, ref.end)
            evidence = Evidence("date", a.text[ref.start : ref.end], s, t, f"{e.title!r} came out then")
            found.get_or_add(index).put("date", 1.0 if ref.day else 0.5, evidence)  # type: ignore[operator]


def _content(
    a: Analysis,
    series: SeriesInfo,
    eligible: list[int],
    stats: _SeriesStats,
    catalog: Catalog,
    found: _Found,
) -> None:
    counts: dict[int, int] = {}
    for term in terms(a.text):
        tid = catalog.known_term(term)
        if tid is not None and tid in stats.terms:
            counts[tid] = counts.get(tid, 0) + 1
    if not counts:
        return
    weights = {t: (1 + math.log(c)) * stats.idf(stats.terms[t]) for t, c in counts.items()}
    attainable = sum(weights.values())
    scores: list[tuple[float, int]] = []
    for index in eligible:
        score = sum(weights.get(t, 0.0) for t in series.episodes[index].terms)
        if score > 0:
            scores.append((score, index))
    if not scores:
        return
    scores.sort(reverse=True)
    top = scores[0][0]
    second = scores[1][0] if len(scores) > 1 else 0.0
    for rank, (score, index) in enumerate(scores):
        if rank >= _CONTENT_CANDIDATES and index not in found:
            continue
        item = found.get_or_add(index)
        item.features["content"] = score / top
        item.features["content_share"] = score / attainable
        if rank == 0:
            item.features["content_margin"] = (top - second) / top
