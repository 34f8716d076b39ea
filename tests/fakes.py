"""Small builders of the typed stage values, shared by the tests."""

from __future__ import annotations

import hashlib
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aggregator.types import (
    Enclosure,
    Evidence,
    FeedStatus,
    FeedUpdate,
    LinkProposal,
    ParsedEpisode,
    ParsedFeed,
    ParsedSeries,
    Relation,
    ReviewDocument,
)

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _digest(value: object) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


def _content(value: ParsedEpisode | ParsedSeries) -> tuple[object, ...]:
    skip = {"content_hash", "item_hash"}
    return tuple(getattr(value, f.name) for f in fields(value) if f.name not in skip)


def episode(n: int, **overrides: Any) -> ParsedEpisode:
    """Episode ``n`` of a weekly show (n=1 is the oldest), with both hashes filled in.

    ``content_hash`` follows the fields; ``item_hash`` follows them too unless given,
    as a parser's raw-bytes hash would.
    """
    item_hash = overrides.pop("item_hash", None)
    values: dict[str, Any] = {
        "guid": f"urn:show:{n}",
        "title": f"Episode {n}",
        "description_html": f"<p>About episode {n}.</p>",
        "link": f"https://show.example/{n}",
        "published": T0 + timedelta(weeks=n),
        "enclosure": Enclosure(f"https://cdn.example/ep{n}.mp3", "audio/mpeg", 1_000 * n),
        "duration_seconds": 60 * n,
        "number": n,
        "episode_type": "full",
    }
    values.update(overrides)
    built = ParsedEpisode(**values)
    content_hash = _digest(_content(built))
    return replace(built, content_hash=content_hash, item_hash=item_hash or "raw-" + content_hash)


def series(title: str = "The Show", **overrides: Any) -> ParsedSeries:
    built = ParsedSeries(title=title, **overrides)
    return replace(built, content_hash=_digest(_content(built)))


def feed(
    *episodes: ParsedEpisode,
    show: ParsedSeries | None = None,
    complete: bool = True,
    item_hashes: frozenset[str] | None = None,
) -> ParsedFeed:
    """A parsed feed; ``item_hashes`` defaults to the raw hashes of ``episodes``."""
    if item_hashes is None:
        item_hashes = frozenset(e.item_hash for e in episodes if e.item_hash)
    return ParsedFeed(
        series=show or series(),
        episodes=episodes,
        item_hashes=item_hashes,
        complete=complete,
    )


def ok_update(feed_id: int, at: datetime, **overrides: Any) -> FeedUpdate:
    """What a successful poll at ``at`` decides: active, next poll an hour later."""
    values: dict[str, Any] = {
        "feed_id": feed_id,
        "polled_at": at,
        "next_poll_at": at + timedelta(hours=1),
        "status": FeedStatus.ACTIVE,
    }
    values.update(overrides)
    return FeedUpdate(**values)


def review(n: int, **overrides: Any) -> ReviewDocument:
    """Review ``n``: its own URL, text and date (n=1 the oldest) unless overridden."""
    values: dict[str, Any] = {
        "text": f"Review {n}: a podcast worth hearing, episode {n} especially.",
        "title": f"On the show, part {n}",
        "url": f"https://blog.example/review-{n}",
        "author": "A. Critic",
        "published": T0 + timedelta(days=n),
    }
    values.update(overrides)
    return ReviewDocument(**values)


def text_hash(document: ReviewDocument) -> str:
    """A content hash for storage tests (storage takes whatever hash it is given)."""
    return hashlib.sha256(document.text.encode()).hexdigest()


def proposal(
    series_id: int,
    episode_id: int | None = None,
    *,
    score: float = 0.8,
    relation: Relation = Relation.REVIEWS,
    kind: str = "series-title",
) -> LinkProposal:
    """A linker proposal with one item of evidence naming what it matched."""
    evidence = Evidence(
        kind=kind, text="The Show", start=0, end=8, detail=f"{series_id}/{episode_id}"
    )
    return LinkProposal(series_id, episode_id, relation, score, (evidence,))
