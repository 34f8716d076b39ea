"""Series and episodes, and the linker's view of them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from typing import TypeVar

from aggregator.storage import _catalog, _retention, _series
from aggregator.storage._base import StorageBase
from aggregator.types import CatalogSeries, SeriesRecord

_T = TypeVar("_T")


class ContentStore(StorageBase):
    """Series and episodes, and the linker's view of them."""

    # --- series and episodes ---------------------------------------------------------

    def get_series(self, series_id: int) -> SeriesRecord:
        with self._read(f"reading series {series_id}") as session:
            return _series.get(session.connection(), series_id)

    def prune_missing_episodes(self, series_id: int, *, keep: int, now: datetime) -> int:
        """Delete the series' episodes gone from its feed beyond the ``keep`` gone most
        recently, never one a review is linked to; returns how many were deleted
        (see ``_retention``)."""
        with self._write(f"deleting missing episodes of series {series_id}") as session:
            return _retention.prune_missing(session.connection(), series_id, keep, now)

    # --- the linker's view -------------------------------------------------------

    def catalog(self, series_ids: Collection[int] | None = None) -> list[CatalogSeries]:
        """Every series (or those in ``series_ids``; unknown ids skipped) with all
        its episodes, missing ones included, descriptions as plain text; by id."""
        with self._read("reading the catalog") as session:
            return _catalog.load(session.connection(), series_ids)

    def with_catalog(self, use: Callable[[Iterator[CatalogSeries]], _T]) -> _T:
        """``use(series)`` over the whole catalog, streamed one series at a time in
        one read transaction: building the linker's index from it never holds every
        series' values at once (about 2 KB per episode at 100k episodes)."""
        with self._read("reading the catalog") as session:
            return use(_catalog.stream(session.connection(), None))

    def series_change_times(self) -> dict[int, datetime | None]:
        """Every series' last change (itself or its episodes), by id: what a linker's
        catalog must reload to match the database, whoever stored the change."""
        with self._read("reading series change times") as session:
            return _series.change_times(session.connection())
