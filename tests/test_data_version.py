"""The data version: every write that may change what is shown moves its counters as
it commits, in any process; polls that stored nothing move only the feeds' counter,
leases, logins and failed writes neither -- on each database backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aggregator.exceptions import FeedNotFound
from aggregator.storage import DataVersion, Storage, open_storage
from aggregator.types import FeedKind, LinkStatus, Relation
from tests.fakes import T0, episode, feed, ok_update, review, series, text_hash
from tests.stored import series_records


def test_content_writes_move_both_counters_one_each(storage: Storage) -> None:
    start = storage.data_version()

    def moved() -> tuple[int, int]:
        now = storage.data_version()
        return now.content - start.content, now.feeds - start.feeds

    added = storage.add_feed("https://a.example/feed.xml", FeedKind.PODCAST, T0)
    assert moved() == (1, 1)
    storage.apply_poll(ok_update(added.id, T0), feed(episode(1), show=series("A")), T0)
    assert moved() == (2, 2)
    (show,) = series_records(storage)
    saved = storage.save_review(review(1), content_hash=text_hash(review(1)), source="api", now=T0)
    link = storage.add_link(saved.review.id, show.id, None, Relation.REVIEWS, T0)
    storage.set_link_status(link.id, LinkStatus.REJECTED, T0)
    storage.delete_review(saved.review.id)
    assert moved() == (6, 6)


def test_polls_that_store_nothing_move_only_the_feeds(storage: Storage) -> None:
    added = storage.add_feed("https://a.example/feed.xml", FeedKind.PODCAST, T0)
    before = storage.data_version()
    # A 304 (the schedule only), and a poll that failed: nothing to store.
    storage.apply_schedule_updates([ok_update(added.id, T0)], T0)
    storage.apply_poll(ok_update(added.id, T0, error_count=1, last_error="boom"), None, T0)
    assert storage.data_version() == DataVersion(before.content, before.feeds + 2)


def test_bookkeeping_moves_neither(storage: Storage) -> None:
    added = storage.add_feed("https://a.example/feed.xml", FeedKind.PODCAST, T0)
    before = storage.data_version()
    claimed = storage.claim_due_feeds(T0, 10, owner="me", lease_seconds=60)
    assert [f.id for f in claimed] == [added.id]
    assert storage.renew_feed_leases(T0, owner="me", lease_seconds=60) == 1
    storage.release_feeds([added.id], owner="me")
    storage.add_web_session("key", now=T0, expires=T0 + timedelta(hours=1))
    storage.remove_web_session("key")
    assert storage.data_version() == before


def test_a_failed_write_moves_neither(storage: Storage) -> None:
    before = storage.data_version()
    with pytest.raises(FeedNotFound):
        storage.remove_feed(12345)
    assert storage.data_version() == before


def test_another_instance_sees_the_same_counts(storage: Storage) -> None:
    """Kept in the database, not in the process: what a second store writes, the
    first one's next read sees."""
    with open_storage(storage.url) as other:
        before = storage.data_version()
        assert other.data_version() == before
        other.add_feed("https://b.example/feed.xml", FeedKind.PODCAST, T0)
        assert storage.data_version() == DataVersion(before.content + 1, before.feeds + 1)
