"""Episodes as records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from aggregator.storage._series import persons_from_json
from aggregator.types import Enclosure, EpisodeRecord


def to_record(row: Row[Any]) -> EpisodeRecord:
    enclosure = None
    if row.enclosure_url is not None:
        enclosure = Enclosure(
            url=row.enclosure_url, type=row.enclosure_type, length=row.enclosure_length
        )
    return EpisodeRecord(
        id=row.id,
        series_id=row.series_id,
        guid=row.guid,
        title=row.title,
        description_html=row.description,
        link=row.link,
        published=row.published,
        enclosure=enclosure,
        duration_seconds=row.duration_seconds,
        season=row.season,
        number=row.number,
        episode_type=row.episode_type,
        image=row.image,
        transcript_url=row.transcript_url,
        chapters_url=row.chapters_url,
        persons=persons_from_json(row.persons),
        missing_since=row.missing_since,
    )
