"""Storage against a fresh SQLite file, and against PostgreSQL when configured."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event

from aggregator.exceptions import AlreadyExistsError, NotFoundError, StorageError
from aggregator.storage import EpisodeRow, Storage, open_storage
from aggregator.types import (
    Enclosure,
    FeedKind,
    FeedStatus,
    Person,
    StoreCounts,
    Validators,
)
from tests.fakes import T0, episode, feed, ok_update, series
from tests.stored import episode_records, series_records

URL = "https://show.example/feed.xml"


def add(storage: Storage, url: str = URL, at: datetime = T0) -> int:
    return storage.add_feed(url, FeedKind.PODCAST, at).id


def by_guid(storage: Storage) -> dict[str, Any]:
    return {e.guid: e for e in episode_records(storage)}


@contextmanager
def recorded_writes(storage: Storage) -> Iterator[list[str]]:
    """Every INSERT/UPDATE/DELETE sent to the database inside the block."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if re.match(r"\s*(INSERT|UPDATE|DELETE)\b", statement, re.IGNORECASE):
            statements.append(" ".join(statement.split()))

    engine = storage._engine  # white-box: the only way to see statements
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def touching(statements: list[str], table: str) -> list[str]:
    pattern = re.compile(rf"(INSERT INTO|UPDATE|DELETE FROM) {table}\b", re.IGNORECASE)
    return [s for s in statements if pattern.match(s)]


# --- feeds -------------------------------------------------------------------------


def test_add_feed_returns_a_new_active_feed_due_now(storage: Storage) -> None:
    added = storage.add_feed(URL, FeedKind.REVIEWS, T0)
    assert added.url == URL
    assert added.added_url == URL
    assert added.kind is FeedKind.REVIEWS
    assert added.status is FeedStatus.ACTIVE
    assert added.next_poll_at is None
    assert added.error_count == 0
    assert added.created_at == T0
    assert storage.get_feed(added.id) == added


def test_add_feed_twice_raises_already_exists(storage: Storage) -> None:
    add(storage)
    with pytest.raises(AlreadyExistsError):
        add(storage)
    assert len(storage.feeds_page()) == 1


def test_add_feed_refuses_the_old_url_of_a_feed_that_moved(storage: Storage) -> None:
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0, url="https://new.example/feed"), None, T0)
    with pytest.raises(AlreadyExistsError):
        add(storage, URL)


def test_ensure_feed_creates_once_then_finds(storage: Storage) -> None:
    first, created = storage.ensure_feed(URL, FeedKind.PODCAST, T0)
    again, created_again = storage.ensure_feed(URL, FeedKind.PODCAST, T0 + timedelta(days=1))
    assert (created, created_again) == (True, False)
    assert again == first
    assert len(storage.feeds_page()) == 1


def test_ensure_feed_finds_a_moved_feed_by_the_url_it_was_added_as(storage: Storage) -> None:
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0, url="https://new.example/feed"), None, T0)
    found, created = storage.ensure_feed(URL, FeedKind.PODCAST, T0)
    assert not created
    assert found.id == feed_id
    assert found.url == "https://new.example/feed"


def test_find_feed_by_id_url_and_added_url(storage: Storage) -> None:
    other = add(storage, "https://other.example/rss")
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0, url="https://new.example/feed"), None, T0)
    assert storage.find_feed(str(feed_id)).id == feed_id
    assert storage.find_feed(f" {feed_id} ").id == feed_id
    assert storage.find_feed("https://new.example/feed").id == feed_id
    assert storage.find_feed(URL).id == feed_id
    assert storage.find_feed("https://other.example/rss").id == other


def test_find_and_get_unknown_feed_raise_not_found(storage: Storage) -> None:
    add(storage)
    with pytest.raises(NotFoundError):
        storage.find_feed("https://nowhere.example/")
    with pytest.raises(NotFoundError):
        storage.find_feed("999")
    with pytest.raises(NotFoundError):
        storage.get_feed(999)


def test_feeds_page_in_the_order_added(storage: Storage) -> None:
    urls = ["https://b.example/", "https://a.example/", "https://c.example/"]
    for url in urls:
        add(storage, url)
    assert [f.url for f in storage.feeds_page()] == urls


