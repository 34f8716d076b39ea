"""The tables, declared once as SQLModel classes.

These classes never leave the storage package: the public methods turn rows into the
records of ``aggregator.types``. The migrations in ``aggregator/migrations/versions``
create exactly these tables (``tests/test_migrations.py`` compares the two), so a
change here needs a new migration. A new table is a new class here plus a new
migration file; ``METADATA`` picks it up for Alembic's autogenerate.

Strings are ``Text`` (PostgreSQL's natural string type, and SQLite does not care);
enum values are stored as their short strings so that adding a value needs no
migration. Every datetime column is ``UTCDateTime``.

``description_text`` (series, episode) is the description as plain text, derived
from the HTML when the row is written: the linker reads every episode's text when
it builds its catalog, and converting 100k descriptions there cost ~12 s (116 µs
each, measured on the real feeds in ``shared/data/feeds/real``). NULL means not
derived yet; the catalog then converts on the fly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from aggregator.storage._types import UTCDateTime, json_type

# Named constraints let later migrations drop or alter them by name, and SQLite's
# batch mode (copy-and-move) needs names to recreate them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

METADATA = MetaData(naming_convention=NAMING_CONVENTION)


class _Table(SQLModel, registry=registry(metadata=METADATA)):
    """Base of our tables: their own metadata, apart from SQLModel's global one."""


class Feed(_Table, table=True):
    __tablename__ = "feed"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_type=Text, unique=True)
    added_url: str = Field(sa_type=Text)  # as the user gave it; kept when the feed moves
    kind: str = Field(sa_type=String(16))
    status: str = Field(sa_type=String(16))
    etag: str | None = Field(default=None, sa_type=Text)
    last_modified: str | None = Field(default=None, sa_type=Text)
    content_hash: str | None = Field(default=None, sa_type=Text)
    last_polled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_poll_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    error_count: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_type=Text)
    last_error_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    warning: str | None = Field(default=None, sa_type=Text)
    note: str | None = Field(default=None, sa_type=Text)
    http_status: int | None = Field(default=None)
    title: str | None = Field(default=None, sa_type=Text)
    # Publishing rhythm and <ttl> from the last changed document (see feeds/decide.py).
    typical_gap_minutes: float | None = Field(default=None)
    newest_published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ttl_minutes: int | None = Field(default=None)
    # Claimed by one instance for one poll when several share a PostgreSQL database.
    lease_owner: str | None = Field(default=None, sa_type=Text, index=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The process holding the lease: where its pid means something (host, boot, pid
    # namespace) and the pid, so that a process on that host can tell it is gone.
    lease_host: str | None = Field(default=None, sa_type=Text, index=True)
    lease_pid: int | None = Field(default=None)
    # "api" for a feed added through the HTTP API: it is fetched with the API's
    # restrictions (http(s) only, no private addresses); None from the config or CLI.
    added_via: str | None = Field(default=None, sa_type=String(16))
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Series(_Table, table=True):
    __tablename__ = "series"

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id", ondelete="CASCADE", unique=True)
    title: str = Field(sa_type=Text)
    author: str | None = Field(default=None, sa_type=Text)
    owner_name: str | None = Field(default=None, sa_type=Text)
    owner_email: str | None = Field(default=None, sa_type=Text)
    description: str = Field(default="", sa_type=Text)
    description_text: str | None = Field(default=None, sa_type=Text)
    link: str | None = Field(default=None, sa_type=Text)
    image: str | None = Field(default=None, sa_type=Text)
    language: str | None = Field(default=None, sa_type=Text)
    categories: list[str] = Field(default_factory=list, sa_type=json_type())
    itunes_type: str | None = Field(default=None, sa_type=Text)
    podcast_guid: str | None = Field(default=None, sa_type=Text)
    persons: list[dict[str, Any]] = Field(default_factory=list, sa_type=json_type())
    content_hash: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # The series or any of its episodes last changed (new, updated, gone missing):
    # every instance reloads such a series into its linker's catalog.
    changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Episode(_Table, table=True):
    __tablename__ = "episode"
    __table_args__ = (
        # Identity of an episode: a changed enclosure URL never makes a second row.
        UniqueConstraint("series_id", "guid"),
        # "Newest first within a series" is the common listing.
        Index("ix_episode_series_id_published", "series_id", "published"),
        # ... and newest first across series (the API's recent episodes).
        Index("ix_episode_published", "published"),
    )

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="series.id", ondelete="CASCADE")
    guid: str = Field(sa_type=Text)
    title: str = Field(sa_type=Text)
    description: str = Field(default="", sa_type=Text)
    description_text: str | None = Field(default=None, sa_type=Text)
    link: str | None = Field(default=None, sa_type=Text)
    published: datetime | None = Field(default=None, sa_type=UTCDateTime)
    enclosure_url: str | None = Field(default=None, sa_type=Text)
    enclosure_type: str | None = Field(default=None, sa_type=Text)
    # Files over 2 GiB exist (long video episodes); Integer would overflow on PostgreSQL.
    enclosure_length: int | None = Field(default=None, sa_type=BigInteger)
    duration_seconds: int | None = Field(default=None)
    season: int | None = Field(default=None)
    number: int | None = Field(default=None)
    episode_type: str | None = Field(default=None, sa_type=String(16))
    image: str | None = Field(default=None, sa_type=Text)
    transcript_url: str | None = Field(default=None, sa_type=Text)
    chapters_url: str | None = Field(default=None, sa_type=Text)
    persons: list[dict[str, Any]] = Field(default_factory=list, sa_type=json_type())
    author: str | None = Field(default=None, sa_type=Text)
    guid_is_fallback: bool = Field(default=False)
    content_hash: str = Field(default="", sa_type=Text)
    item_hash: str | None = Field(default=None, sa_type=Text)
    missing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)  # last change of content, not of marks


