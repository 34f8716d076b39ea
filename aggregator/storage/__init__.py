"""Storage: the only part of aggregator that talks SQL (SQLite or PostgreSQL).

``open_storage(url)`` gives a ``Storage``; ``Storage.migrate()`` brings the schema to
the newest Alembic revision. Feeds, series and episodes, reviews and their links, and
the linker's catalog: everything goes in and comes out as the typed values of
``aggregator.types``; every database failure is raised as ``StorageError``.
"""

from aggregator.storage._combined import FeedVersion
from aggregator.storage._episodes import EpisodeRow
from aggregator.storage._reviews import AuthorCount, ReviewSummary
from aggregator.storage._series import SeriesRow
from aggregator.storage._stats import StoreStats
from aggregator.storage._storage import Storage, database_name, open_storage
from aggregator.storage._versions import DataVersion

__all__ = [
    "AuthorCount",
    "DataVersion",
    "EpisodeRow",
    "FeedVersion",
    "ReviewSummary",
    "SeriesRow",
    "Storage",
    "StoreStats",
    "database_name",
    "open_storage",
]