def test_remove_feed_deletes_its_series_and_episodes_only(storage: Storage) -> None:
    gone = add(storage)
    kept = add(storage, "https://kept.example/")
    storage.apply_poll(ok_update(gone, T0), feed(episode(1), episode(2)), T0)
    storage.apply_poll(ok_update(kept, T0), feed(episode(3), show=series("Kept")), T0)

    storage.remove_feed(gone)

    assert [f.id for f in storage.feeds_page()] == [kept]
    assert [s.title for s in series_records(storage)] == ["Kept"]
    assert [e.guid for e in episode_records(storage)] == ["urn:show:3"]
    with pytest.raises(NotFoundError):
        storage.remove_feed(gone)


def test_due_feeds_never_polled_first_then_most_overdue(storage: Storage) -> None:
    now = T0 + timedelta(days=10)
    late = add(storage, "https://late.example/")
    fresh = add(storage, "https://fresh.example/")
    later = add(storage, "https://later.example/")
    on_time = add(storage, "https://ontime.example/")
    future = add(storage, "https://future.example/")
    gone = add(storage, "https://gone.example/")
    for feed_id, next_poll in [
        (late, now - timedelta(hours=5)),
        (later, now - timedelta(hours=1)),
        (on_time, now),
        (future, now + timedelta(seconds=1)),
        (gone, now - timedelta(days=3)),
    ]:
        status = FeedStatus.GONE if feed_id == gone else FeedStatus.ACTIVE
        update = ok_update(feed_id, T0, next_poll_at=next_poll, status=status)
        storage.apply_poll(update, None, T0)

    due = [f.id for f in storage.due_feeds(now, limit=10)]
    assert due == [fresh, late, later, on_time]
    assert [f.id for f in storage.due_feeds(now, limit=2)] == [fresh, late]


def test_failing_feeds_stay_due(storage: Storage) -> None:
    feed_id = add(storage)
    update = ok_update(feed_id, T0, status=FeedStatus.FAILING, last_error="timeout")
    storage.apply_poll(update, None, T0)
    assert [f.id for f in storage.due_feeds(T0 + timedelta(hours=2), limit=5)] == [feed_id]


# --- the feed's state after a poll -------------------------------------------------


def test_poll_writes_feed_state(storage: Storage) -> None:
    feed_id = add(storage)
    polled = T0 + timedelta(minutes=3)
    update = ok_update(
        feed_id,
        polled,
        validators=Validators(etag='"v1"', last_modified="Mon, 05 Jan 2026 12:00:00 GMT"),
        content_hash="doc-1",
        warning="recovered from a broken document",
        note="first poll",
    )
    storage.apply_poll(update, None, polled)
    got = storage.get_feed(feed_id)
    assert got.last_polled_at == polled
    assert got.next_poll_at == polled + timedelta(hours=1)
    assert got.validators == Validators('"v1"', "Mon, 05 Jan 2026 12:00:00 GMT")
    assert got.content_hash == "doc-1"
    assert got.warning == "recovered from a broken document"
    assert got.note == "first poll"
    assert got.status is FeedStatus.ACTIVE


def test_failed_poll_keeps_validators_hash_and_note(storage: Storage) -> None:
    feed_id = add(storage)
    ok = ok_update(feed_id, T0, validators=Validators(etag="e1"), content_hash="doc-1", note="kept")
    storage.apply_poll(ok, feed(episode(1)), T0)
    failed_at = T0 + timedelta(hours=1)
    failed = ok_update(
        feed_id,
        failed_at,
        status=FeedStatus.FAILING,
        error_count=1,
        last_error="HTTP 503",
        next_poll_at=failed_at + timedelta(minutes=30),
    )
    assert storage.apply_poll(failed, None, failed_at) == StoreCounts()

    got = storage.get_feed(feed_id)
    assert got.validators == Validators(etag="e1")
    assert got.content_hash == "doc-1"
    assert got.note == "kept"
    assert got.status is FeedStatus.FAILING
    assert (got.error_count, got.last_error) == (1, "HTTP 503")
    assert got.last_polled_at == failed_at
    assert len(episode_records(storage)) == 1  # a failure touches no content

    recovered = ok_update(feed_id, failed_at + timedelta(hours=1))
    storage.apply_poll(recovered, None, failed_at + timedelta(hours=1))
    got = storage.get_feed(feed_id)
    assert (got.error_count, got.last_error, got.status) == (0, None, FeedStatus.ACTIVE)


