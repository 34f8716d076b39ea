"""The Alembic migrations: from empty, idempotent, and in step with the models."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from aggregator import fingerprint
from aggregator.exceptions import StorageError
from aggregator.reviews.extract import extract_document, extract_html
from aggregator.storage import open_storage
from aggregator.storage._migrate import alembic_config, downgrade_to
from aggregator.storage._models import METADATA
from aggregator.storage._search import is_search_object
from aggregator.types import FeedKind, Match, ReviewDocument, SavedReview
from tests.fakes import T0, episode, feed, ok_update, series

TABLES = {
    "feed", "series", "episode", "review", "link", "web_session", "review_band", "review_source",
    "version_counter",
}  # fmt: skip


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A plain engine on the test database, to look at it from outside storage."""
    plain = create_engine(database_url)
    yield plain
    plain.dispose()


def head() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def versions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def test_migrations_form_one_line() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None
    assert head() == revisions[0].revision


def test_migrate_from_empty_creates_the_tables(database_url: str, engine: Engine) -> None:
    assert inspect(engine).get_table_names() == []
    with open_storage(database_url) as store:
        store.migrate()
    tables = {t for t in inspect(engine).get_table_names() if not is_search_object(t)}
    assert tables == TABLES | {"alembic_version"}
    assert versions(engine) == [head()]


def test_migrate_again_changes_nothing_and_keeps_data(database_url: str, engine: Engine) -> None:
    with open_storage(database_url) as store:
        store.migrate()
        added = store.add_feed("https://a.example/feed", FeedKind.PODCAST, T0)
        store.migrate()
        store.migrate()
        assert store.feeds_page() == [added]
    assert versions(engine) == [head()]


def test_models_and_migrations_agree(database_url: str, engine: Engine) -> None:
    with open_storage(database_url) as store:
        store.migrate()
    with engine.connect() as connection:
        # The full-text search tables and indexes (migration 0003) have no model.
        opts = {
            "compare_type": True,
            "include_name": lambda name, type_, parents: not is_search_object(name),
        }
        context = MigrationContext.configure(connection, opts=opts)
        assert compare_metadata(context, METADATA) == []


