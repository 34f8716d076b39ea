"""Merging a poll: a parsed feed into the stored episodes of its series.

The work is split in two: ``plan`` is pure code that compares the parsed episodes with
what is stored and decides every write, and ``write`` carries the plan out with a
handful of Core ``executemany`` statements. Unchanged episodes are not written at all,
so polling an unchanged feed of thousands of items costs one SELECT. Core upserts were
measured here at 100–119k rows/s against 16–22k through ORM sessions. ``prepare``
plans and builds the rows before the write transaction begins (a read), so that
the transaction holds the write lock only for ``write``'s statements.

Identity is (series, guid). An episode that leaves the feed is kept and marked
``missing_since``; one that comes back is unmarked.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects import sqlite

from aggregator.storage._models import EPISODE
from aggregator.storage._series import persons_to_json
from aggregator.storage._sql import in_lists
from aggregator.types import ParsedEpisode, ParsedFeed, StoreCounts

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql

# Columns an incoming episode overwrites; identity, first_seen_at and the marks stay.
_CONTENT_COLUMNS = (
    "title",
    "description",
    "description_text",
    "link",
    "published",
    "enclosure_url",
    "enclosure_type",
    "enclosure_length",
    "duration_seconds",
    "season",
    "number",
    "episode_type",
    "image",
    "transcript_url",
    "chapters_url",
    "persons",
    "author",
    "guid_is_fallback",
    "content_hash",
    "item_hash",
    "updated_at",
)


@dataclass(frozen=True, slots=True)
class Stored:
    """The little we need to know about a stored episode to merge a poll into it.

    ``title`` and ``published`` serve only to rematch an episode that neither a guid
    nor an item hash of the poll claims (``plan``); ``load_stored`` reads them for
    those episodes alone and leaves them empty for the others.
    """

    id: int
    guid: str
    content_hash: str
    item_hash: str | None
    missing_since: datetime | None
    title: str = ""
    published: datetime | None = None


@dataclass(slots=True)
class Plan:
    """Every write one poll needs; built by ``plan`` without touching the database."""

    upserts: list[ParsedEpisode] = field(default_factory=list)  # new or changed, by guid
    rematches: list[tuple[int, ParsedEpisode]] = field(default_factory=list)  # by row id
    touches: list[tuple[int, str | None]] = field(default_factory=list)  # (id, item_hash)
    newly_missing: list[int] = field(default_factory=list)
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def writes(self) -> bool:
        """Whether carrying the plan out changes any row."""
        return bool(self.upserts or self.rematches or self.touches or self.newly_missing)

    def counts(self, series_id: int) -> StoreCounts:
        changed = [e.published for e in self.upserts if e.published is not None]
        changed += [e.published for _, e in self.rematches if e.published is not None]
        return StoreCounts(
            new=self.new,
            updated=self.updated,
            unchanged=self.unchanged,
            missing=len(self.newly_missing),
            series_id=series_id,
            changed_since=min(changed, default=None),
        )


def load_stored(connection: Connection, series_id: int, parsed: ParsedFeed) -> list[Stored]:
    """The series' stored episodes as ``plan`` needs them for merging ``parsed``."""
    query = select(
        EPISODE.c.id,
        EPISODE.c.guid,
        EPISODE.c.content_hash,
        EPISODE.c.item_hash,
        EPISODE.c.missing_since,
    ).where(EPISODE.c.series_id == series_id)
    stored = [Stored(*row) for row in connection.execute(query)]
    # Titles and dates only where plan may rematch: reading and converting them for
    # every episode was a fifth of the CPU of re-polling a 3,000-item feed with one
    # new episode (bench/poll), where almost every episode is claimed by its hash.
    incoming = {e.guid for e in parsed.episodes}
    unclaimed = [
        s.id
        for s in stored
        if s.guid not in incoming and (parsed.complete or s.item_hash not in parsed.item_hashes)
    ]
    keys: dict[int, tuple[str, datetime | None]] = {}
    for chunk in in_lists(unclaimed):
        rows = connection.execute(
            select(EPISODE.c.id, EPISODE.c.title, EPISODE.c.published).where(
                EPISODE.c.id.in_(chunk)
            )
        )
        keys.update((row.id, (row.title, row.published)) for row in rows)
    return [
        replace(s, title=keys[s.id][0], published=keys[s.id][1]) if s.id in keys else s
        for s in stored
    ]