def test_moved_feed_takes_the_new_url(storage: Storage) -> None:
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0, url="https://new.example/feed"), None, T0)
    got = storage.get_feed(feed_id)
    assert got.url == "https://new.example/feed"
    assert got.added_url == URL


def test_move_onto_another_feeds_url_keeps_the_old_url_with_a_note(storage: Storage) -> None:
    taken = "https://taken.example/feed"
    other = add(storage, taken)
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0, url=taken, note="moved (301)"), None, T0)
    got = storage.get_feed(feed_id)
    assert got.url == URL
    assert got.note is not None
    assert taken in got.note
    assert f"feed {other}" in got.note
    assert storage.get_feed(other).url == taken


def test_poll_of_unknown_feed_raises_not_found(storage: Storage) -> None:
    with pytest.raises(NotFoundError):
        storage.apply_poll(ok_update(42, T0), feed(episode(1)), T0)
    assert series_records(storage) == []


# --- episodes ----------------------------------------------------------------------


def test_first_poll_inserts_series_and_every_episode(storage: Storage) -> None:
    feed_id = add(storage)
    host = Person(name="Ann Host", role="host", href="https://ann.example/")
    show = series(
        "The Show",
        author="Ann Host",
        description_html="<p>Weekly.</p>",
        link="https://show.example/",
        image="https://show.example/art.jpg",
        language="en",
        categories=("News", "Politics"),
        itunes_type="serial",
        podcast_guid="917393e3-1b1e-5cef-ace4-edaa54e1f810",
        persons=(host,),
    )
    first = episode(1, persons=(host, Person(name="Guest")), season=2, image="https://i/1.jpg")
    second = episode(2, transcript_url="https://t/2.vtt", chapters_url="https://c/2.json")
    counts = storage.apply_poll(ok_update(feed_id, T0), feed(second, first, show=show), T0)
    assert counts == StoreCounts(new=2, updated=0, unchanged=0, missing=0)

    [stored_series] = series_records(storage)
    assert stored_series.feed_id == feed_id
    assert stored_series.feed_url == URL
    assert stored_series.episode_count == 2
    assert stored_series.title == "The Show"
    assert stored_series.author == "Ann Host"
    assert stored_series.description_html == "<p>Weekly.</p>"
    assert stored_series.categories == ("News", "Politics")
    assert stored_series.itunes_type == "serial"
    assert stored_series.podcast_guid == "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    assert stored_series.persons == (host,)
    assert storage.series_row(stored_series.id).series == stored_series
    assert storage.get_feed(feed_id).title == "The Show"

    newest, oldest = episode_records(storage, stored_series.id)
    assert newest.guid == "urn:show:2"
    assert newest.transcript_url == "https://t/2.vtt"
    assert newest.chapters_url == "https://c/2.json"
    assert oldest.title == "Episode 1"
    assert oldest.description_html == "<p>About episode 1.</p>"
    assert oldest.link == "https://show.example/1"
    assert oldest.published == datetime(2026, 1, 12, 12, 0, tzinfo=UTC)
    assert oldest.enclosure == Enclosure("https://cdn.example/ep1.mp3", "audio/mpeg", 1_000)
    assert (oldest.duration_seconds, oldest.season, oldest.number) == (60, 2, 1)
    assert oldest.episode_type == "full"
    assert oldest.image == "https://i/1.jpg"
    assert oldest.persons == (host, Person(name="Guest"))
    assert oldest.missing_since is None
    assert oldest.series_id == stored_series.id


