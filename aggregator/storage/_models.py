"""The tables, declared once in SQLAlchemy Core.

Tables and Core statements, not mapped classes: the public methods turn rows into the
records of ``aggregator.types``, and a command that only reads the store imports
neither an ORM nor pydantic models for the tables (SQLModel's classes and
SQLAlchemy's ORM cost every such command about 0.2 s CPU, bench/cli_startup.py).
The migrations in ``aggregator/migrations/versions`` create exactly these tables
(``tests/test_migrations.py`` compares the two), so a change here needs a new
migration. A new table is a new ``Table`` here plus a new migration file;
``METADATA`` picks it up for Alembic's autogenerate.

Strings are ``Text`` (PostgreSQL's natural string type, and SQLite does not care);
enum values are stored as their short strings so that adding a value needs no
migration. Every datetime column is ``UTCDateTime``. Defaults are Python-side (an
INSERT that leaves a column out gets them); the database itself has none.

``description_text`` (series, episode) is the description as plain text, derived
from the HTML when the row is written: the linker reads every episode's text when
it builds its catalog, and converting 100k descriptions there cost ~12 s (116 µs
each, measured on the real feeds in ``shared/data/feeds/real``). NULL means not
derived yet; the catalog then converts on the fly.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

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


FEED = Table(
    "feed",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False, unique=True),
    # As the user gave it; kept when the feed moves.
    Column("added_url", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("content_hash", Text),
    Column("last_polled_at", UTCDateTime),
    Column("next_poll_at", UTCDateTime, index=True),
    Column("error_count", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    Column("warning", Text),
    Column("note", Text),
    Column("http_status", Integer),
    Column("title", Text),
    # Publishing rhythm and <ttl> from the last changed document (see feeds/decide.py).
    Column("typical_gap_minutes", Float),
    Column("newest_published_at", UTCDateTime),
    Column("ttl_minutes", Integer),
    # Claimed by one instance for one poll when several share a PostgreSQL database.
    Column("lease_owner", Text, index=True),
    Column("lease_until", UTCDateTime),
    # The process holding the lease: where its pid means something (host, boot, pid
    # namespace) and the pid, so that a process on that host can tell it is gone.
    Column("lease_host", Text, index=True),
    Column("lease_pid", Integer),
    # "api" for a feed added through the HTTP API: it is fetched with the API's
    # restrictions (http(s) only, no private addresses); None from the config or CLI.
    Column("added_via", String(16)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

SERIES = Table(
    "series",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column(
        "feed_id",
        Integer,
        ForeignKey("feed.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("title", Text, nullable=False),
    Column("author", Text),
    Column("owner_name", Text),
    Column("owner_email", Text),
    Column("description", Text, nullable=False, default=""),
    Column("description_text", Text),
    Column("link", Text),
    Column("image", Text),
    Column("language", Text),
    Column("categories", json_type(), nullable=False, default=list),
    Column("itunes_type", Text),
    Column("podcast_guid", Text),
    Column("persons", json_type(), nullable=False, default=list),
    Column("content_hash", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The series or any of its episodes last changed (new, updated, gone missing):
    # every instance reloads such a series into its linker's catalog.
    Column("changed_at", UTCDateTime),
)

EPISODE = Table(
    "episode",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("series_id", Integer, ForeignKey("series.id", ondelete="CASCADE"), nullable=False),
    Column("guid", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("description_text", Text),
    Column("link", Text),
    Column("published", UTCDateTime),
    Column("enclosure_url", Text),
    Column("enclosure_type", Text),
    # Files over 2 GiB exist (long video episodes); Integer would overflow on PostgreSQL.
    Column("enclosure_length", BigInteger),
    Column("duration_seconds", Integer),
    Column("season", Integer),
    Column("number", Integer),
    Column("episode_type", String(16)),
    Column("image", Text),
    Column("transcript_url", Text),
    Column("chapters_url", Text),
    Column("persons", json_type(), nullable=False, default=list),
    Column("author", Text),
    Column("guid_is_fallback", Boolean, nullable=False, default=False),
    Column("content_hash", Text, nullable=False, default=""),
    Column("item_hash", Text),
    Column("missing_since", UTCDateTime),
    Column("first_seen_at", UTCDateTime, nullable=False),
    # The last change of content, not of marks.
    Column("updated_at", UTCDateTime, nullable=False),
    # Identity of an episode: a changed enclosure URL never makes a second row.
    UniqueConstraint("series_id", "guid"),
    # "Newest first within a series" is the common listing.
    Index("ix_episode_series_id_published", "series_id", "published"),
    # ... and newest first across series (the API's recent episodes).
    Index("ix_episode_published", "published"),
)

REVIEW = Table(
    "review",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("url", Text),
    Column("title", Text),
    Column("author", Text),
    Column("published", UTCDateTime),
    Column("text", Text, nullable=False),
    Column("html", Text),
    Column("links", json_type(), nullable=False, default=list),
    Column("content_hash", Text, nullable=False, index=True),
    # The MinHash signature of the text (aggregator.fingerprint), NUM_PERM unsigned
    # 32-bit values, little-endian; NULL for a text too short to compare that way.
    Column("minhash", LargeBinary),
    Column("source", String(16), nullable=False),  # how it first came (see REVIEW_SOURCE)
    # A reviews feed may go; the reviews it brought stay.
    Column("feed_id", Integer, ForeignKey("feed.id", ondelete="SET NULL"), index=True),
    Column("linker_version", Text),  # None: never linked
    Column("linked_at", UTCDateTime),
    # Claimed by one instance for linking (see FEED's lease_owner), and the process
    # holding the claim (see FEED's lease_host).
    Column("lease_owner", Text),
    Column("lease_until", UTCDateTime),
    Column("lease_host", Text, index=True),
    Column("lease_pid", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Reviews found by their address; several may share one (a forum thread's
    # posts, a directory page's listener reviews: ``_review_save``).
    Index("ix_review_url", "url"),
    # Reviews are listed newest first.
    Index("ix_review_published", "published"),
)

# The LSH band hashes of a review's MinHash: a review sharing one with a new copy is a
# candidate "nearly the same text". In the database rather than in memory, so that
# every instance sharing it finds the same candidates.
REVIEW_BAND = Table(
    "review_band",
    METADATA,
    Column("review_id", Integer, ForeignKey("review.id", ondelete="CASCADE"), primary_key=True),
    Column("band_hash", BigInteger, primary_key=True),
    Index("ix_review_band_band_hash", "band_hash"),
)

# A way the review arrived (a feed's item, a page, a file, stdin, the API), with the
# content hash of the copy it last brought: the same text from it again changes
# nothing, and a source whose copy the review holds may update it in place.
REVIEW_SOURCE = Table(
    "review_source",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("review_id", Integer, ForeignKey("review.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    # The item's link, the page's URL, the file's path; "" when there is none (not
    # NULL: NULLs are distinct in the unique constraint below).
    Column("location", Text, nullable=False),
    Column("feed_id", Integer, ForeignKey("feed.id", ondelete="SET NULL"), index=True),
    Column("content_hash", Text, nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    UniqueConstraint("review_id", "kind", "location"),
    # A review is found by any address it came from.
    Index("ix_review_source_location", "location"),
    # ... and by the text any of its copies had.
    Index("ix_review_source_content_hash", "content_hash"),
)

# A review's link to a series (``episode_id`` NULL) or to one of its episodes.
#
# A unique constraint over a NULL column does not stop duplicates on either backend
# (NULLs are distinct), so identity is ``episode_key``: the episode id, or 0 for the
# series as a whole (ids start at 1). The check keeps the two columns in step.
LINK = Table(
    "link",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("review_id", Integer, ForeignKey("review.id", ondelete="CASCADE"), nullable=False),
    Column(
        "series_id",
        Integer,
        ForeignKey("series.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("episode_id", Integer, ForeignKey("episode.id", ondelete="CASCADE"), index=True),
    Column("episode_key", Integer, nullable=False, default=0),
    Column("relation", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("evidence", json_type(), nullable=False, default=list),
    Column("status", String(16), nullable=False),
    Column("linker_version", Text),  # None: added by hand
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Also the index for "the links of a review" (its leading column).
    UniqueConstraint("review_id", "series_id", "episode_key"),
    CheckConstraint("episode_key = COALESCE(episode_id, 0)", name="episode_key"),
)

# A browser logged in to the web pages, kept here so that every instance on the
# database knows it (``aggregator.web._sessions``).
#
# ``key_hash`` is an HMAC of the session id from the cookie, never the id itself:
# whoever reads this table cannot present any row as a cookie.
WEB_SESSION = Table(
    "web_session",
    METADATA,
    Column("key_hash", Text, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Expired rows are deleted in bulk at each login: the index finds them.
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# How many times each kind of data the service shows has changed: "content" (series,
# episodes, reviews and links: the pages, the API's content) and "feeds" (the feeds as
# the API lists them: when polled, how it went).
#
# Every write transaction adds one to the counters of what it may change, as its last
# statement (``_versions``); leases and logins change neither. The HTTP layer keys the
# answers it keeps by them (``aggregator.httpcache``), whichever process or instance
# wrote.
VERSION_COUNTER = Table(
    "version_counter",
    METADATA,
    Column("name", String(16), primary_key=True),
    Column("value", BigInteger, nullable=False, default=0),
)