def _same_day_key(title: str, published: datetime | None) -> tuple[str, date | None]:
    return title.strip(), published.astimezone(UTC).date() if published else None


def plan(stored: Iterable[Stored], parsed: ParsedFeed) -> Plan:
    """Decide which parsed episodes are new, changed or unchanged, and what went missing."""
    result = Plan()
    by_guid = {s.guid: s for s in stored}
    incoming = _first_per_guid(parsed.episodes)
    present: set[int] = set()
    if not parsed.complete:
        # An incremental parse leaves out items whose raw bytes we already know; the
        # document still holds them if their raw hash is among the item hashes.
        present.update(s.id for s in by_guid.values() if s.item_hash in parsed.item_hashes)

    # A fallback guid (usually the enclosure URL) changes when the enclosure moves;
    # such an item may claim a stored episode of the same title and day that no
    # incoming guid claims, instead of becoming a second copy of it.
    rematchable: dict[tuple[str, date | None], list[Stored]] = {}
    for s in by_guid.values():
        if s.guid not in incoming and s.id not in present:
            rematchable.setdefault(_same_day_key(s.title, s.published), []).append(s)

    for guid, episode in incoming.items():
        known = by_guid.get(guid)
        if known is None and episode.guid_is_fallback:
            candidates = rematchable.get(_same_day_key(episode.title, episode.published))
            if candidates:
                match = candidates.pop(0)
                present.add(match.id)
                result.rematches.append((match.id, episode))
                result.updated += 1
                continue
        if known is None:
            result.upserts.append(episode)
            result.new += 1
            continue
        present.add(known.id)
        # An empty content hash means "not computed": write rather than miss a change.
        if not episode.content_hash or episode.content_hash != known.content_hash:
            result.upserts.append(episode)
            result.updated += 1
            continue
        result.unchanged += 1
        hash_moved = episode.item_hash is not None and episode.item_hash != known.item_hash
        if hash_moved or known.missing_since is not None:
            new_hash = episode.item_hash if hash_moved else known.item_hash
            result.touches.append((known.id, new_hash))

    handled = {i for i, _ in result.rematches} | {i for i, _ in result.touches}
    for s in by_guid.values():
        if s.id in present:
            if s.guid not in incoming and s.id not in handled:
                # Left out of an incremental parse because its raw bytes are known:
                # unchanged, and back in the document if it had gone missing.
                result.unchanged += 1
                if s.missing_since is not None:
                    result.touches.append((s.id, s.item_hash))
        elif s.missing_since is None:
            result.newly_missing.append(s.id)
    return result


def _first_per_guid(episodes: Iterable[ParsedEpisode]) -> dict[str, ParsedEpisode]:
    # Feeds do repeat a guid; the first (topmost, usually newest) item wins, and one
    # statement never touches the same row twice.
    first: dict[str, ParsedEpisode] = {}
    for episode in episodes:
        first.setdefault(episode.guid, episode)
    return first


def _row(episode: ParsedEpisode, now: datetime) -> dict[str, Any]:
    # Imported by the writes that need it: html.parser and nh3 cost a command that
    # only reads the store ~4 ms CPU (bench/cli_startup.py).
    from aggregator.sanitize import html_to_text

    enclosure = episode.enclosure
    return {
        "guid": episode.guid,
        "title": episode.title,
        "description": episode.description_html,
        # Derived once here, where only new and changed episodes pass, rather than
        # each time the linker reads the catalog (see _models).
        "description_text": html_to_text(episode.description_html),
        "link": episode.link,
        "published": episode.published,
        "enclosure_url": enclosure.url if enclosure else None,
        "enclosure_type": enclosure.type if enclosure else None,
        "enclosure_length": enclosure.length if enclosure else None,
        "duration_seconds": episode.duration_seconds,
        "season": episode.season,
        "number": episode.number,
        "episode_type": episode.episode_type,
        "image": episode.image,
        "transcript_url": episode.transcript_url,
        "chapters_url": episode.chapters_url,
        "persons": persons_to_json(episode.persons),
        "author": episode.author,
        "guid_is_fallback": episode.guid_is_fallback,
        "content_hash": episode.content_hash,
        "item_hash": episode.item_hash,
        "missing_since": None,
        "first_seen_at": now,
        "updated_at": now,
    }