def test_second_identical_poll_writes_no_episode_or_series(storage: Storage) -> None:
    feed_id = add(storage)
    parsed = feed(episode(1), episode(2), episode(3))
    storage.apply_poll(ok_update(feed_id, T0), parsed, T0)
    before = episode_records(storage)

    later = T0 + timedelta(hours=1)
    with recorded_writes(storage) as writes:
        counts = storage.apply_poll(ok_update(feed_id, later), parsed, later)

    assert counts == StoreCounts(new=0, updated=0, unchanged=3, missing=0)
    assert touching(writes, "feed"), "the feed's poll state is written every time"
    assert touching(writes, "episode") == []
    assert touching(writes, "series") == []
    assert episode_records(storage) == before


def test_changed_episode_is_updated_in_place(storage: Storage) -> None:
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0), feed(episode(1), episode(2)), T0)
    ids = {e.guid: e.id for e in episode_records(storage)}

    renamed = episode(2, title="Episode 2: the real title")
    later = T0 + timedelta(hours=1)
    with recorded_writes(storage) as writes:
        counts = storage.apply_poll(ok_update(feed_id, later), feed(episode(1), renamed), later)

    assert counts == StoreCounts(new=0, updated=1, unchanged=1, missing=0)
    assert len(touching(writes, "episode")) == 1  # one executemany for the one change
    episodes = by_guid(storage)
    assert episodes["urn:show:2"].title == "Episode 2: the real title"
    assert episodes["urn:show:2"].id == ids["urn:show:2"]
    assert len(episodes) == 2


def test_new_enclosure_with_a_real_guid_updates_the_same_row(storage: Storage) -> None:
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0), feed(episode(1)), T0)
    [before] = episode_records(storage)

    moved = episode(1, enclosure=Enclosure("https://newcdn.example/1.mp3", "audio/mpeg", 5))
    counts = storage.apply_poll(ok_update(feed_id, T0), feed(moved), T0)

    assert counts.updated == 1
    [after] = episode_records(storage)
    assert after.id == before.id
    assert after.enclosure == Enclosure("https://newcdn.example/1.mp3", "audio/mpeg", 5)


def fallback(n: int, mp3: str, **overrides: Any) -> Any:
    """An item without a guid: the parser falls back to its enclosure URL."""
    enclosure = Enclosure(mp3, "audio/mpeg", 100)
    return episode(n, guid=mp3, guid_is_fallback=True, enclosure=enclosure, **overrides)


def test_fallback_guid_episode_with_a_new_enclosure_keeps_its_row(storage: Storage) -> None:
    feed_id = add(storage)
    old = fallback(1, "https://cdn.example/a.mp3")
    storage.apply_poll(ok_update(feed_id, T0), feed(old, episode(2)), T0)
    before = by_guid(storage)["https://cdn.example/a.mp3"]

    new = fallback(1, "https://cdn2.example/a.mp3")
    counts = storage.apply_poll(ok_update(feed_id, T0), feed(new, episode(2)), T0)

    assert counts == StoreCounts(new=0, updated=1, unchanged=1, missing=0)
    episodes = by_guid(storage)
    assert set(episodes) == {"https://cdn2.example/a.mp3", "urn:show:2"}
    after = episodes["https://cdn2.example/a.mp3"]
    assert after.id == before.id
    assert after.enclosure is not None
    assert after.enclosure.url == "https://cdn2.example/a.mp3"
    assert after.missing_since is None

    # Found by its new guid next time: nothing to write.
    again = storage.apply_poll(ok_update(feed_id, T0), feed(new, episode(2)), T0)
    assert again == StoreCounts(unchanged=2)


def test_fallback_guid_episode_with_another_title_is_a_new_episode(storage: Storage) -> None:
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0), feed(fallback(1, "https://cdn/a.mp3")), T0)
    other = fallback(1, "https://cdn/b.mp3", title="Something else")
    later = T0 + timedelta(hours=1)
    counts = storage.apply_poll(ok_update(feed_id, later), feed(other), later)
    assert counts == StoreCounts(new=1, updated=0, unchanged=0, missing=1)
    episodes = by_guid(storage)
    assert episodes["https://cdn/a.mp3"].missing_since == later
    assert episodes["https://cdn/b.mp3"].missing_since is None


