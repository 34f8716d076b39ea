"""The reviews service: linking kept current, human decisions kept, with real storage."""

from __future__ import annotations

import gc
import itertools
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.parse import parse_feed
from aggregator.linking import LINKER_VERSION
from aggregator.reviews.extract import extract_document
from aggregator.reviews.service import LINK_TEXT_LIMIT, Reviews
from aggregator.settings import FetchSettings
from aggregator.storage import Storage
from aggregator.types import FeedKind, LinkStatus, Relation, ReviewDocument
from tests.fakes import ok_update
from tests.stored import episode_records

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "data" / "linking" / "reviews" / "seed.txt"
CALIPHATE = ROOT / "examples" / "feeds" / "caliphate.xml"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def reviews(storage: Storage) -> Iterator[Reviews]:
    with Fetcher(FetchSettings(), allow_file=False) as fetcher:
        yield Reviews(storage, fetcher, clock=lambda: NOW)


def store_caliphate(storage: Storage) -> int:
    feed = storage.add_feed(CALIPHATE.resolve().as_uri(), FeedKind.PODCAST, NOW)
    parsed = parse_feed(CALIPHATE.read_bytes(), url=feed.url)
    counts = storage.apply_poll(ok_update(feed.id, NOW), parsed, NOW)
    assert counts.series_id is not None
    return counts.series_id


def series_links(storage: Storage, review_id: int) -> set[tuple[int, Relation]]:
    return {
        (x.series_id, x.relation)
        for x in storage.list_links(review_id=review_id)
        if x.episode_id is None
    }


def test_reviews_of_an_older_linker_version_are_relinked(
    storage: Storage, reviews: Reviews
) -> None:
    series_id = store_caliphate(storage)
    added = reviews.add(SEED.read_bytes(), source="file", filename="seed.txt")
    assert added.review.id is not None
    # As if an older linker had linked it, and found nothing.
    storage.replace_links(added.review.id, [], linker_version="0-old", now=NOW)
    assert storage.list_links(review_id=added.review.id) == []

    assert reviews.relink_outdated() == 1
    assert (series_id, Relation.REVIEWS) in series_links(storage, added.review.id)
    assert storage.get_review(added.review.id).linker_version == LINKER_VERSION
    assert reviews.relink_outdated() == 0  # nothing left to do


def test_human_decisions_survive_relinking(storage: Storage, reviews: Reviews) -> None:
    series_id = store_caliphate(storage)
    added = reviews.add(
        SEED.read_bytes(),
        source="file",
        filename="seed.txt",
        published=datetime(2018, 7, 1, tzinfo=UTC),
    )
    review_id = added.review.id
    series_link = next(x for x in added.links if x.episode_id is None)
    episode_link = next(x for x in added.links if x.episode_id is not None)
    storage.set_link_status(series_link.id, LinkStatus.CONFIRMED, NOW)
    storage.set_link_status(episode_link.id, LinkStatus.REJECTED, NOW)
    first_episode = min(
        (e for e in episode_records(storage, series_id)), key=lambda e: e.published or NOW
    )
    storage.add_link(review_id, series_id, first_episode.id, Relation.MENTIONS, NOW)

    reviews.relink(storage.get_review(review_id))

    after = {(x.series_id, x.episode_id): x for x in storage.list_links(review_id=review_id)}
    assert after[(series_id, None)].status is LinkStatus.CONFIRMED
    assert (series_id, episode_link.episode_id) not in after  # rejected stays away
    assert after[(series_id, first_episode.id)].status is LinkStatus.MANUAL


def test_new_episodes_relink_the_reviews_of_their_series(
    storage: Storage, reviews: Reviews
) -> None:
    # The feed as it stood in May 2018: up to Chapter Five.
    document = CALIPHATE.read_bytes()
    feed = storage.add_feed(CALIPHATE.resolve().as_uri(), FeedKind.PODCAST, NOW)
    full = parse_feed(document, url=feed.url)
    cutoff = datetime(2018, 5, 20, tzinfo=UTC)
    early = replace(
        full, episodes=tuple(e for e in full.episodes if e.published and e.published < cutoff)
    )
    counts = storage.apply_poll(ok_update(feed.id, NOW), early, NOW)
    series_id = counts.series_id
    assert series_id is not None
    added = reviews.add(
        SEED.read_bytes(),
        source="file",
        filename="seed.txt",
        published=datetime(2018, 7, 1, tzinfo=UTC),
    )
    guids = {x.episode_guid for x in added.links if x.episode_id is not None}
    assert "d880f329-7101-567d-a25d-60dde948cb1c" not in guids  # Chapter Ten not known yet

    # The rest of the season arrives; the poller tells the service.
    counts = storage.apply_poll(ok_update(feed.id, NOW), full, NOW)
    assert counts.new == len(full.episodes) - len(early.episodes)
    relinked = reviews.series_changed(series_id, new_series=False, since=counts.changed_since)
    assert relinked == 1
    guids = {
        x.episode_guid
        for x in storage.list_links(review_id=added.review.id)
        if x.episode_id is not None
    }
    # "the last episode" before 2018-07-01 is now Chapter Ten
    assert "d880f329-7101-567d-a25d-60dde948cb1c" in guids


