"""Episode titles in a review: whole, in part, by their first words, fuzzily.

Titles are compared as canonical tokens (plurals folded, numbers in words made digits,
"$2 trillion" made "2000000000000"), part by part ("Chapter Six: Paper Trail" has the
part "Paper Trail"). Words are weighted by how few episodes of the series and how
few shows of the catalog use them, so "Mosul" in Caliphate counts for little and
"Cincinnatus" for a lot.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from aggregator.linking.analysis import Analysis
from aggregator.linking.catalog import Catalog
from aggregator.linking.episode_found import Found, SeriesStats, by_recency
from aggregator.linking.series_index import SeriesInfo, canon
from aggregator.linking.text import STOPWORDS, Token
from aggregator.types import Evidence

__all__ = ["match_titles"]

# Sum of word weights (1.0: the word is in one episode's text only, and in one show's)
# at which a title is distinctive enough to be a reference on its own.
_TITLE_RARITY = 1.0
# Title score = coverage ** this: half a title's (rarity-weighted) words give 0.35.
_COVER_POWER = 1.5
# Title matches scoring at most this are not evidence.
_MIN_TITLE = 0.15
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
# Title words whose catalog-wide weight is kept (a few MB at most).
_WORD_VALUES = 50_000
_NOT_TITLE = frozenset({"episode", "ep", "part", "chapter", "season", "show", "podcast"})


def _review_words(a: Analysis) -> _ReviewWords:
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
        # Per word: can a window starting on it keep its full score (it is written with
        # a capital, or its paragraph is lower-case)? Can it be quoted or a link's text?
        full = {
            w for w, at in positions.items() if any(not a.cased[p] or a.tokens[p].cap for p in at)
        }
        # A token is inside a quote or a link's text as ``in_quotes``/``in_anchor`` see
        # it: starting at or after the span's start, ending by its end.
        quoted = set()
        spans = [(qs, qe + 1) for qs, qe in a.quotes] + [(s, e) for s, e, _ in a.anchors]
        for start, end in spans:
            i = bisect.bisect_left(a.tokens, start, key=_start)
            while i < len(a.tokens) and a.tokens[i].end <= end:
                quoted.add(words[i])
                i += 1
        content = set(positions).difference(STOPWORDS)
        cached = a.extra["canon"] = _ReviewWords(words, positions, content, full, quoted)
    return cached  # type: ignore[return-value]


@dataclass(slots=True)
class _ReviewWords:
    """The review's canonical words, once per review."""

    words: list[str]
    positions: dict[str, list[int]]
    content: set[str]  # the words that are not stopwords
    full: set[str]  # words with a position where the capitals factor is 1
    quoted: set[str]  # words with a position inside quotes or a link's text


def match_titles(
    a: Analysis,
    series: SeriesInfo,
    eligible: list[int],
    stats: SeriesStats,
    catalog: Catalog,
    found: Found,
) -> None:
    review = _review_words(a)
    words, positions = review.words, review.positions
    own = {canon(w) for alias in series.aliases for w in alias.tokens}
    matches: list[tuple[float, int, Evidence, tuple[int, int]]] = []
    # Only episodes whose titles share a word (not a stopword) with the review, and in
    # them only the parts that do: the others cannot match.
    shared_words = review.content.isdisjoint
    for index in eligible:
        episode = series.episodes[index]
        best = 0.0
        best_span = (0, 0)
        for segment in episode.segments:
            if shared_words(segment):
                continue
            content, weights, total = _part(segment, own, stats, catalog)
            here = [w for w in content if w in positions]
            if not here:
                continue
            shared = math.sqrt(stats.segments.get(segment, 1))
            distinct = min(1.0, total / _TITLE_RARITY)
            # The most this part could score: skip parts that cannot beat what is found
            # already. Exact bounds of the window scores below (cover <= reach, and the
            # factors and bonuses only where some word of the part allows them), and
            # the lead's own score.
            reach = sum(weights[w] for w in here) / total
            ceiling = reach**_COVER_POWER * distinct
            if not any(w in review.full for w in here):
                ceiling *= 0.6
            quotable = any(w in review.quoted for w in here)
            if quotable:
                ceiling += 0.3 * reach
            occurs = _occurs(words, positions, segment)
            if occurs:
                ceiling += 0.2 * reach
            lead = _lead(words, positions, segment, weights)
            if lead is not None:
                ceiling = max(ceiling, lead[0])
            if ceiling / shared <= max(best, _MIN_TITLE):
                continue
            width = len(segment) + 2
            starts = sorted({p for w in here for p in positions[w]})
            if lead is not None:
                score, p = lead
                s_tok = a.tokens[p]
                e_tok = a.tokens[min(len(a.tokens) - 1, p + 1)]
                score /= shared
                if score > best:
                    best, best_span = min(1.0, score), (s_tok.start, e_tok.end)
            for p in starts:
                lo, hi = p, min(len(words), p + width)
                window = set(words[lo:hi])
                matched = [c for c in content if c in window]
                cover = sum(weights[c] for c in matched) / total
                # A part of a title is much weaker evidence than all of it.
                score = cover**_COVER_POWER * distinct
                # This window's own bound (the bonuses the part allows, capitals
                # factor 1): it cannot beat what the episode has already.
                bound = score
                if quotable:
                    bound += 0.3 * cover
                if occurs:
                    bound += 0.2 * cover
                if bound / shared <= best:
                    continue
                span_positions = [q for q in range(lo, hi) if words[q] in matched]
                s_tok, e_tok = a.tokens[span_positions[0]], a.tokens[span_positions[-1]]
                if a.cased[p]:
                    caps = sum(1 for q in span_positions if a.tokens[q].cap)
                    score *= 0.6 + 0.4 * caps / len(span_positions)
                if a.in_quotes(s_tok.start, e_tok.end) or a.in_anchor(s_tok.start, e_tok.end):
                    score += 0.3 * cover
                if _contiguous(words, segment, max(0, lo - 1), hi + 1):
                    score += 0.2 * cover
                # A part several titles share ("Nice White Parents - Ep. 3") names a run
                # of episodes rather than one of them.
                score /= shared
                if score > best:
                    best, best_span = min(1.0, score), (s_tok.start, e_tok.end)
        if best > _MIN_TITLE:
            start, end = best_span
            s, e = a.span(start, end)
            evidence = Evidence(
                "episode-title", a.text[start:end], s, e, f"title {episode.title!r} ({best:.2f})"
            )
            matches.append((round(best, 2), index, evidence, best_span))
    for group in _same_words(matches):
        for strength, index, evidence in by_recency(series, group):
            found.get_or_add(index).put("title", strength, evidence)