class Review(_Table, table=True):
    __tablename__ = "review"
    __table_args__ = (
        # NULLs are distinct in a unique index on SQLite and PostgreSQL alike: any
        # number of reviews without an address, at most one review per address.
        Index("ix_review_url", "url", unique=True),
        # Reviews are listed newest first.
        Index("ix_review_published", "published"),
    )

    id: int | None = Field(default=None, primary_key=True)
    url: str | None = Field(default=None, sa_type=Text)
    title: str | None = Field(default=None, sa_type=Text)
    author: str | None = Field(default=None, sa_type=Text)
    published: datetime | None = Field(default=None, sa_type=UTCDateTime)
    text: str = Field(sa_type=Text)
    html: str | None = Field(default=None, sa_type=Text)
    links: list[dict[str, Any]] = Field(default_factory=list, sa_type=json_type())
    content_hash: str = Field(sa_type=Text, index=True)
    # The MinHash signature of the text (aggregator.fingerprint), NUM_PERM unsigned
    # 32-bit values, little-endian; NULL for a text too short to compare that way.
    minhash: bytes | None = Field(default=None, sa_type=LargeBinary)
    source: str = Field(sa_type=String(16))  # how it first came (see ReviewSource)
    # A reviews feed may go; the reviews it brought stay.
    feed_id: int | None = Field(
        default=None, foreign_key="feed.id", ondelete="SET NULL", index=True
    )
    linker_version: str | None = Field(default=None, sa_type=Text)  # None: never linked
    linked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Claimed by one instance for linking (see Feed.lease_owner).
    lease_owner: str | None = Field(default=None, sa_type=Text)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ReviewBand(_Table, table=True):
    """The LSH band hashes of a review's MinHash: a review sharing one with a new copy
    is a candidate "nearly the same text". In the database rather than in memory, so
    that every instance sharing it finds the same candidates."""

    __tablename__ = "review_band"
    __table_args__ = (Index("ix_review_band_band_hash", "band_hash"),)

    review_id: int = Field(foreign_key="review.id", ondelete="CASCADE", primary_key=True)
    band_hash: int = Field(sa_type=BigInteger, primary_key=True)