def test_fallback_guid_does_not_take_over_an_episode_still_in_the_feed(storage: Storage) -> None:
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0), feed(fallback(1, "https://cdn/a.mp3")), T0)
    # Same title and day, but the stored one is still there under its own guid.
    twin = fallback(1, "https://cdn/twin.mp3")
    parsed = feed(fallback(1, "https://cdn/a.mp3"), twin)
    counts = storage.apply_poll(ok_update(feed_id, T0), parsed, T0)
    assert counts == StoreCounts(new=1, updated=0, unchanged=1, missing=0)
    assert set(by_guid(storage)) == {"https://cdn/a.mp3", "https://cdn/twin.mp3"}


def test_episode_gone_from_the_feed_is_kept_and_marked_then_unmarked(storage: Storage) -> None:
    feed_id = add(storage)
    one, two, three = episode(1), episode(2), episode(3)
    storage.apply_poll(ok_update(feed_id, T0), feed(one, two, three), T0)

    t1 = T0 + timedelta(hours=1)
    counts = storage.apply_poll(ok_update(feed_id, t1), feed(one, three), t1)
    assert counts == StoreCounts(new=0, updated=0, unchanged=2, missing=1)
    episodes = by_guid(storage)
    assert episodes["urn:show:2"].missing_since == t1
    assert episodes["urn:show:1"].missing_since is None
    assert series_records(storage)[0].episode_count == 3

    t2 = T0 + timedelta(hours=2)
    counts = storage.apply_poll(ok_update(feed_id, t2), feed(one, three), t2)
    assert counts.missing == 0  # already marked: not counted, and the mark keeps its time
    assert by_guid(storage)["urn:show:2"].missing_since == t1

    t3 = T0 + timedelta(hours=3)
    counts = storage.apply_poll(ok_update(feed_id, t3), feed(one, two, three), t3)
    assert counts == StoreCounts(new=0, updated=0, unchanged=3, missing=0)
    assert all(e.missing_since is None for e in episode_records(storage))


def test_episode_that_comes_back_changed_is_updated_and_unmarked(storage: Storage) -> None:
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0), feed(episode(1), episode(2)), T0)
    storage.apply_poll(ok_update(feed_id, T0), feed(episode(1)), T0)
    back = episode(2, title="Episode 2 (remastered)")
    counts = storage.apply_poll(ok_update(feed_id, T0), feed(episode(1), back), T0)
    assert counts == StoreCounts(new=0, updated=1, unchanged=1, missing=0)
    restored = by_guid(storage)["urn:show:2"]
    assert (restored.title, restored.missing_since) == ("Episode 2 (remastered)", None)


def test_empty_complete_feed_marks_everything_missing(storage: Storage) -> None:
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0), feed(episode(1), episode(2)), T0)
    counts = storage.apply_poll(ok_update(feed_id, T0), feed(), T0)
    assert counts == StoreCounts(missing=2)
    assert len(episode_records(storage)) == 2


def test_incremental_poll_keeps_items_whose_raw_hash_is_still_there(storage: Storage) -> None:
    feed_id = add(storage)
    one, two, three = episode(1), episode(2), episode(3)
    storage.apply_poll(ok_update(feed_id, T0), feed(one, two, three), T0)

    # The document now holds 1, 2 (unchanged bytes, so not re-parsed) and a new 4;
    # 3 has left it.
    four = episode(4)
    hashes = frozenset({one.item_hash, two.item_hash, four.item_hash})
    t1 = T0 + timedelta(hours=1)
    parsed = feed(four, complete=False, item_hashes=hashes)
    counts = storage.apply_poll(ok_update(feed_id, t1), parsed, t1)

    # 1 and 2 were left out of the parse, but are still there and unchanged
    assert counts == StoreCounts(new=1, updated=0, unchanged=2, missing=1)
    episodes = by_guid(storage)
    assert episodes["urn:show:3"].missing_since == t1
    assert episodes["urn:show:1"].missing_since is None
    assert episodes["urn:show:2"].missing_since is None
    assert episodes["urn:show:4"].missing_since is None

    # 3 comes back byte for byte: the parser skips it, its raw hash brings it back.
    hashes_back = hashes | {three.item_hash}
    t2 = T0 + timedelta(hours=2)
    parsed = feed(complete=False, item_hashes=hashes_back)
    counts = storage.apply_poll(ok_update(feed_id, t2), parsed, t2)
    assert counts == StoreCounts(unchanged=4)
    assert by_guid(storage)["urn:show:3"].missing_since is None