def test_downgrade_to_base_removes_the_tables_and_upgrade_restores_them(
    database_url: str, engine: Engine
) -> None:
    with open_storage(database_url) as store:
        store.migrate()
        downgrade_to(store._write_engine, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        assert versions(engine) == []
        store.migrate()
        store.add_feed("https://a.example/feed", FeedKind.PODCAST, T0)
        assert len(store.feeds_page()) == 1


def test_downgrade_to_0001_keeps_podcasts_and_upgrade_derives_plain_text(
    database_url: str, engine: Engine
) -> None:
    with open_storage(database_url) as store:
        store.migrate()
        feed_id = store.add_feed("https://a.example/feed", FeedKind.PODCAST, T0).id
        show = series(description_html="<p>A <b>show</b> &amp; more</p>")
        first = episode(1, description_html="<p>One<br>two &lt;3</p>")
        store.apply_poll(ok_update(feed_id, T0), feed(first, show=show), T0)

        downgrade_to(store._write_engine, "0001")
        assert set(inspect(engine).get_table_names()) == {
            "feed",
            "series",
            "episode",
            "alembic_version",
        }
        columns = {c["name"] for c in inspect(engine).get_columns("episode")}
        assert "description_text" not in columns
        assert versions(engine) == ["0001"]
        with engine.connect() as connection:  # not cascaded away with a dropped column
            guids = connection.execute(text("SELECT guid FROM episode")).scalars().all()
        assert guids == ["urn:show:1"]

        store.migrate()
        with engine.connect() as connection:
            texts = connection.execute(
                text(
                    "SELECT s.description_text, e.description_text "
                    "FROM series s JOIN episode e ON e.series_id = s.id"
                )
            ).all()
        # By hand from html_to_text's rules: blocks and <br> become line breaks.
        assert texts == [("A show & more", "One\ntwo <3")]


def test_instances_migrating_at_once_do_not_collide(database_url: str, engine: Engine) -> None:
    errors: list[BaseException] = []
    stores = [open_storage(database_url) for _ in range(3)]

    def migrate(index: int) -> None:
        try:
            stores[index].migrate()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=migrate, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert versions(engine) == [head()]


def test_database_from_a_newer_version_is_a_storage_error(
    database_url: str, engine: Engine
) -> None:
    with open_storage(database_url) as store:
        store.migrate()
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        with pytest.raises(StorageError, match="9999_future"):
            store.migrate()


def test_the_fast_path_knows_the_newest_revision() -> None:
    """storage skips Alembic when the database says HEAD: HEAD must be Alembic's head."""
    from alembic.script import ScriptDirectory

    from aggregator.storage import _migrate

    scripts = ScriptDirectory.from_config(_migrate.alembic_config())
    assert scripts.get_current_head() == _migrate.HEAD


def test_downgrade_to_0004_drops_only_the_sessions(database_url: str, engine: Engine) -> None:
    with open_storage(database_url) as store:
        store.migrate()
        store.add_feed("https://a.example/feed", FeedKind.PODCAST, T0)
        store.add_web_session("key", now=T0, expires=T0 + timedelta(hours=1))
        downgrade_to(store._write_engine, "0005")
        downgrade_to(store._write_engine, "0004")
        remaining = {t for t in inspect(engine).get_table_names() if not is_search_object(t)}
        # 0006's review copies went first, on the way down to 0005.
        later = {"web_session", "review_band", "review_source", "version_counter"}
        assert remaining == TABLES - later | {"alembic_version"}
        # Read by hand: the models are the newest schema's, whose lease columns 0007 adds.
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM feed")).scalar() == 1
        store.migrate()
        assert not store.web_session_alive("key", T0)  # sessions are not kept across
        store.add_web_session("key", now=T0, expires=T0 + timedelta(hours=1))
        assert store.web_session_alive("key", T0)


def test_downgrade_to_0007_drops_only_the_review_lease_process(
    database_url: str, engine: Engine
) -> None:
    with open_storage(database_url) as store:
        store.migrate()
        document = ReviewDocument(text="a review of a podcast", url="https://r.example/1")
        store.save_review(document, content_hash="h", source="file", now=T0)
        store.claim_reviews_needing_link(
            "v0", limit=1, now=T0, owner="a", lease_seconds=60, host="h", pid=1
        )
        downgrade_to(store._write_engine, "0007")
        columns = {c["name"] for c in inspect(engine).get_columns("review")}
        assert {"lease_owner", "lease_until"} <= columns
        assert not {"lease_host", "lease_pid"} & columns
        # Read by hand: the models are the newest schema's.
        with engine.connect() as connection:
            assert connection.execute(text("SELECT lease_owner FROM review")).scalar() == "a"
        store.migrate()
        assert versions(engine) == [head()]
        assert store.review_lease_holders(T0, host="h") == []  # the process was dropped
        assert store.review_count() == 1


def test_upgrade_to_0006_gives_stored_reviews_a_source_and_fingerprints(
    database_url: str, engine: Engine
) -> None:
    """Reviews stored before 0006, two copies of one among them, come out with one
    source each, their content hash recomputed, a MinHash and its bands: later copies
    find them; the two copies stay two (nothing is merged by the migration)."""
    copies = Path(__file__).resolve().parent / "data" / "copies"
    item = extract_html((copies / "feed-item.html").read_text(encoding="utf-8")).text
    page = extract_document((copies / "page.html").read_bytes(), filename="page.html").text
    with open_storage(database_url) as store:
        store.migrate()
        feed_id = store.add_feed("https://blog.example/feed", FeedKind.REVIEWS, T0).id
        downgrade_to(store._write_engine, "0005")
        assert "review_source" not in inspect(engine).get_table_names()
        with engine.begin() as connection:
            insert = text(
                "INSERT INTO review (url, text, links, content_hash, source, feed_id, "
                "created_at, updated_at) VALUES (:url, :text, '[]', 'old', :source, :feed, "
                ":at, :at)"
            )
            connection.execute(
                insert,
                [
                    {"url": "https://blog.example/r", "text": item, "source": "feed",
                     "feed": feed_id, "at": T0},
                    {"url": None, "text": page, "source": "file", "feed": None, "at": T0},
                    {"url": None, "text": "Too short to sketch.", "source": "stdin",
                     "feed": None, "at": T0},
                ],
            )  # fmt: skip
        store.migrate()
        assert versions(engine) == [head()]
        with engine.connect() as connection:
            sources = connection.execute(
                text(
                    "SELECT review_id, kind, location, feed_id, content_hash "
                    "FROM review_source ORDER BY review_id"
                )
            ).all()
            reviews = connection.execute(
                text("SELECT id, content_hash, minhash IS NOT NULL FROM review ORDER BY id")
            ).all()
            bands = connection.execute(
                text("SELECT review_id, count(*) FROM review_band GROUP BY review_id ORDER BY 1")
            ).all()
        ids = [r[0] for r in reviews]
        hashes = [fingerprint.content_hash(t) for t in (item, page, "Too short to sketch.")]
        assert [r[1] for r in reviews] == hashes
        assert [bool(r[2]) for r in reviews] == [True, True, False]  # too short: no MinHash
        assert sources == [
            (ids[0], "feed", "https://blog.example/r", feed_id, hashes[0]),
            (ids[1], "file", "", None, hashes[1]),
            (ids[2], "stdin", "", None, hashes[2]),
        ]
        assert bands == [(ids[0], 32), (ids[1], 32)]
        assert store.review_count() == 3

        # A copy arriving now finds them: the item's text by its hash, another copy
        # by its bands.
        def save(body: str) -> SavedReview:
            document = ReviewDocument(text=body)
            return store.save_review(
                document,
                content_hash=fingerprint.content_hash(body),
                sketch=fingerprint.sketch(body),
                source="stdin",
                now=T0,
            )

        again = save(item)
        assert (again.review.id, again.match) == (ids[0], Match.TEXT)
        republished = (copies / "republished.txt").read_text(encoding="utf-8")
        assert save(republished).match is Match.NEAR_TEXT
        assert store.review_count() == 3
