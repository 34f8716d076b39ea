"""The store's totals, for /metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from aggregator.storage._base import StorageBase
from aggregator.storage._links import counts_by_relation
from aggregator.storage._models import EPISODE, FEED, REVIEW, SERIES
from aggregator.types import FeedStatus


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Totals for /metrics."""

    feeds_by_status: dict[str, int]
    series: int
    episodes: int
    reviews: int
    links_by_relation: dict[str, int]


class StatsStore(StorageBase):
    """The store's totals."""

    def stats(self) -> StoreStats:
        """Feeds per status, series, episodes, reviews, links per relation."""
        by_status = dict.fromkeys((s.value for s in FeedStatus), 0)
        with self._read("counting the store") as session:
            connection = session.connection()
            rows = connection.execute(select(FEED.c.status, func.count()).group_by(FEED.c.status))
            for status, n in rows:
                by_status[status] = int(n)

            def count(table: Any) -> int:
                query = select(func.count()).select_from(table)
                return int(connection.execute(query).scalar_one())

            return StoreStats(
                feeds_by_status=by_status,
                series=count(SERIES),
                episodes=count(EPISODE),
                reviews=count(REVIEW),
                links_by_relation=counts_by_relation(connection),
            )