def _same_words(
    matches: list[tuple[float, int, Evidence, tuple[int, int]]],
) -> list[list[tuple[float, int, Evidence]]]:
    """The matches grouped by the words of the review they rest on (overlapping spans).

    Titles matched by the same words ("Harper High School" for its Part One and Part
    Two) are one reference that several episodes could answer; titles matched by other
    words ("Retraction", then "House on Loon Lake") are references of their own, and a
    list of favourite episodes must not discount the older ones as ambiguous.
    """
    ordered = sorted(matches, key=lambda m: m[3])
    groups: list[list[tuple[float, int, Evidence]]] = []
    end = -1
    for strength, index, evidence, (start, stop) in ordered:
        if not groups or start >= end:
            groups.append([])
            end = stop
        else:
            end = max(end, stop)
        groups[-1].append((strength, index, evidence))
    return groups


def _part(
    segment: tuple[str, ...], own: set[str], stats: SeriesStats, catalog: Catalog
) -> tuple[list[str], dict[str, float], float]:
    """A title part's words that can point at it, their weights and total (cached per
    series until the catalog changes, as are the weights of its title words)."""
    if stats.revision != catalog.revision:
        stats.parts.clear()
        stats.word_weights.clear()
        stats.revision = catalog.revision
    found = stats.parts.get(segment)
    if found is None:
        known = stats.word_weights
        weights: dict[str, float] = {}
        for w in segment:
            if w in weights or not _title_word(w, own):
                continue
            value = known.get(w)
            if value is None:
                value = known[w] = stats.rarity(w, catalog) * _global(w, catalog)
            weights[w] = value
        found = stats.parts[segment] = (list(weights), weights, sum(weights.values()))
    return found


def _global(word: str, catalog: Catalog) -> float:
    """0.5..1: how few series of the catalog use a word (1: one series only)."""
    found = catalog.word_values.get(word)
    if found is None:
        n = len(catalog)
        df = catalog.retrieval.document_frequency(word)
        found = 1.0
        if n > 1 and df > 1:
            found = 0.5 + 0.5 * max(0.0, 1 - math.log(df) / math.log(n))
        if len(catalog.word_values) >= _WORD_VALUES:
            catalog.word_values.clear()
        catalog.word_values[word] = found
    return found


def _lead(
    words: list[str],
    positions: dict[str, list[int]],
    segment: tuple[str, ...],
    weights: dict[str, float],
) -> tuple[float, int] | None:
    """A title cited by its first words ("the 7 habits book" for "The 7 Habits of Highly
    Effective People"): (score, position) when its first two or more words appear in
    order, the score growing with the words and their weight."""
    head = list(segment)
    while head and head[0] in STOPWORDS:
        head.pop(0)
    if len(head) < 2 or (len(head) == len(segment) and len(head) <= 2):
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


def _occurs(words: list[str], positions: dict[str, list[int]], segment: tuple[str, ...]) -> bool:
    """Whether the whole part occurs in the review, word for word (``_contiguous``
    anywhere)."""
    n = len(segment)
    return any(tuple(words[k : k + n]) == segment for k in positions.get(segment[0], ()))


def _contiguous(words: list[str], segment: tuple[str, ...], lo: int, hi: int) -> bool:
    n = len(segment)
    return any(tuple(words[k : k + n]) == segment for k in range(lo, max(lo, hi - n + 1)))


def _start(token: Token) -> int:
    return token.start