class ReviewSource(_Table, table=True):
    """A way the review arrived (a feed's item, a page, a file, stdin, the API), with
    the content hash of the copy it last brought: the same text from it again changes
    nothing, and a source whose copy the review holds may update it in place."""

    __tablename__ = "review_source"
    __table_args__ = (
        UniqueConstraint("review_id", "kind", "location"),
        # A review is found by any address it came from.
        Index("ix_review_source_location", "location"),
        # ... and by the text any of its copies had.
        Index("ix_review_source_content_hash", "content_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", ondelete="CASCADE")
    kind: str = Field(sa_type=String(16))
    # The item's link, the page's URL, the file's path; "" when there is none (not
    # NULL: NULLs are distinct in the unique constraint above).
    location: str = Field(sa_type=Text)
    feed_id: int | None = Field(
        default=None, foreign_key="feed.id", ondelete="SET NULL", index=True
    )
    content_hash: str = Field(sa_type=Text)
    added_at: datetime = Field(sa_type=UTCDateTime)


class Link(_Table, table=True):
    """A review's link to a series (``episode_id`` NULL) or to one of its episodes.

    A unique constraint over a NULL column does not stop duplicates on either backend
    (NULLs are distinct), so identity is ``episode_key``: the episode id, or 0 for the
    series as a whole (ids start at 1). The check keeps the two columns in step.
    """

    __tablename__ = "link"
    __table_args__ = (
        # Also the index for "the links of a review" (its leading column).
        UniqueConstraint("review_id", "series_id", "episode_key"),
        CheckConstraint("episode_key = COALESCE(episode_id, 0)", name="episode_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", ondelete="CASCADE")
    series_id: int = Field(foreign_key="series.id", ondelete="CASCADE", index=True)
    episode_id: int | None = Field(
        default=None, foreign_key="episode.id", ondelete="CASCADE", index=True
    )
    episode_key: int = Field(default=0)
    relation: str = Field(sa_type=String(16))
    score: float
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_type=json_type())
    status: str = Field(sa_type=String(16))
    linker_version: str | None = Field(default=None, sa_type=Text)  # None: added by hand
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class WebSession(_Table, table=True):
    """A browser logged in to the web pages, kept here so that every instance on the
    database knows it (``aggregator.web._sessions``).

    ``key_hash`` is an HMAC of the session id from the cookie, never the id itself:
    whoever reads this table cannot present any row as a cookie.
    """

    __tablename__ = "web_session"

    key_hash: str = Field(sa_type=Text, primary_key=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Expired rows are deleted in bulk at each login: the index finds them.
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class VersionCounter(_Table, table=True):
    """How many times each kind of data the service shows has changed: "content"
    (series, episodes, reviews and links: the pages, the API's content) and "feeds"
    (the feeds as the API lists them: when polled, how it went).

    Every write transaction adds one to the counters of what it may change, as its
    last statement (``_versions``); leases and logins change neither. The HTTP layer
    keys the answers it keeps by them (``aggregator.httpcache``), whichever process
    or instance wrote.
    """

    __tablename__ = "version_counter"

    name: str = Field(sa_type=String(16), primary_key=True)
    value: int = Field(default=0, sa_type=BigInteger)


FEED: Table = METADATA.tables["feed"]
SERIES: Table = METADATA.tables["series"]
EPISODE: Table = METADATA.tables["episode"]
REVIEW: Table = METADATA.tables["review"]
LINK: Table = METADATA.tables["link"]
WEB_SESSION: Table = METADATA.tables["web_session"]
REVIEW_BAND: Table = METADATA.tables["review_band"]
REVIEW_SOURCE: Table = METADATA.tables["review_source"]
VERSION_COUNTER: Table = METADATA.tables["version_counter"]