def test_incremental_poll_updates_a_reparsed_changed_item(storage: Storage) -> None:
    feed_id = add(storage)
    one, two = episode(1), episode(2)
    storage.apply_poll(ok_update(feed_id, T0), feed(one, two), T0)
    changed = episode(2, title="Episode 2, corrected")
    parsed = feed(
        changed, complete=False, item_hashes=frozenset({one.item_hash, changed.item_hash})
    )
    counts = storage.apply_poll(ok_update(feed_id, T0), parsed, T0)
    assert counts == StoreCounts(new=0, updated=1, unchanged=1, missing=0)
    assert storage.known_item_hashes(feed_id) == {one.item_hash, changed.item_hash}


def test_new_raw_hash_with_same_content_is_stored_without_an_update(storage: Storage) -> None:
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0), feed(episode(1, item_hash="raw-a")), T0)
    with recorded_writes(storage) as writes:
        counts = storage.apply_poll(ok_update(feed_id, T0), feed(episode(1, item_hash="raw-b")), T0)
    assert counts == StoreCounts(unchanged=1)
    assert storage.known_item_hashes(feed_id) == {"raw-b"}
    [write] = touching(writes, "episode")
    assert "item_hash" in write
    assert "title" not in write


def test_known_item_hashes(storage: Storage) -> None:
    feed_id = add(storage)
    assert storage.known_item_hashes(feed_id) == frozenset()
    assert storage.known_item_hashes(999) == frozenset()
    storage.apply_poll(
        ok_update(feed_id, T0), feed(episode(1, item_hash="x"), episode(2, item_hash="y")), T0
    )
    assert storage.known_item_hashes(feed_id) == frozenset({"x", "y"})


def test_repeated_guid_in_one_document_keeps_the_first(storage: Storage) -> None:
    feed_id = add(storage)
    first = episode(1, title="First copy")
    dup = episode(1, title="Second copy")
    counts = storage.apply_poll(ok_update(feed_id, T0), feed(first, dup), T0)
    assert counts.new == 1
    [only] = episode_records(storage)
    assert only.title == "First copy"


def test_series_change_is_written_and_renames_the_feed(storage: Storage) -> None:
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0), feed(episode(1), show=series("Old")), T0)
    renamed = series("New Name", language="de")
    with recorded_writes(storage) as writes:
        storage.apply_poll(ok_update(feed_id, T0), feed(episode(1), show=renamed), T0)
    assert len(touching(writes, "series")) == 1
    [stored] = series_records(storage)
    assert (stored.title, stored.language) == ("New Name", "de")
    assert storage.get_feed(feed_id).title == "New Name"


def test_series_page_by_title_with_counts(storage: Storage) -> None:
    a = add(storage, "https://a.example/")
    b = add(storage, "https://b.example/")
    storage.apply_poll(ok_update(a, T0), feed(episode(1), show=series("zebra talk")), T0)
    storage.apply_poll(
        ok_update(b, T0), feed(episode(1), episode(2), show=series("Aardvark Hour")), T0
    )
    listed = series_records(storage)
    assert [(s.title, s.episode_count, s.feed_url) for s in listed] == [
        ("Aardvark Hour", 2, "https://b.example/"),
        ("zebra talk", 1, "https://a.example/"),
    ]
    with pytest.raises(NotFoundError):
        storage.series_row(999)


