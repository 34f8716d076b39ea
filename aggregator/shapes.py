"""JSON shapes of what the CLI prints with --json and the API answers (documented in the README)."""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from aggregator.types import (
    EpisodeRecord,
    FeedRecord,
    LinkRecord,
    ReviewRecord,
    ReviewSourceRecord,
    SeriesRecord,
)

if TYPE_CHECKING:
    from aggregator.storage import ReviewSummary

__all__ = [
    "episode_json",
    "feed_json",
    "iso",
    "link_json",
    "review_json",
    "review_meta_json",
    "review_source_json",
    "series_json",
]

# --- output helpers ------------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def feed_json(f: FeedRecord) -> dict[str, Any]:
    return {
        "id": f.id,
        "url": f.url,
        "added_url": f.added_url,
        "kind": f.kind.value,
        "status": f.status.value,
        "title": f.title,
        "last_polled_at": iso(f.last_polled_at),
        "next_poll_at": iso(f.next_poll_at),
        "error_count": f.error_count,
        "last_error": f.last_error,
        "warning": f.warning,
        "note": f.note,
    }


def series_json(s: SeriesRecord) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "feed_id": s.feed_id,
        "feed_url": s.feed_url,
        "author": s.author,
        "link": s.link,
        "image": s.image,
        "language": s.language,
        "categories": list(s.categories),
        "type": s.itunes_type,
        "podcast_guid": s.podcast_guid,
        "episode_count": s.episode_count,
    }


def episode_json(e: EpisodeRecord) -> dict[str, Any]:
    return {
        "id": e.id,
        "series_id": e.series_id,
        "guid": e.guid,
        "title": e.title,
        "published": iso(e.published),
        "link": e.link,
        "enclosure_url": e.enclosure.url if e.enclosure else None,
        "enclosure_type": e.enclosure.type if e.enclosure else None,
        "enclosure_length": e.enclosure.length if e.enclosure else None,
        "duration": e.duration_seconds,
        "season": e.season,
        "number": e.number,
        "episode_type": e.episode_type,
        "image": e.image,
        "transcript_url": e.transcript_url,
        "chapters_url": e.chapters_url,
        "persons": [{"name": p.name, "role": p.role, "group": p.group} for p in e.persons],
        "missing_since": iso(e.missing_since),
    }


def review_meta_json(r: ReviewRecord | ReviewSummary) -> dict[str, Any]:
    """A review's fields but its text: shared by the full review and its summaries."""
    return {
        "id": r.id,
        "url": r.url,
        "title": r.title,
        "author": r.author,
        "published": iso(r.published),
        "source": r.source,
        "feed_id": r.feed_id,
        "linker_version": r.linker_version,
        "linked_at": iso(r.linked_at),
    }


def review_json(r: ReviewRecord) -> dict[str, Any]:
    return {**review_meta_json(r), "text": r.text}


def review_source_json(source: ReviewSourceRecord) -> dict[str, Any]:
    """One way a review arrived. A file is named, not located: where it lay on the
    machine that added it is nobody else's business."""
    location = source.location
    if source.kind == "file":
        location = PurePath(location).name
    return {
        "kind": source.kind,
        "location": location,
        "feed_id": source.feed_id,
        "added_at": iso(source.added_at),
    }


def link_json(link: LinkRecord) -> dict[str, Any]:
    """One link, in the documented shape other tools read (README: "Links as JSON")."""
    episode = None
    if link.episode_id is not None:
        episode = {
            "id": link.episode_id,
            "guid": link.episode_guid,
            "title": link.episode_title,
            "published": iso(link.episode_published),
        }
    return {
        "review": {
            "id": link.review_id,
            "url": link.review_url,
            "title": link.review_title,
            "published": iso(link.review_published),
        },
        "series": {"id": link.series_id, "title": link.series_title, "feed_url": link.feed_url},
        "episode": episode,
        "relation": link.relation.value,
        "score": round(link.score, 4),
        "status": link.status.value,
        "evidence": [
            {"kind": e.kind, "text": e.text, "start": e.start, "end": e.end, "detail": e.detail}
            for e in link.evidence
        ],
    }