# --- several instances on one database ----------------------------------------------


def test_a_series_another_instance_stored_is_in_this_instance_s_catalog(
    storage: Storage, reviews: Reviews
) -> None:
    assert len(reviews.linker().catalog) == 0  # built before the series existed
    series_id = store_caliphate(storage)  # stored by another instance: no listener here
    added = reviews.add(SEED.read_bytes(), source="file", filename="seed.txt")
    assert (series_id, Relation.REVIEWS) in series_links(storage, added.review.id)


def test_links_written_while_another_instance_stored_the_series_are_made_again(
    storage: Storage, reviews: Reviews, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This instance links a review with a catalog read before the series existed;
    # meanwhile another instance stores the series, finds the review naming it and
    # links it. Our write lands last: without a second look it would wipe those links.
    feed = storage.add_feed(CALIPHATE.resolve().as_uri(), FeedKind.PODCAST, NOW)
    parsed = parse_feed(CALIPHATE.read_bytes(), url=feed.url)
    linker = reviews.linker()  # built before the series existed
    link = linker.link
    stored: list[int] = []  # the series, stored mid-link

    def link_while_the_other_instance_stores_the_series(document: ReviewDocument) -> object:
        proposals = link(document)
        if not stored:
            counts = storage.apply_poll(ok_update(feed.id, NOW), parsed, NOW)
            assert counts.series_id is not None
            stored.append(counts.series_id)
            with Fetcher(FetchSettings(), allow_file=False) as fetcher:
                other = Reviews(storage, fetcher, clock=lambda: NOW, owner="other")
                relinked = other.series_changed(counts.series_id, new_series=True, since=None)
            assert relinked == 1  # the other instance found the review and linked it
        return proposals

    monkeypatch.setattr(linker, "link", link_while_the_other_instance_stores_the_series)
    added = reviews.add(SEED.read_bytes(), source="file", filename="seed.txt")
    assert (stored[0], Relation.REVIEWS) in series_links(storage, added.review.id)
    assert (stored[0], Relation.REVIEWS) in {(x.series_id, x.relation) for x in added.links}


def test_a_review_linked_while_series_keep_changing_is_left_for_the_relinking_chore(
    storage: Storage, reviews: Reviews, monkeypatch: pytest.MonkeyPatch
) -> None:
    linker = reviews.linker()
    link = linker.link
    stored = 0

    def link_while_a_new_series_is_stored(document: ReviewDocument) -> object:
        nonlocal stored
        stored += 1  # another instance stores one more series every time
        url = f"{CALIPHATE.resolve().as_uri()}?copy={stored}"
        feed = storage.add_feed(url, FeedKind.PODCAST, NOW)
        storage.apply_poll(
            ok_update(feed.id, NOW), parse_feed(CALIPHATE.read_bytes(), url=url), NOW
        )
        return link(document)

    monkeypatch.setattr(linker, "link", link_while_a_new_series_is_stored)
    added = reviews.add(SEED.read_bytes(), source="file", filename="seed.txt")
    assert stored == Reviews.RELINK_ROUNDS  # linked again each time, then left
    needing = storage.reviews_needing_link(LINKER_VERSION, limit=10)
    assert [r.id for r in needing] == [added.review.id]
    monkeypatch.undo()
    assert reviews.relink_outdated() == 1  # the chore links it with every series
    assert series_links(storage, added.review.id)  # to the copies of Caliphate
    assert storage.reviews_needing_link(LINKER_VERSION, limit=10) == []


def test_a_series_that_moves_meanwhile_but_bears_not_on_the_review_costs_no_second_link(
    storage: Storage, reviews: Reviews, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_caliphate(storage)
    linker = reviews.linker()
    link = linker.link
    calls = 0
    gardening = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Potting Shed Hour</title>'
        b"<description>Compost, seedlings and sheds.</description><item><title>Leeks</title>"
        b"<guid>leeks</guid><description>Planting leeks in autumn.</description></item>"
        b"</channel></rss>"
    )

    def link_while_an_unrelated_series_is_stored(document: ReviewDocument) -> object:
        nonlocal calls
        calls += 1
        url = f"https://garden.example/feed-{calls}.xml"
        feed = storage.add_feed(url, FeedKind.PODCAST, NOW)
        storage.apply_poll(ok_update(feed.id, NOW), parse_feed(gardening, url=url), NOW)
        return link(document)

    monkeypatch.setattr(linker, "link", link_while_an_unrelated_series_is_stored)
    added = reviews.add(SEED.read_bytes(), source="file", filename="seed.txt")
    assert calls == 1  # the gardening show moved, but the review is not about it
    assert series_links(storage, added.review.id)
    assert storage.reviews_needing_link(LINKER_VERSION, limit=10) == []


def test_a_series_another_instance_removed_leaves_this_instance_s_catalog(
    storage: Storage, reviews: Reviews
) -> None:
    series_id = store_caliphate(storage)
    assert series_id in reviews.linker().catalog
    storage.remove_feed(storage.series_row(series_id).series.feed_id)
    added = reviews.add(SEED.read_bytes(), source="file", filename="seed.txt")
    assert series_id not in reviews.linker().catalog
    assert added.links == []


def test_instances_split_the_relinking_of_outdated_reviews(storage: Storage) -> None:
    store_caliphate(storage)
    for n in range(30):
        text = SEED.read_bytes() + f"\n\nPostscript {n}.".encode()
        document = extract_document(text, filename=f"review-{n}.txt")
        storage.save_review(document, content_hash=f"h{n}", source="file", now=NOW)
    done: dict[str, int] = {}
    with Fetcher(FetchSettings(), allow_file=False) as fetcher:
        instances = {
            name: Reviews(storage, fetcher, clock=lambda: NOW, owner=name) for name in "ab"
        }
        for r in instances.values():
            r.linker()  # both catalogs built before the race
        threads = [
            threading.Thread(target=lambda n=name, r=r: done.update({n: r.relink_outdated()}))
            for name, r in instances.items()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert done["a"] + done["b"] == 30  # each review linked once, by one of them
    assert storage.reviews_needing_link(LINKER_VERSION, limit=100) == []


def test_a_huge_review_is_linked_from_its_beginning(storage: Storage, reviews: Reviews) -> None:
    series_id = store_caliphate(storage)
    filler = "".join(
        f"\n\nDay {n}: I kept thinking about ship number {n * 7} in harbor {n % 13}."
        for n in range(6_000)
    ).encode()
    body = SEED.read_bytes().split(b"Leave a Reply")[0]  # the filler goes before the blog's tail
    added = reviews.add(body + filler, source="file", filename="long.txt")
    assert len(added.review.text) > LINK_TEXT_LIMIT  # stored whole, linked from its start
    assert (series_id, Relation.REVIEWS) in series_links(storage, added.review.id)
    for link in added.links:
        for e in link.evidence:
            assert added.review.text[e.start : e.end] == e.text


def test_warm_up_builds_the_linker_in_the_background(
    storage: Storage, reviews: Reviews, caplog: pytest.LogCaptureFixture
) -> None:
    store_caliphate(storage)
    assert gc.get_freeze_count() == 0
    try:
        with caplog.at_level("INFO", logger="aggregator.reviews.service"):
            reviews.warm_up().join(timeout=60)
        assert any(m.startswith("linker ready: 1 series in ") for m in caplog.messages)
        # The catalog built for the service is kept out of the collector's full passes.
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process is no long-running service


def test_a_copy_that_changes_nothing_is_not_linked_again(storage: Storage) -> None:
    """The feed's copy after the file's: stored already, nothing the linker reads
    changed, so its links stand (their time says so); a longer copy is linked anew."""
    store_caliphate(storage)
    ticks = itertools.count()
    copies = ROOT / "tests" / "data" / "copies"
    with Fetcher(FetchSettings(), allow_file=False) as fetcher:
        # A clock that moves on at every reading: a link written again shows it.
        service = Reviews(storage, fetcher, clock=lambda: NOW + timedelta(minutes=next(ticks)))
        day = datetime(2018, 7, 1, tzinfo=UTC)
        first = service.add(
            SEED.read_bytes(),
            source="file",
            filename="seed.txt",
            origin="/a/seed.txt",
            published=day,
        )
        linked_at = storage.get_review(first.review.id).linked_at
        assert linked_at is not None
        item = (copies / "feed-item.html").read_bytes()
        later = day.replace(hour=9)  # the feed's time of day: the file's date stays
        again = service.add(item, source="api", content_type="text/html", published=later)
        assert (again.review.id, again.created, again.saved.changed) == (
            first.review.id,
            False,
            False,
        )
        assert [x.id for x in again.links] == [x.id for x in first.links]
        assert storage.get_review(first.review.id).linked_at == linked_at
        longer = service.add(
            (copies / "republished.txt").read_bytes(), source="file", origin="/a/r.txt"
        )
        assert (longer.review.id, longer.saved.took_text) == (first.review.id, True)
        assert storage.get_review(first.review.id).linked_at != linked_at
