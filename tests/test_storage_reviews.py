"""Storage of reviews, their links and the linker's catalog, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.exc import IntegrityError

from aggregator.exceptions import NotFoundError
from aggregator.storage import Storage
from aggregator.storage._models import EPISODE, LINK
from aggregator.types import (
    Evidence,
    FeedKind,
    HyperLink,
    LinkStatus,
    Person,
    Relation,
    ReviewRecord,
)
from tests.fakes import T0, episode, feed, ok_update, proposal, review, series, text_hash
from tests.stored import episode_records, series_records

T1 = T0 + timedelta(days=30)
T2 = T0 + timedelta(days=60)


@dataclass(frozen=True)
class Show:
    feed_id: int
    series_id: int
    episodes: dict[int, int]  # episode number -> episode id


def add_show(storage: Storage, name: str = "show", episodes: int = 3) -> Show:
    """A podcast feed polled once: series ``name`` with episodes 1..``episodes``."""
    feed_id = storage.add_feed(f"https://{name}.example/feed.xml", FeedKind.PODCAST, T0).id
    items = [
        episode(n, guid=f"urn:{name}:{n}", title=f"{name} {n}") for n in range(1, 1 + episodes)
    ]
    parsed = feed(*items, show=series(name.title()))
    storage.apply_poll(ok_update(feed_id, T0), parsed, T0)
    series_id = next(s.id for s in series_records(storage) if s.feed_id == feed_id)
    ids = {e.number: e.id for e in episode_records(storage, series_id) if e.number is not None}
    return Show(feed_id, series_id, ids)


def save(storage: Storage, n: int = 1, **overrides: object) -> ReviewRecord:
    document = review(n, **overrides)
    return storage.save_review(
        document, content_hash=text_hash(document), source="url", now=T0
    ).review


def statuses(storage: Storage, review_id: int) -> dict[tuple[int, int | None], str]:
    links = storage.list_links(review_id=review_id, include_rejected=True)
    return {(link.series_id, link.episode_id): link.status.value for link in links}


# --- reviews -----------------------------------------------------------------------


def test_saved_review_reads_back_with_every_field(storage: Storage) -> None:
    reviews_feed = storage.add_feed("https://blog.example/feed", FeedKind.REVIEWS, T0).id
    links = (
        HyperLink("https://show.example/", "the show", 0, 8),
        HyperLink("https://x.example/", "x"),
    )
    document = review(1, html="<p>Review 1 ...</p>", links=links)
    saved = storage.save_review(
        document, content_hash="h1", source="feed", now=T0, feed_id=reviews_feed
    )
    record = saved.review
    assert saved.created is True
    assert record.document() == document
    assert (record.content_hash, record.source, record.feed_id) == ("h1", "feed", reviews_feed)
    assert (record.linker_version, record.linked_at) == (None, None)
    assert record.created_at == record.updated_at == T0
    assert record.published is not None and record.published.utcoffset() == timedelta(0)
    assert storage.get_review(record.id) == record
    assert storage.review_count() == 1


def test_same_url_again_is_the_same_review_updated(storage: Storage) -> None:
    first = save(storage, 1)
    again = review(1, text="Review 1, corrected.", title=None, author="B. Critic")
    saved = storage.save_review(again, content_hash=text_hash(again), source="url", now=T1)
    record = saved.review
    assert saved.created is False
    assert record.id == first.id
    assert record.text == "Review 1, corrected."
    assert record.author == "B. Critic"
    assert record.title == "On the show, part 1"  # the new copy had none: kept
    assert (record.created_at, record.updated_at) == (T0, T1)
    assert storage.review_count() == 1


def test_same_content_without_url_is_the_same_review(storage: Storage) -> None:
    first = save(storage, 1, url=None)
    again = save(storage, 1, url=None, title="Another title")
    other = save(storage, 2, url=None)
    assert again.id == first.id
    assert again.title == "Another title"
    assert other.id != first.id
    assert storage.review_count() == 2


def test_content_added_without_url_takes_the_url_it_comes_back_with(storage: Storage) -> None:
    first = save(storage, 1, url=None)
    again = save(storage, 1, url="https://blog.example/found")
    assert again.id == first.id
    assert storage.find_review("https://blog.example/found").id == first.id
    # Coming back without the URL again does not take the URL away.
    assert save(storage, 1, url=None).url == "https://blog.example/found"


def test_same_text_at_two_urls_stays_two_reviews(storage: Storage) -> None:
    a = save(storage, 1, url="https://a.example/r")
    b = save(storage, 1, url="https://b.example/r")
    assert a.id != b.id
    assert storage.find_review("https://b.example/r").id == b.id


def test_unchanged_review_is_not_rewritten(storage: Storage) -> None:
    save(storage, 1)
    document = review(1)
    saved = storage.save_review(document, content_hash=text_hash(document), source="url", now=T1)
    record = saved.review
    assert saved.created is False
    assert record.updated_at == T0


def test_find_review_by_id_or_url(storage: Storage) -> None:
    record = save(storage, 1)
    assert storage.find_review(str(record.id)) == record
    assert storage.find_review("https://blog.example/review-1") == record
    with pytest.raises(NotFoundError):
        storage.find_review("https://blog.example/nothing")
    with pytest.raises(NotFoundError):
        storage.find_review("999")
    with pytest.raises(NotFoundError):
        storage.get_review(999)


def test_list_reviews_newest_first_undated_last_with_paging(storage: Storage) -> None:
    undated = save(storage, 1, published=None)
    old = save(storage, 2)
    new = save(storage, 3)
    undated_too = save(storage, 4, published=None)
    expected = [new.id, old.id, undated.id, undated_too.id]
    assert [r.id for r in storage.reviews_page()] == expected
    assert [r.id for r in storage.reviews_page(limit=2, offset=1)] == expected[1:3]


def test_get_reviews_reads_whole_reviews_in_the_order_asked(storage: Storage) -> None:
    first = save(storage, 1, text="The first review, whole. " * 40)
    second = save(storage, 2)
    assert storage.get_reviews([second.id, 999, first.id]) == [second, first]
    assert storage.get_reviews([]) == []


def test_reviews_with_any_word_use_the_full_text_index(storage: Storage) -> None:
    caliphate = save(storage, 1, text="Rukmini Callimachi's Caliphate is gripping.")
    serial = save(storage, 2, text="Sarah Koenig returns with Serial.")
    titled = save(storage, 3, text="Nothing here.", title="Why Callimachi matters")
    undated = save(storage, 4, text="Caliphate, again.", published=None)
    save(storage, 5, text="A review of a cooking show.")

    def ids(*words: str, **kw: Any) -> list[int]:
        return [r.id for r in storage.reviews_with_any_word(list(words), **kw)]

    assert ids("callimachi") == [caliphate.id, titled.id]  # the title is indexed too
    assert ids("caliphate", "koenig") == [caliphate.id, serial.id, undated.id]
    assert ids("calliphate") == []  # whole words: spelling counts here
    assert ids() == []
    # Published since a time: later ones, and undated ones (they may be anything).
    since = T0 + timedelta(days=2)
    assert ids("caliphate", "koenig", published_since=since) == [serial.id, undated.id]


def test_reviews_needing_link_never_linked_or_by_another_version(storage: Storage) -> None:
    show = add_show(storage)
    a, b, c = (save(storage, n) for n in (1, 2, 3))
    storage.replace_links(a.id, [proposal(show.series_id)], linker_version="v1", now=T1)
    storage.replace_links(b.id, [], linker_version="v2", now=T1)
    assert [r.id for r in storage.reviews_needing_link("v2", limit=10)] == [a.id, c.id]
    assert [r.id for r in storage.reviews_needing_link("v2", limit=1)] == [a.id]
    assert [r.id for r in storage.reviews_needing_link("v1", limit=10)] == [b.id, c.id]
    linked = storage.get_review(a.id)
    assert (linked.linker_version, linked.linked_at) == ("v1", T1)


def test_changed_text_makes_a_linked_review_due_again_same_text_does_not(
    storage: Storage,
) -> None:
    record = save(storage, 1)
    storage.replace_links(record.id, [], linker_version="v1", now=T1)
    save(storage, 1)  # the same document again
    assert storage.reviews_needing_link("v1", limit=10) == []
    save(storage, 1, text="Review 1, rewritten.")
    assert [r.id for r in storage.reviews_needing_link("v1", limit=10)] == [record.id]


def test_delete_review_takes_its_links(storage: Storage) -> None:
    show = add_show(storage)
    record = save(storage, 1)
    storage.replace_links(record.id, [proposal(show.series_id)], linker_version="v1", now=T1)
    storage.delete_review(record.id)
    assert storage.list_links(include_rejected=True) == []
    assert storage.review_count() == 0
    with pytest.raises(NotFoundError):
        storage.delete_review(record.id)


# --- links: replacement and human decisions ------------------------------------------


def test_replace_links_replaces_the_linkers_links(storage: Storage) -> None:
    show = add_show(storage)
    record = save(storage, 1)
    ep1, ep2, ep3 = show.episodes[1], show.episodes[2], show.episodes[3]
    first = storage.replace_links(
        record.id,
        [proposal(show.series_id), proposal(show.series_id, ep1), proposal(show.series_id, ep2)],
        linker_version="v1",
        now=T1,
    )
    assert {(x.episode_id, x.status) for x in first} == {
        (None, LinkStatus.AUTO),
        (ep1, LinkStatus.AUTO),
        (ep2, LinkStatus.AUTO),
    }
    series_link = next(x for x in first if x.episode_id is None)

    second = storage.replace_links(
        record.id,
        [
            proposal(show.series_id, score=0.6, relation=Relation.MENTIONS, kind="person"),
            proposal(show.series_id, ep3, score=0.7),
        ],
        linker_version="v2",
        now=T2,
    )
    assert {x.episode_id for x in second} == {None, ep3}
    kept = next(x for x in second if x.episode_id is None)
    assert kept.id == series_link.id  # the same target keeps its row
    assert (kept.relation, kept.score, kept.linker_version) == (Relation.MENTIONS, 0.6, "v2")
    assert [e.kind for e in kept.evidence] == ["person"]
    assert (kept.created_at, kept.updated_at) == (T1, T2)
    assert storage.list_links(review_id=record.id) == second


def test_confirmed_link_survives_relinking_and_keeps_status_and_relation(
    storage: Storage,
) -> None:
    show = add_show(storage)
    record = save(storage, 1)
    ep1 = show.episodes[1]
    [link] = storage.replace_links(
        record.id, [proposal(show.series_id, ep1)], linker_version="v1", now=T1
    )
    confirmed = storage.set_link_status(link.id, LinkStatus.CONFIRMED, T1)
    assert confirmed.status is LinkStatus.CONFIRMED

    # Proposed again with other words: new score and evidence, same decision.
    again = storage.replace_links(
        record.id,
        [proposal(show.series_id, ep1, score=0.5, relation=Relation.MENTIONS, kind="ordinal")],
        linker_version="v2",
        now=T2,
    )
    assert [(x.id, x.status, x.relation, x.score) for x in again] == [
        (link.id, LinkStatus.CONFIRMED, Relation.REVIEWS, 0.5)
    ]
    assert [e.kind for e in again[0].evidence] == ["ordinal"]

    # Not proposed at all: still there.
    assert [x.id for x in storage.replace_links(record.id, [], linker_version="v3", now=T2)] == [
        link.id
    ]


def test_rejected_link_stays_rejected_and_suppresses_the_proposal(storage: Storage) -> None:
    show = add_show(storage)
    record = save(storage, 1)
    [link] = storage.replace_links(
        record.id, [proposal(show.series_id)], linker_version="v1", now=T1
    )
    storage.set_link_status(link.id, LinkStatus.REJECTED, T1)
    assert storage.list_links(review_id=record.id) == []

    result = storage.replace_links(
        record.id, [proposal(show.series_id, score=0.99)], linker_version="v2", now=T2
    )
    assert result == []
    [rejected] = storage.list_links(review_id=record.id, include_rejected=True)
    assert (rejected.id, rejected.status, rejected.score) == (link.id, LinkStatus.REJECTED, 0.8)
    # Re-linking without the proposal does not delete the decision either.
    storage.replace_links(record.id, [], linker_version="v3", now=T2)
    assert statuses(storage, record.id) == {(show.series_id, None): "rejected"}


def test_manual_link_survives_relinking(storage: Storage) -> None:
    show = add_show(storage)
    record = save(storage, 1)
    manual = storage.add_link(record.id, show.series_id, show.episodes[2], Relation.REVIEWS, T1)
    assert (manual.status, manual.score, manual.linker_version) == (LinkStatus.MANUAL, 1.0, None)
    assert [(e.kind, e.start, e.end) for e in manual.evidence] == [("manual", -1, -1)]
    storage.replace_links(record.id, [proposal(show.series_id)], linker_version="v1", now=T2)
    storage.replace_links(record.id, [], linker_version="v2", now=T2)
    assert statuses(storage, record.id) == {(show.series_id, show.episodes[2]): "manual"}


def test_add_link_makes_an_auto_or_rejected_link_manual(storage: Storage) -> None:
    show = add_show(storage)
    record = save(storage, 1)
    ep1 = show.episodes[1]
    auto, rejected = storage.replace_links(
        record.id,
        [proposal(show.series_id, score=0.9), proposal(show.series_id, ep1, score=0.4)],
        linker_version="v1",
        now=T1,
    )
    storage.set_link_status(rejected.id, LinkStatus.REJECTED, T1)
    made_auto = storage.add_link(record.id, show.series_id, None, Relation.MENTIONS, T2)
    made_rejected = storage.add_link(record.id, show.series_id, ep1, Relation.REVIEWS, T2)
    assert (made_auto.id, made_auto.status, made_auto.relation) == (
        auto.id,
        LinkStatus.MANUAL,
        Relation.MENTIONS,
    )
    assert (made_rejected.id, made_rejected.status, made_rejected.score) == (
        rejected.id,
        LinkStatus.MANUAL,
        1.0,
    )
    assert len(storage.list_links(include_rejected=True)) == 2


def test_add_link_on_a_confirmed_link_only_changes_its_relation(storage: Storage) -> None:
    show = add_show(storage)
    record = save(storage, 1)
    [link] = storage.replace_links(
        record.id, [proposal(show.series_id, score=0.7)], linker_version="v1", now=T1
    )
    storage.set_link_status(link.id, LinkStatus.CONFIRMED, T1)
    after = storage.add_link(record.id, show.series_id, None, Relation.MENTIONS, T2)
    assert (after.id, after.status, after.score, after.relation) == (
        link.id,
        LinkStatus.CONFIRMED,
        0.7,
        Relation.MENTIONS,
    )


def test_add_link_refuses_unknown_targets(storage: Storage) -> None:
    show = add_show(storage, "one")
    other = add_show(storage, "two")
    record = save(storage, 1)
    with pytest.raises(NotFoundError):
        storage.add_link(999, show.series_id, None, Relation.REVIEWS, T1)
    with pytest.raises(NotFoundError):
        storage.add_link(record.id, 999, None, Relation.REVIEWS, T1)
    with pytest.raises(NotFoundError):
        storage.add_link(record.id, show.series_id, other.episodes[1], Relation.REVIEWS, T1)
    with pytest.raises(NotFoundError):
        storage.set_link_status(999, LinkStatus.CONFIRMED, T1)
    assert storage.list_links(include_rejected=True) == []


def test_replace_links_checks_its_input(storage: Storage) -> None:
    show = add_show(storage, "one")
    other = add_show(storage, "two")
    record = save(storage, 1)
    with pytest.raises(NotFoundError):
        storage.replace_links(999, [], linker_version="v1", now=T1)
    with pytest.raises(ValueError, match="not an episode of series"):
        storage.replace_links(
            record.id, [proposal(show.series_id, other.episodes[1])], linker_version="v1", now=T1
        )
    with pytest.raises(ValueError, match="score"):
        storage.replace_links(
            record.id, [proposal(show.series_id, score=1.5)], linker_version="v1", now=T1
        )
    assert storage.get_review(record.id).linker_version is None  # nothing written


def test_proposals_for_deleted_targets_are_dropped_and_duplicates_merged(
    storage: Storage,
) -> None:
    show = add_show(storage, "one")
    gone = add_show(storage, "two")
    record = save(storage, 1)
    storage.remove_feed(gone.feed_id)  # after the linker read the catalog, say
    links = storage.replace_links(
        record.id,
        [
            proposal(show.series_id, score=0.3),
            proposal(show.series_id, score=0.9, kind="hyperlink"),
            proposal(gone.series_id),
            proposal(show.series_id, 99_999),
        ],
        linker_version="v1",
        now=T1,
    )
    assert [(x.series_id, x.episode_id, x.score) for x in links] == [(show.series_id, None, 0.9)]
    assert [e.kind for e in links[0].evidence] == ["hyperlink"]


def test_one_series_level_link_per_review_and_series(storage: Storage) -> None:
    show = add_show(storage)
    record = save(storage, 1)
    [link] = storage.replace_links(
        record.id, [proposal(show.series_id)], linker_version="v1", now=T1
    )
    row = {
        "review_id": record.id,
        "series_id": show.series_id,
        "relation": "reviews",
        "score": 0.5,
        "evidence": [],
        "status": "auto",
        "created_at": T1,
        "updated_at": T1,
    }
    engine = storage._write_engine  # white-box: write past the API to test the schema
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(LINK).values(**row, episode_id=None, episode_key=0))
    # The key must follow the episode id: a second series-level row cannot hide
    # behind another key.
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(LINK).values(**row, episode_id=None, episode_key=7))
    # Through the API, a second series-level link is the same link.
    storage.add_link(record.id, show.series_id, None, Relation.REVIEWS, T2)
    assert [x.id for x in storage.list_links(include_rejected=True)] == [link.id]


def test_one_link_per_review_and_episode(storage: Storage) -> None:
    show = add_show(storage)
    record = save(storage, 1)
    ep1 = show.episodes[1]
    storage.replace_links(record.id, [proposal(show.series_id, ep1)], linker_version="v1", now=T1)
    row = {
        "review_id": record.id,
        "series_id": show.series_id,
        "episode_id": ep1,
        "episode_key": ep1,
        "relation": "reviews",
        "score": 0.5,
        "evidence": [],
        "status": "auto",
        "created_at": T1,
        "updated_at": T1,
    }
    with pytest.raises(IntegrityError), storage._write_engine.begin() as connection:
        connection.execute(insert(LINK).values(**row))
    assert len(storage.list_links()) == 1


# --- links: queries ------------------------------------------------------------------


def test_list_links_describes_both_ends_and_orders_them(storage: Storage) -> None:
    show = add_show(storage)
    older = save(storage, 1)
    newer = save(storage, 2)
    ep1, ep2 = show.episodes[1], show.episodes[2]
    storage.replace_links(
        older.id,
        [proposal(show.series_id, ep1, score=0.6), proposal(show.series_id, ep2, score=0.9)],
        linker_version="v1",
        now=T1,
    )
    storage.replace_links(
        newer.id,
        [proposal(show.series_id, ep1, score=0.95), proposal(show.series_id, score=0.5)],
        linker_version="v1",
        now=T1,
    )
    links = storage.list_links()
    # Newest review first; within it the series link, then episodes by score.
    assert [(x.review_id, x.episode_id) for x in links] == [
        (newer.id, None),
        (newer.id, ep1),
        (older.id, ep2),
        (older.id, ep1),
    ]
    first_episode_link = links[1]
    assert first_episode_link.review_url == "https://blog.example/review-2"
    assert first_episode_link.review_title == "On the show, part 2"
    assert first_episode_link.review_published == T0 + timedelta(days=2)
    assert first_episode_link.series_title == "Show"
    assert first_episode_link.feed_url == "https://show.example/feed.xml"
    assert first_episode_link.episode_guid == "urn:show:1"
    assert first_episode_link.episode_title == "show 1"
    assert first_episode_link.episode_published == T0 + timedelta(weeks=1)
    assert links[0].episode_guid is None and links[0].episode_title is None

    assert [x.review_id for x in storage.list_links(episode_id=ep1)] == [newer.id, older.id]
    assert [x.episode_id for x in storage.list_links(review_id=older.id)] == [ep2, ep1]
    assert len(storage.list_links(series_id=show.series_id)) == 4
    assert [x.episode_id for x in storage.list_links(limit=2, offset=1)] == [ep1, ep2]


def test_list_links_feed_url_follows_a_moved_feed(storage: Storage) -> None:
    show = add_show(storage)
    record = save(storage, 1)
    storage.replace_links(record.id, [proposal(show.series_id)], linker_version="v1", now=T1)
    moved = ok_update(show.feed_id, T1, url="https://new.example/feed.xml")
    storage.apply_poll(moved, None, T1)
    assert [x.feed_url for x in storage.list_links()] == ["https://new.example/feed.xml"]


def test_list_filters_on_unknown_ids_raise_not_found(storage: Storage) -> None:
    with pytest.raises(NotFoundError):
        storage.list_links(review_id=5)
    with pytest.raises(NotFoundError):
        storage.list_links(series_id=5)
    with pytest.raises(NotFoundError):
        storage.list_links(episode_id=5)
    with pytest.raises(NotFoundError):
        storage.reviews_page(series_id=5)
    with pytest.raises(NotFoundError):
        storage.reviews_page(episode_id=5)


def test_reviews_of_a_series_or_episode_leave_out_rejected_links(storage: Storage) -> None:
    one = add_show(storage, "one")
    two = add_show(storage, "two")
    a, b, c = (save(storage, n) for n in (1, 2, 3))
    storage.replace_links(a.id, [proposal(one.series_id)], linker_version="v1", now=T1)
    [b_link] = storage.replace_links(
        b.id, [proposal(one.series_id, one.episodes[2])], linker_version="v1", now=T1
    )
    [c_link] = storage.replace_links(
        c.id, [proposal(one.series_id, one.episodes[2])], linker_version="v1", now=T1
    )
    storage.add_link(c.id, two.series_id, None, Relation.MENTIONS, T1)
    storage.set_link_status(c_link.id, LinkStatus.REJECTED, T1)

    assert [r.id for r in storage.reviews_page(series_id=one.series_id)] == [b.id, a.id]
    assert [r.id for r in storage.reviews_page(episode_id=one.episodes[2])] == [b.id]
    assert [r.id for r in storage.reviews_page(series_id=two.series_id)] == [c.id]
    assert storage.reviews_page(episode_id=one.episodes[1]) == []
    assert b_link.status is LinkStatus.AUTO


def test_counts_by_relation_leave_out_rejected(storage: Storage) -> None:
    show = add_show(storage)
    a, b = save(storage, 1), save(storage, 2)
    assert storage.link_counts() == {"reviews": 0, "mentions": 0}
    storage.replace_links(
        a.id,
        [proposal(show.series_id), proposal(show.series_id, show.episodes[1])],
        linker_version="v1",
        now=T1,
    )
    [mention] = storage.replace_links(
        b.id,
        [proposal(show.series_id, relation=Relation.MENTIONS)],
        linker_version="v1",
        now=T1,
    )
    assert storage.link_counts() == {"reviews": 2, "mentions": 1}
    storage.set_link_status(mention.id, LinkStatus.REJECTED, T1)
    assert storage.link_counts() == {"reviews": 2, "mentions": 0}
    assert storage.review_count() == 2


# --- feeds going away --------------------------------------------------------------


def test_removing_a_podcast_feed_removes_its_links_not_the_reviews(storage: Storage) -> None:
    gone = add_show(storage, "gone")
    kept = add_show(storage, "kept")
    record = save(storage, 1)
    storage.replace_links(
        record.id,
        [proposal(gone.series_id), proposal(gone.series_id, gone.episodes[1])],
        linker_version="v1",
        now=T1,
    )
    storage.add_link(record.id, kept.series_id, kept.episodes[1], Relation.MENTIONS, T1)
    storage.remove_feed(gone.feed_id)
    assert [(x.series_id, x.episode_id) for x in storage.list_links(include_rejected=True)] == [
        (kept.series_id, kept.episodes[1])
    ]
    assert storage.get_review(record.id).id == record.id
    assert [s.id for s in series_records(storage)] == [kept.series_id]


def test_removing_an_episode_removes_its_links(storage: Storage) -> None:
    show = add_show(storage)
    record = save(storage, 1)
    storage.replace_links(
        record.id,
        [proposal(show.series_id), proposal(show.series_id, show.episodes[1])],
        linker_version="v1",
        now=T1,
    )
    with storage._write_engine.begin() as connection:  # storage never deletes episodes
        connection.execute(text("DELETE FROM episode WHERE id = :id"), {"id": show.episodes[1]})
    assert [x.episode_id for x in storage.list_links()] == [None]


def test_removing_a_reviews_feed_keeps_its_reviews(storage: Storage) -> None:
    show = add_show(storage)
    blog = storage.add_feed("https://blog.example/feed", FeedKind.REVIEWS, T0).id
    document = review(1)
    record = storage.save_review(
        document, content_hash=text_hash(document), source="feed", now=T0, feed_id=blog
    ).review
    storage.replace_links(record.id, [proposal(show.series_id)], linker_version="v1", now=T1)
    storage.remove_feed(blog)
    kept = storage.get_review(record.id)
    assert kept == replace(record, feed_id=None, linker_version="v1", linked_at=T1)
    assert len(storage.list_links()) == 1


# --- the catalog ---------------------------------------------------------------------


def test_catalog_holds_what_was_stored_as_plain_text(storage: Storage) -> None:
    host = Person("Rukmini Callimachi", role="host", href="https://nyt.example/rc")
    guest = Person("Abu Huzaifa", role="guest")
    feed_id = storage.add_feed("https://caliphate.example/rss", FeedKind.PODCAST, T0).id
    show = series(
        "Caliphate",
        author="The New York Times",
        owner_name="NYT",
        description_html="<p>A <i>ten-part</i> series &amp; more.</p><p>From the Times.</p>",
        link="https://nyt.example/caliphate",
        image="https://nyt.example/c.jpg",
        categories=("News", "Politics"),
        persons=(host,),
    )
    first = episode(
        1,
        title="Chapter One: The Hunt",
        description_html="<p>Rukmini&nbsp;meets <b>a defector</b>.<br>Part one.</p>",
        persons=(guest,),
        season=1,
        episode_type="trailer",
    )
    gone = episode(2, title="Chapter Two")
    undated = episode(3, title="Chapter Three", published=None)
    storage.apply_poll(ok_update(feed_id, T0), feed(first, gone, undated, show=show), T0)
    storage.apply_poll(ok_update(feed_id, T1), feed(first, undated, show=show), T1)

    [entry] = storage.catalog()
    assert entry.title == "Caliphate"
    assert entry.feed_url == "https://caliphate.example/rss"
    assert (entry.author, entry.owner_name) == ("The New York Times", "NYT")
    # By hand, from html_to_text's rules (blocks -> line breaks, entities decoded).
    assert entry.description_text == "A ten-part series & more.\nFrom the Times."
    assert (entry.link, entry.image) == (
        "https://nyt.example/caliphate",
        "https://nyt.example/c.jpg",
    )
    assert entry.categories == ("News", "Politics")
    assert entry.persons == (host,)
    # Oldest first, undated last; the episode gone from the feed is still there.
    assert [e.title for e in entry.episodes] == [
        "Chapter One: The Hunt",
        "Chapter Two",
        "Chapter Three",
    ]
    one = entry.episodes[0]
    assert one.description_text == "Rukmini meets a defector.\nPart one."
    assert one.persons == (guest,)
    assert (one.guid, one.series_id, one.season, one.number) == ("urn:show:1", entry.id, 1, 1)
    assert one.episode_type == "trailer"
    assert one.published == T0 + timedelta(weeks=1)
    assert one.link == "https://show.example/1"
    assert one.enclosure_url == "https://cdn.example/ep1.mp3"
    stored = {e.guid: e.id for e in episode_records(storage)}
    assert {e.guid: e.id for e in entry.episodes} == stored


def test_catalog_of_some_series(storage: Storage) -> None:
    one = add_show(storage, "one", episodes=2)
    two = add_show(storage, "two", episodes=1)
    three = add_show(storage, "three", episodes=4)
    picked = storage.catalog([three.series_id, one.series_id, 999])
    assert [(s.id, len(s.episodes)) for s in picked] == [(one.series_id, 2), (three.series_id, 4)]
    assert {e.series_id for e in picked[1].episodes} == {three.series_id}
    assert storage.catalog([]) == []
    assert [s.id for s in storage.catalog()] == [one.series_id, two.series_id, three.series_id]


def test_catalog_derives_text_missing_from_rows_written_before_it_was_stored(
    storage: Storage,
) -> None:
    feed_id = storage.add_feed("https://a.example/feed", FeedKind.PODCAST, T0).id
    item = episode(1, description_html="<p>Hello&amp;<br>bye</p>")
    storage.apply_poll(ok_update(feed_id, T0), feed(item), T0)
    with storage._write_engine.begin() as connection:
        connection.execute(update(EPISODE).values(description_text=None))
    [entry] = storage.catalog()
    assert entry.episodes[0].description_text == "Hello&\nbye"


def test_catalog_of_10k_episodes(storage: Storage) -> None:
    feed_id = storage.add_feed("https://big.example/feed", FeedKind.PODCAST, T0).id
    items = [episode(n, persons=(Person(f"Guest {n}", role="guest"),)) for n in range(1, 10_001)]
    storage.apply_poll(ok_update(feed_id, T0), feed(*items), T0)
    [entry] = storage.catalog()
    assert len(entry.episodes) == 10_000
    assert entry.episodes[-1].description_text == "About episode 10000."
    assert entry.episodes[-1].persons == (Person("Guest 10000", role="guest"),)


# --- evidence round trip ------------------------------------------------------------


def test_evidence_reads_back_exactly(storage: Storage) -> None:
    show = add_show(storage)
    record = save(storage, 1)
    evidence = (
        Evidence("person", "Challimachi", 10, 21, "host Rukmini Callimachi (ratio 91)"),
        Evidence("hyperlink", "the show", -1, -1, "https://show.example/"),
    )
    proposed = replace(proposal(show.series_id, show.episodes[3]), evidence=evidence)
    [link] = storage.replace_links(record.id, [proposed], linker_version="v1", now=T1)
    assert link.evidence == evidence
    assert storage.list_links()[0].evidence == evidence
