"""The linker: a review in, link proposals out (pure: no I/O).

For each series the review is about, one proposal with ``episode_id=None`` and
relation ``reviews`` (or ``mentions`` when the show is only named), plus one per
episode it discusses. Every proposal carries the evidence that produced it. Below
the thresholds of ``score.py`` the linker abstains: no proposal at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from aggregator.linking.analysis import analyse
from aggregator.linking.candidates import SeriesSignals, series_candidates
from aggregator.linking.catalog import Catalog
from aggregator.linking.episodes import EpisodeSignals, episode_signals
from aggregator.linking.score import (
    MENTION_NAMENESS,
    WEIGHTS,
    Weights,
    episode_score,
    series_score,
)
from aggregator.types import Evidence, LinkProposal, Relation, ReviewDocument

__all__ = ["LINKER_VERSION", "Linker", "Scored"]

# Bump when the linker's behaviour changes: stored links made by an older version are
# then re-linked.
LINKER_VERSION = "29"

# Series whose episodes are examined, best first (the dev set never has more than
# five candidates that matter; retrieval alone adds five).
_EPISODE_CANDIDATES = 8

# The latest review date the linker reasons with: a few days' slack must still be
# addable to it ("2 days after the review") without leaving the calendar. A review
# dated later (9999-12-31 from a broken feed) is read as dated then.
_LATEST_DATE = datetime.max - timedelta(days=30)

# At most this many pieces of evidence per proposal, strongest kinds first.
_MAX_EVIDENCE = 24
_KIND_ORDER = {
    "hyperlink": 0, "series-title": 1, "episode-title": 1, "episode-number": 2, "relative": 2,
    "person": 3, "guest": 3, "count": 4, "date": 4, "term": 5,
}  # fmt: skip


@dataclass(slots=True)
class Scored:
    """A candidate series with its score and its scored episodes (for debugging, fitting)."""

    signals: SeriesSignals
    score: float
    episodes: list[tuple[EpisodeSignals, float]]


class Linker:
    def __init__(self, catalog: Catalog, weights: Weights = WEIGHTS) -> None:
        self.catalog = catalog
        self.weights = weights

    def link(self, review: ReviewDocument) -> list[LinkProposal]:
        proposals: list[LinkProposal] = []
        weights = self.weights
        for scored in self.score(review):
            signals = scored.signals
            sid = signals.series.id
            if scored.score >= weights.series_threshold:
                proposals.append(
                    LinkProposal(sid, None, Relation.REVIEWS, scored.score, _tidy(signals.evidence))
                )
                for episode, score in scored.episodes:
                    if score >= weights.episode_threshold:
                        evidence = _tidy(episode.evidence) or _tidy(signals.evidence)[:1]
                        proposals.append(
                            LinkProposal(sid, episode.episode.id, Relation.REVIEWS, score, evidence)
                        )
            else:
                named = signals.features.name
                linked = signals.features.link
                if named >= MENTION_NAMENESS or linked >= 1.0:
                    evidence = tuple(
                        e
                        for e in _tidy(signals.evidence)
                        if e.kind in ("series-title", "hyperlink")
                    )
                    if evidence:
                        score = max(named, linked) * (1 - scored.score)
                        proposals.append(
                            LinkProposal(sid, None, Relation.MENTIONS, score, evidence)
                        )
        return proposals

    def score(self, review: ReviewDocument) -> list[Scored]:
        """Every candidate series with its features and scores (what ``link`` decides on)."""
        a = analyse(_in_calendar(review), self.catalog)
        found: list[Scored] = []
        candidates = list(series_candidates(a, self.catalog).values())
        # Episodes are looked at in the most promising series only (by the score without
        # episode evidence): the work stays bounded however many shows share a word.
        weights = self.weights
        candidates.sort(key=lambda s: -series_score(s.features.with_episode(0.0), weights))
        for rank, signals in enumerate(candidates):
            if rank >= _EPISODE_CANDIDATES:
                signals.features.episode = 0.0
                found.append(Scored(signals, series_score(signals.features, weights), []))
                continue
            episodes = [
                (e, episode_score(e.features, weights))
                for e in episode_signals(a, signals, self.catalog)
            ]
            episodes.sort(key=lambda item: -item[1])
            signals.features.episode = episodes[0][1] if episodes else 0.0
            found.append(Scored(signals, series_score(signals.features, weights), episodes))
        found.sort(key=lambda s: -s.score)
        return found


def _in_calendar(review: ReviewDocument) -> ReviewDocument:
    """The review with its date brought within the dates the linker can add slack to."""
    published = review.published
    if published is None:
        return review
    latest = _LATEST_DATE.replace(tzinfo=published.tzinfo)
    return review if published <= latest else replace(review, published=latest)


def _tidy(evidence: list[Evidence]) -> tuple[Evidence, ...]:
    unique = list(dict.fromkeys(evidence))
    unique.sort(key=lambda e: (_KIND_ORDER.get(e.kind, 9), e.start if e.start >= 0 else 1 << 30))
    return tuple(unique[:_MAX_EVIDENCE])
