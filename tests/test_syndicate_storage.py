"""The store's side of the combined feeds, on SQLite and PostgreSQL: feed versions
(what a 304 is decided on), series extras and the reviews feed's rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.exceptions import NotFoundError
from aggregator.storage import Storage
from aggregator.storage._combined import FEED_REVIEW_CHARS
from aggregator.types import FeedKind, LinkStatus, Relation, ReviewRecord
from tests.fakes import T0, episode, feed, ok_update, proposal, review, series, text_hash
from tests.stored import episode_records, series_records

T1 = T0 + timedelta(days=1)
T2 = T0 + timedelta(days=2)


@dataclass(frozen=True)
class Show:
    feed_id: int
    series_id: int
    episodes: dict[int, int]  # number -> id


def add_show(storage: Storage, name: str, episodes: int = 3) -> Show:
    feed_id = storage.add_feed(f"https://{name}.example/feed.xml", FeedKind.PODCAST, T0).id
    poll(storage, feed_id, name, episodes)
    series_id = next(s.id for s in series_records(storage) if s.feed_id == feed_id)
    ids = {e.number: e.id for e in episode_records(storage, series_id) if e.number is not None}
    return Show(feed_id, series_id, ids)


def poll(
    storage: Storage, feed_id: int, name: str, episodes: int, when: datetime = T0, **kw: object
) -> None:
    """A poll of show ``name`` at ``when`` with episodes 1..``episodes``."""
    items = [
        episode(n, guid=f"urn:{name}:{n}", title=f"{name} {n}", **kw)
        for n in range(1, 1 + episodes)
    ]
    show = series(name.title(), owner_name="Owner", owner_email="owner@example.com")
    storage.apply_poll(ok_update(feed_id, when), feed(*items, show=show), when)


def save(storage: Storage, n: int, when: datetime = T0, **overrides: object) -> ReviewRecord:
    document = review(n, **overrides)
    saved = storage.save_review(document, content_hash=text_hash(document), source="url", now=when)
    return saved.review


def token(storage: Storage, show: Show) -> str:
    return storage.feed_version(series_id=show.series_id).token


def test_series_version_is_stable_until_something_the_feed_shows_changes(storage: Storage) -> None:
    show = add_show(storage, "alpha")
    other = add_show(storage, "beta")
    first = storage.feed_version(series_id=show.series_id)
    assert first == storage.feed_version(series_id=show.series_id)
    assert first.last_modified == T0
    assert first.last_modified is not None and first.last_modified.tzinfo is UTC

    # Another series' poll and an unlinked review change nothing here.
    poll(storage, other.feed_id, "beta", 4, T1)
    save(storage, 1, T1)
    assert token(storage, show) == first.token

    seen = [first.token]

    def changed() -> None:
        now = token(storage, show)
        assert now != seen[-1]
        seen.append(now)

    # Each change at its own time, as the real clock (microseconds) gives them.
    at = iter(T1 + timedelta(hours=h) for h in range(1, 20))
    poll(storage, show.feed_id, "alpha", 4, next(at))  # a new episode
    changed()
    poll(storage, show.feed_id, "alpha", 4, next(at), description_html="<p>new</p>")  # rewritten
    changed()
    missing_at = next(at)
    poll(storage, show.feed_id, "alpha", 3, missing_at, description_html="<p>new</p>")  # 1 gone
    changed()
    linked = save(storage, 2, next(at))
    storage.replace_links(
        linked.id, [proposal(show.series_id, show.episodes[1])], linker_version="v", now=next(at)
    )
    changed()
    link = storage.list_links(review_id=linked.id)[0]
    storage.set_link_status(link.id, LinkStatus.REJECTED, next(at))
    changed()
    storage.add_link(linked.id, show.series_id, show.episodes[2], Relation.MENTIONS, next(at))
    changed()
    last = next(at)
    save(storage, 2, last, text="A rewritten review text.")  # the linked review's text
    changed()
    assert storage.feed_version(series_id=show.series_id).last_modified == last
    storage.delete_review(linked.id)  # leaves no time behind, only fewer rows
    changed()
    # Which is what the feed showed before the review came: the same version again.
    assert seen[-1] == seen[3]
    # So is its time: Last-Modified steps back (docs/namespace.md says what that means
    # for a client that sends only If-Modified-Since).
    assert storage.feed_version(series_id=show.series_id).last_modified == missing_at


def test_relinking_away_from_a_series_changes_its_version_and_time(storage: Storage) -> None:
    show = add_show(storage, "alpha")
    other = add_show(storage, "beta")
    linked = save(storage, 1)
    storage.replace_links(linked.id, [proposal(show.series_id)], linker_version="v", now=T0)
    before = storage.feed_version(series_id=show.series_id)
    # The linker changes its mind: the review is about the other show now. The link
    # to this series is deleted, and leaves no row behind to date the change.
    storage.replace_links(linked.id, [proposal(other.series_id)], linker_version="v2", now=T2)
    after = storage.feed_version(series_id=show.series_id)
    assert after.token != before.token
    assert after.last_modified == T2


def test_reviews_version_follows_links_reviews_and_their_episodes(storage: Storage) -> None:
    show = add_show(storage, "alpha")
    other = add_show(storage, "beta")
    everything = storage.feed_version(reviews=True)
    assert everything.last_modified is None
    linked = save(storage, 1, T1)
    storage.add_link(linked.id, other.series_id, other.episodes[1], Relation.REVIEWS, T1)
    of_show = storage.feed_version(series_id=show.series_id, reviews=True)
    assert storage.feed_version(reviews=True).token != everything.token
    assert storage.feed_version(reviews=True).last_modified == T1

    # The reviewed episode's enclosure moves: the reviews feed plays it from there.
    before = storage.feed_version(reviews=True).token
    poll(storage, other.feed_id, "beta", 3, T2, description_html="<p>changed</p>")
    assert storage.feed_version(reviews=True).token != before
    # Nothing of it is about alpha.
    assert storage.feed_version(series_id=show.series_id, reviews=True) == of_show
    with pytest.raises(NotFoundError):
        storage.feed_version(series_id=9999, reviews=True)
    with pytest.raises(NotFoundError):
        storage.feed_version(series_id=9999)


def test_series_feed_rows_are_present_episodes_with_authors_and_the_owner(
    storage: Storage,
) -> None:
    feed_id = storage.add_feed("https://a.example/feed.xml", FeedKind.PODCAST, T0).id
    items = [episode(1, author="Ann"), episode(2), episode(3, published=None)]
    show = series("A", owner_name="Owner", owner_email="owner@example.com")
    storage.apply_poll(ok_update(feed_id, T0), feed(*items, show=show), T0)
    # Episode 2 leaves the feed; 4 arrives.
    storage.apply_poll(ok_update(feed_id, T1), feed(items[0], items[2], episode(4), show=show), T1)
    series_id = series_records(storage)[0].id
    ids = {e.number: e.id for e in episode_records(storage, series_id)}
    rows = storage.series_feed_rows(series_id, limit=10)
    # The listing's order, missing ones left out; the records read back the same.
    listed = [e for e in episode_records(storage, series_id) if e.missing_since is None]
    assert list(rows.episodes) == listed
    assert [e.number for e in rows.episodes] == [4, 1, 3]
    assert rows.series == storage.series_row(series_id).series  # episode count included
    assert rows.series.episode_count == 4
    assert (rows.owner_name, rows.owner_email) == ("Owner", "owner@example.com")
    assert dict(rows.episode_authors) == {ids[1]: "Ann"}
    assert not rows.more
    with pytest.raises(NotFoundError):
        storage.series_feed_rows(9999, limit=10)


def test_series_feed_rows_come_a_page_at_a_time_with_that_page_s_links(
    storage: Storage,
) -> None:
    show = add_show(storage, "alpha", episodes=5)  # newest first: 5, 4, 3, 2, 1
    about_show = save(storage, 1)
    about_4 = save(storage, 2)
    about_1 = save(storage, 3, text="Episode 1 " + "and more " * 10_000)  # 90,010 chars
    rejected = save(storage, 4)
    storage.add_link(about_show.id, show.series_id, None, Relation.REVIEWS, T0)
    storage.add_link(about_4.id, show.series_id, show.episodes[4], Relation.REVIEWS, T0)
    storage.add_link(about_1.id, show.series_id, show.episodes[1], Relation.MENTIONS, T0)
    link = storage.add_link(rejected.id, show.series_id, show.episodes[5], Relation.REVIEWS, T0)
    storage.set_link_status(link.id, LinkStatus.REJECTED, T0)

    first = storage.series_feed_rows(show.series_id, limit=2)
    assert [e.number for e in first.episodes] == [5, 4]
    assert first.more
    assert sorted((x.review_id, x.episode_id) for x in first.links) == [
        (about_show.id, None),
        (about_4.id, show.episodes[4]),
    ]
    assert sorted(first.reviews) == [about_show.id, about_4.id]
    assert first.reviews[about_4.id].text == about_4.text

    second = storage.series_feed_rows(show.series_id, limit=2, offset=2)
    assert ([e.number for e in second.episodes], second.more) == ([3, 2], True)
    assert [(x.review_id, x.episode_id) for x in second.links] == [(about_show.id, None)]

    last = storage.series_feed_rows(show.series_id, limit=2, offset=4)
    assert ([e.number for e in last.episodes], last.more) == ([1], False)
    assert sorted(x.review_id for x in last.links) == [about_show.id, about_1.id]
    # A long review is read only as far as a feed may quote it.
    assert last.reviews[about_1.id].text == about_1.text[:FEED_REVIEW_CHARS]
    assert len(about_1.text) > FEED_REVIEW_CHARS

    beyond = storage.series_feed_rows(show.series_id, limit=2, offset=6)
    assert (beyond.episodes, beyond.more) == ((), False)
    assert [x.review_id for x in beyond.links] == [about_show.id]


def test_reviews_for_feed_are_the_newest_linked_ones_with_links_and_episodes(
    storage: Storage,
) -> None:
    show = add_show(storage, "alpha")
    other = add_show(storage, "beta")
    old = save(storage, 1)  # published T0 + 1 day
    new = save(storage, 3)  # T0 + 3 days
    save(storage, 4)  # never linked
    rejected_only = save(storage, 5)
    storage.replace_links(
        old.id,
        [proposal(show.series_id, show.episodes[2]), proposal(other.series_id)],
        linker_version="v",
        now=T0,
    )
    storage.add_link(new.id, show.series_id, None, Relation.REVIEWS, T0)
    link = storage.add_link(rejected_only.id, show.series_id, None, Relation.REVIEWS, T0)
    storage.set_link_status(link.id, LinkStatus.REJECTED, T0)

    rows = storage.reviews_for_feed(series_id=None, limit=10)
    assert [r.id for r in rows.reviews] == [new.id, old.id]
    assert sorted((x.review_id, x.series_id, x.episode_id) for x in rows.links) == sorted(
        [
            (old.id, show.series_id, show.episodes[2]),
            (old.id, other.series_id, None),
            (new.id, show.series_id, None),
        ]
    )
    assert list(rows.episodes) == [show.episodes[2]]
    assert rows.episodes[show.episodes[2]].guid == "urn:alpha:2"
    assert rows.series == {
        show.series_id: storage.series_row(show.series_id).series,
        other.series_id: storage.series_row(other.series_id).series,
    }

    assert [r.id for r in storage.reviews_for_feed(series_id=None, limit=1).reviews] == [new.id]
    of_other = storage.reviews_for_feed(series_id=other.series_id, limit=10)
    assert [r.id for r in of_other.reviews] == [old.id]
    assert [(x.series_id, x.episode_id) for x in of_other.links] == [(other.series_id, None)]
    assert of_other.episodes == {}
    assert list(of_other.series) == [other.series_id]
    # A series without reviews still describes itself (the feed's title is its).
    nothing = storage.reviews_for_feed(series_id=add_show(storage, "gamma").series_id, limit=5)
    assert (nothing.reviews, nothing.links) == ((), ())
    assert [s.title for s in nothing.series.values()] == ["Gamma"]
    with pytest.raises(NotFoundError):
        storage.reviews_for_feed(series_id=9999, limit=10)
