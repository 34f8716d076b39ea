"""What a test reads back from storage as plain records.

Storage lists series and episodes in pages of rows, each with its review count;
most tests want only the records, of every row.
"""

from __future__ import annotations

from aggregator.storage import Storage
from aggregator.types import EpisodeRecord, SeriesRecord


def series_records(storage: Storage) -> list[SeriesRecord]:
    """Every series, by title."""
    return [row.series for row in storage.series_page()]


def episode_records(
    storage: Storage, series_id: int | None = None, *, limit: int | None = None, offset: int = 0
) -> list[EpisodeRecord]:
    """Episodes (of one series, or all), newest published first, undated last."""
    rows = storage.episodes_page(series_id=series_id, limit=limit, offset=offset)
    return [row.episode for row in rows]