def test_episodes_page_newest_first_undated_last_with_paging(storage: Storage) -> None:
    feed_id = add(storage)
    undated = episode(9, published=None)
    parsed = feed(episode(2), undated, episode(3), episode(1))
    storage.apply_poll(ok_update(feed_id, T0), parsed, T0)
    [show] = series_records(storage)

    def numbers(rows: list[EpisodeRow]) -> list[int | None]:
        return [row.episode.number for row in rows]

    assert numbers(storage.episodes_page(series_id=show.id)) == [3, 2, 1, 9]
    assert numbers(storage.episodes_page(series_id=show.id, limit=2, offset=1)) == [2, 1]
    assert numbers(storage.episodes_page(limit=1)) == [3]
    with pytest.raises(NotFoundError):
        storage.episodes_page(series_id=999)


def test_episodes_of_two_series_stay_apart(storage: Storage) -> None:
    a = add(storage, "https://a.example/")
    b = add(storage, "https://b.example/")
    # Same guids in two feeds are two different episodes.
    storage.apply_poll(ok_update(a, T0), feed(episode(1), show=series("A")), T0)
    storage.apply_poll(ok_update(b, T0), feed(episode(1), show=series("B")), T0)
    series_a, series_b = sorted(series_records(storage), key=lambda s: s.title)
    assert len(episode_records(storage, series_a.id)) == 1
    assert len(episode_records(storage, series_b.id)) == 1
    # b's feed empties: a's episode is not marked.
    storage.apply_poll(ok_update(b, T0), feed(show=series("B")), T0)
    assert episode_records(storage, series_a.id)[0].missing_since is None
    assert episode_records(storage, series_b.id)[0].missing_since == T0


def test_bulk_poll_of_3000_episodes(storage: Storage) -> None:
    feed_id = add(storage)
    episodes = [episode(n) for n in range(1, 3001)]
    counts = storage.apply_poll(ok_update(feed_id, T0), feed(*episodes), T0)
    assert counts == StoreCounts(new=3000)
    changed = list(episodes)
    changed[1499] = episode(1500, title="renamed")
    counts = storage.apply_poll(ok_update(feed_id, T0), feed(*changed[:2999]), T0)
    assert counts == StoreCounts(new=0, updated=1, unchanged=2998, missing=1)
    assert series_records(storage)[0].episode_count == 3000


def test_a_poll_planned_before_another_poll_was_stored_is_planned_again(
    storage: Storage,
) -> None:
    # A poll's episode writes are planned before its write transaction; a poll of
    # the same feed stored in between makes that plan stale.
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0), feed(episode(1), episode(2)), T0)
    later = T0 + timedelta(hours=1)
    planned = storage.prepare_poll(ok_update(feed_id, later), feed(episode(2), episode(3)), later)
    between = T0 + timedelta(minutes=30)
    storage.apply_poll(
        ok_update(feed_id, between), feed(episode(1), episode(2), episode(4)), between
    )
    counts = storage.store_poll(planned)
    # What the later document says, whatever the stale plan thought: 1 and 4 gone.
    assert counts == StoreCounts(new=1, unchanged=1, missing=2)
    stored = by_guid(storage)
    assert sorted(stored) == ["urn:show:1", "urn:show:2", "urn:show:3", "urn:show:4"]
    assert [g for g, e in sorted(stored.items()) if e.missing_since is None] == [
        "urn:show:2",
        "urn:show:3",
    ]


def test_a_poll_planned_against_the_series_as_it_still_is_writes_that_plan(
    storage: Storage,
) -> None:
    feed_id = add(storage)
    storage.apply_poll(ok_update(feed_id, T0), feed(episode(1)), T0)
    later = T0 + timedelta(hours=1)
    planned = storage.prepare_poll(ok_update(feed_id, later), feed(episode(1), episode(2)), later)
    with recorded_writes(storage) as statements:
        assert storage.store_poll(planned) == StoreCounts(new=1, unchanged=1)
    assert len(touching(statements, "episode")) == 1  # the one upsert planned
    assert sorted(by_guid(storage)) == ["urn:show:1", "urn:show:2"]


# --- values and errors ---------------------------------------------------------------


def test_datetimes_come_back_as_aware_utc(storage: Storage) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=plus_two)
    feed_id = storage.add_feed(URL, FeedKind.PODCAST, local).id
    storage.apply_poll(ok_update(feed_id, local), feed(episode(1, published=local)), local)

    got = storage.get_feed(feed_id)
    expected = datetime(2026, 3, 1, 7, 30, 15, 123456, tzinfo=UTC)
    for value in (got.created_at, got.last_polled_at, episode_records(storage)[0].published):
        assert value == expected
        assert value is not None
        assert value.utcoffset() == timedelta(0)
        assert value.tzinfo is UTC