@dataclass(frozen=True, slots=True)
class Prepared:
    """A poll's episode writes, worked out before its write transaction begins.

    The transaction then only runs statements: planning and building the rows (the
    plain text of every description included) took a fifth of the time a SQLite
    poll of 100k items held the write lock, while other polls queued behind it.
    ``state`` is the series as the plan found it, ``(id, changed_at)`` or None before
    the first poll; the plan holds while the series still is so (``_series.state``).
    """

    state: tuple[int, datetime | None] | None
    plan: Plan
    upsert_rows: list[dict[str, Any]]  # the rows of ``plan.upserts``, without series_id
    rematch_rows: list[tuple[int, dict[str, Any]]]  # (episode id, row) of plan.rematches


def prepare(
    connection: Connection,
    state: tuple[int, datetime | None] | None,
    parsed: ParsedFeed,
    now: datetime,
) -> Prepared:
    """Plan the merge of ``parsed`` into the series in ``state`` and build its rows."""
    todo = plan(load_stored(connection, state[0], parsed) if state else [], parsed)
    return Prepared(
        state,
        todo,
        [_row(e, now) for e in todo.upserts],
        [(i, _row(e, now)) for i, e in todo.rematches],
    )


def write(connection: Connection, series_id: int, prepared: Prepared, now: datetime) -> None:
    """Carry out a plan: at most one executemany per kind of write."""
    todo = prepared.plan
    if prepared.upsert_rows:
        _upsert(connection, [{**row, "series_id": series_id} for row in prepared.upsert_rows])
    if prepared.rematch_rows:
        _rematch(connection, prepared.rematch_rows)
    if todo.touches:
        # Still the same episode: refresh the raw hash and clear a missing mark, but
        # leave updated_at, which says when the content last changed.
        touch = (
            update(EPISODE)
            .where(EPISODE.c.id == bindparam("b_id"))
            .values(item_hash=bindparam("b_item_hash"), missing_since=None)
        )
        connection.execute(touch, [{"b_id": i, "b_item_hash": h} for i, h in todo.touches])
    if todo.newly_missing:
        mark = (
            update(EPISODE)
            .where(EPISODE.c.id == bindparam("b_id"))
            .values(missing_since=bindparam("b_now"))
        )
        connection.execute(mark, [{"b_id": i, "b_now": now} for i in todo.newly_missing])


def _upsert(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (series_id, guid) DO UPDATE, as one executemany."""
    connection.execute(_upsert_statement(connection.dialect.name), rows)


@functools.cache
def _upsert_statement(dialect: str) -> postgresql.Insert | sqlite.Insert:
    # Built once: building it (a column object per overwritten column) cost more than
    # the executemany of a small feed's first poll. Only the dialect in use is imported:
    # PostgreSQL's cost every command on SQLite about 0.03 s CPU (bench/cli_startup.py).
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        stmt: postgresql.Insert | sqlite.Insert = postgresql_insert(EPISODE)
    else:
        stmt = sqlite.insert(EPISODE)
    overwrite = {name: stmt.excluded[name] for name in (*_CONTENT_COLUMNS, "missing_since")}
    return stmt.on_conflict_do_update(
        index_elements=[EPISODE.c.series_id, EPISODE.c.guid], set_=overwrite
    )


def _rematch(connection: Connection, rows: list[tuple[int, dict[str, Any]]]) -> None:
    """Rewrite stored episodes by id; each takes its new guid, found by guid next time."""
    names = ("guid", "missing_since", *_CONTENT_COLUMNS)
    values: dict[str, Any] = {name: bindparam(f"b_{name}") for name in names}
    stmt = update(EPISODE).where(EPISODE.c.id == bindparam("b_id")).values(values)
    params = [{"b_id": i, **{f"b_{n}": row[n] for n in names}} for i, row in rows]
    connection.execute(stmt, params)
