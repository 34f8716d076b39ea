"""The storage facade: one class over the per-domain stores, and ``open_storage``."""

from __future__ import annotations

from aggregator.storage._catalog import CatalogStore
from aggregator.storage._combined import CombinedFeedStore
from aggregator.storage._engine import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    make_engines,
    parse_url,
    storage_errors,
    where,
)
from aggregator.storage._episodes import EpisodeStore
from aggregator.storage._feeds import FeedStore
from aggregator.storage._leases import LeaseStore
from aggregator.storage._links import LinkStore
from aggregator.storage._polls import PollStore
from aggregator.storage._relink import RelinkStore
from aggregator.storage._review_save import ReviewSaveStore
from aggregator.storage._reviews import ReviewStore
from aggregator.storage._series import SeriesStore
from aggregator.storage._sessions import SessionStore
from aggregator.storage._stats import StatsStore


def database_name(database_url: str) -> str:
    """The database as our messages name it: a SQLite file's path, or the URL without
    its password."""
    return where(parse_url(database_url))


def open_storage(
    database_url: str,
    *,
    read_only: bool = False,
    busy_timeout_seconds: float = SQLITE_BUSY_TIMEOUT_SECONDS,
) -> Storage:
    """Open (not migrate) the database at ``database_url``.

    ``sqlite:///path/to/file.db`` (the directory is created; WAL mode, foreign keys
    on, writers wait for each other: ``busy_timeout_seconds`` at a time, ten times)
    or ``postgresql+psycopg://user@host/db``. No connection is made until the first
    call. ``read_only``: the caller will only read; a SQLite file must exist then,
    and is read even where we may not write.
    """
    url = parse_url(database_url)
    with storage_errors(f"cannot open {url.render_as_string(hide_password=True)}"):
        reads, writes = make_engines(
            url, read_only=read_only, busy_timeout_seconds=busy_timeout_seconds
        )
    return Storage(reads, writes, where=where(url))


class Storage(
    FeedStore,
    LeaseStore,
    PollStore,
    SeriesStore,
    EpisodeStore,
    CatalogStore,
    ReviewStore,
    ReviewSaveStore,
    RelinkStore,
    LinkStore,
    CombinedFeedStore,
    StatsStore,
    SessionStore,
):
    """Feeds, series, episodes, reviews and links in SQLite or PostgreSQL, and the
    web pages' login sessions.

    Safe to share between threads: each call takes its own connection from the pool
    and holds it only for that call. Every datetime in and out is aware UTC. The
    methods live in one module per domain, each with its SQL (``_feeds``,
    ``_leases``, ``_polls``, ``_series``, ``_episodes``, ``_catalog``, ``_reviews``,
    ``_review_save``, ``_relink``, ``_links``, ``_combined``, ``_stats``,
    ``_sessions``), over ``_base.StorageBase``.
    """