def test_naive_datetime_is_refused(storage: Storage) -> None:
    with pytest.raises(StorageError, match="naive"):
        storage.add_feed(URL, FeedKind.PODCAST, datetime(2026, 1, 1))
    assert storage.feeds_page() == []


def test_concurrent_polls_of_different_feeds(storage: Storage) -> None:
    feed_ids = [add(storage, f"https://f{i}.example/") for i in range(4)]
    errors: list[BaseException] = []

    def poll(feed_id: int) -> None:
        try:
            for round_ in range(4):
                at = T0 + timedelta(hours=round_)
                parsed = feed(*(episode(n) for n in range(1, 100 + 10 * round_)))
                storage.apply_poll(ok_update(feed_id, at), parsed, at)
                storage.due_feeds(at, 10)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=poll, args=(i,)) for i in feed_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [s.episode_count for s in series_records(storage)] == [129] * 4


def test_unmigrated_database_raises_storage_error_with_cause(database_url: str) -> None:
    with open_storage(database_url) as store, pytest.raises(StorageError) as info:
        store.feeds_page()
    assert info.value.__cause__ is not None


@pytest.mark.parametrize(
    "url", ["mysql://u@localhost/db", "not a url", "oracle+cx_oracle://u@h/db"]
)
def test_unsupported_database_urls_are_refused(url: str) -> None:
    with pytest.raises(StorageError):
        open_storage(url)


def test_sqlite_file_and_its_directory_are_created(tmp_path: Any) -> None:
    path = tmp_path / "deep" / "er" / "aggregator.db"
    with open_storage(f"sqlite:///{path}") as store:
        store.migrate()
        add(store)
        assert len(store.feeds_page()) == 1
    assert path.is_file()


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Any) -> None:
    store = open_storage(f"sqlite:///{tmp_path / 'a.db'}")
    with store, store._engine.connect() as connection:  # white-box: the pragmas themselves
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


def test_recent_published_newest_first_without_undated(storage: Storage) -> None:
    feed_id = add(storage)
    assert storage.recent_published(feed_id, 5) == []
    parsed = feed(episode(1), episode(3), episode(2, published=None), episode(4))
    storage.apply_poll(ok_update(feed_id, T0), parsed, T0)
    week = timedelta(weeks=1)
    assert storage.recent_published(feed_id, 2) == [T0 + 4 * week, T0 + 3 * week]
    assert storage.recent_published(feed_id, 10) == [T0 + 4 * week, T0 + 3 * week, T0 + week]


def test_ensure_feed_from_racing_threads_adds_one_feed(storage: Storage) -> None:
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def ensure() -> None:
        try:
            start.wait()
            record, created = storage.ensure_feed(URL, FeedKind.PODCAST, T0)
            results.append((record.id, created))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=ensure) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({feed_id for feed_id, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len(storage.feeds_page()) == 1


def test_counts_say_which_series_and_since_when(storage: Storage) -> None:
    feed_id = add(storage)
    first = storage.apply_poll(ok_update(feed_id, T0), feed(episode(3), episode(5)), T0)
    assert first.series_id is not None
    assert first.changed_since == episode(3).published  # the older of the two new ones
    # a changed old episode and a new one: the earliest of what changed
    later = T0 + timedelta(days=60)
    counts = storage.apply_poll(
        ok_update(feed_id, later),
        feed(episode(3, title="Episode 3, corrected"), episode(5), episode(6)),
        later,
    )
    assert (counts.new, counts.updated, counts.unchanged) == (1, 1, 1)
    assert counts.series_id == first.series_id
    assert counts.changed_since == episode(3).published
    nothing = storage.apply_poll(
        ok_update(feed_id, later),
        feed(episode(3, title="Episode 3, corrected"), episode(5), episode(6)),
        later,
    )
    assert nothing.changed_since is None
