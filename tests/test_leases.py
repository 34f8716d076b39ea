"""Claims on feeds and on linking work, on SQLite and PostgreSQL (see aggregator.feeds.leases).

The multi-process behaviour is in test_scale_out; here each rule of a lease is pinned
down on its own: claims are disjoint even when made at the same moment, a stored poll
ends the claim, a lease that runs out returns the work, renewal keeps it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.feeds import leases
from aggregator.feeds.fetch import Fetcher
from aggregator.linking import LINKER_VERSION
from aggregator.reviews.service import Reviews
from aggregator.storage import Storage, open_storage
from aggregator.types import FeedKind, FeedStatus, FeedUpdate, ReviewDocument

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _feeds(storage: Storage, count: int) -> list[int]:
    return [
        storage.add_feed(f"https://feeds.example/{i}.xml", FeedKind.PODCAST, T0).id
        for i in range(count)
    ]


def _stored(feed_id: int, now: datetime) -> FeedUpdate:
    return FeedUpdate(
        feed_id=feed_id,
        polled_at=now,
        next_poll_at=now + timedelta(hours=1),
        status=FeedStatus.ACTIVE,
        error_count=0,
    )


def test_a_claimed_feed_is_not_due_for_anyone_else(storage: Storage) -> None:
    ids = _feeds(storage, 5)
    first = storage.claim_due_feeds(T0, 3, owner="a", lease_seconds=60)
    second = storage.claim_due_feeds(T0, 10, owner="b", lease_seconds=60)
    assert [f.id for f in first] == ids[:3]  # never-polled first, by id
    assert [f.id for f in second] == ids[3:]
    assert storage.claim_due_feeds(T0, 10, owner="c", lease_seconds=60) == []
    assert storage.due_feeds(T0, 10) == []


def test_storing_the_poll_ends_the_claim(storage: Storage) -> None:
    (feed_id,) = _feeds(storage, 1)
    storage.claim_due_feeds(T0, 10, owner="a", lease_seconds=60)
    storage.apply_poll(_stored(feed_id, T0), None, T0)
    later = T0 + timedelta(hours=2)  # due again by its schedule, and free
    assert [f.id for f in storage.claim_due_feeds(later, 10, owner="b", lease_seconds=60)] == [
        feed_id
    ]


def test_batched_schedule_updates_end_their_claims_too(storage: Storage) -> None:
    ids = _feeds(storage, 3)
    storage.claim_due_feeds(T0, 10, owner="a", lease_seconds=60)
    storage.apply_schedule_updates([_stored(i, T0) for i in ids], T0)
    later = T0 + timedelta(hours=2)
    claimed = storage.claim_due_feeds(later, 10, owner="b", lease_seconds=60)
    assert sorted(f.id for f in claimed) == ids


def test_a_lease_that_runs_out_returns_the_feed(storage: Storage) -> None:
    (feed_id,) = _feeds(storage, 1)
    storage.claim_due_feeds(T0, 10, owner="dead", lease_seconds=60)
    assert (
        storage.claim_due_feeds(T0 + timedelta(seconds=59), 10, owner="b", lease_seconds=60) == []
    )
    after = storage.claim_due_feeds(T0 + timedelta(seconds=61), 10, owner="b", lease_seconds=60)
    assert [f.id for f in after] == [feed_id]


def test_renewal_extends_only_the_owner_s_live_leases(storage: Storage) -> None:
    a_ids = _feeds(storage, 2)
    storage.claim_due_feeds(T0, 2, owner="a", lease_seconds=60)
    storage.add_feed("https://feeds.example/late.xml", FeedKind.PODCAST, T0)
    storage.claim_due_feeds(T0, 10, owner="b", lease_seconds=60)
    renewed = storage.renew_feed_leases(T0 + timedelta(seconds=50), owner="a", lease_seconds=60)
    assert renewed == 2
    # a's feeds are held until 50 + 60 s; b's lease (60 s) has run out by then.
    at_70 = storage.claim_due_feeds(T0 + timedelta(seconds=70), 10, owner="c", lease_seconds=60)
    assert [f.url for f in at_70] == ["https://feeds.example/late.xml"]
    at_111 = storage.claim_due_feeds(T0 + timedelta(seconds=111), 10, owner="c", lease_seconds=60)
    assert sorted(f.id for f in at_111) == sorted(a_ids)
    # A lease that already ran out is not brought back by its old owner.
    assert storage.renew_feed_leases(T0 + timedelta(seconds=500), owner="a", lease_seconds=60) == 0


def test_released_feeds_can_be_claimed_at_once(storage: Storage) -> None:
    ids = _feeds(storage, 3)
    storage.claim_due_feeds(T0, 10, owner="a", lease_seconds=60)
    storage.release_feeds(ids[:2], owner="b")  # not b's to give back: no effect
    assert storage.claim_due_feeds(T0, 10, owner="b", lease_seconds=60) == []
    storage.release_feeds(ids[:2], owner="a")
    assert [f.id for f in storage.claim_due_feeds(T0, 10, owner="b", lease_seconds=60)] == ids[:2]


def test_concurrent_claims_never_share_a_feed(storage: Storage) -> None:
    """Eight claimers, each on its own connection pool, racing for 400 due feeds."""
    ids = _feeds_fast(storage, 400)
    taken: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def claimer(name: str) -> None:
        mine: list[int] = []
        try:
            with open_storage(storage.url) as own:
                start.wait()
                while batch := own.claim_due_feeds(T0, 7, owner=name, lease_seconds=60):
                    mine.extend(f.id for f in batch)
                    # A poller polls its batch before it claims again. Claiming back to
                    # back, one claimer on SQLite can take every batch before the
                    # others' busy handlers wake, and the claimers would not race.
                    time.sleep(0.005)
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)
        taken[name] = mine

    threads = [threading.Thread(target=claimer, args=(f"i{n}",)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    every = [feed_id for mine in taken.values() for feed_id in mine]
    assert sorted(every) == ids  # all claimed, none twice
    assert sum(1 for mine in taken.values() if mine) > 1  # they really raced


def _feeds_fast(storage: Storage, count: int) -> list[int]:
    urls = [(f"https://feeds.example/{i}.xml", FeedKind.PODCAST) for i in range(count)]
    assert storage.ensure_feeds(urls, T0) == count
    return sorted(f.id for f in storage.feeds_page())


def _review(storage: Storage, n: int) -> int:
    document = ReviewDocument(
        text=f"review number {n}: a podcast I liked", url=f"https://r.example/{n}"
    )
    record = storage.save_review(document, content_hash=f"h{n}", source="file", now=T0).review
    return record.id


def test_relink_work_is_claimed_once_and_returned_when_linked_or_expired(
    storage: Storage,
) -> None:
    ids = [_review(storage, n) for n in range(5)]
    a = storage.claim_reviews_needing_link(
        LINKER_VERSION, limit=3, now=T0, owner="a", lease_seconds=60
    )
    b = storage.claim_reviews_needing_link(
        LINKER_VERSION, limit=10, now=T0, owner="b", lease_seconds=60
    )
    assert [r.id for r in a] == ids[:3] and [r.id for r in b] == ids[3:]
    # b links its reviews: done, never claimed again under this linker version.
    for review in b:
        storage.replace_links(review.id, [], linker_version=LINKER_VERSION, now=T0)
    # a dies: its reviews come back when the lease runs out, and only then.
    assert (
        storage.claim_reviews_needing_link(
            LINKER_VERSION, limit=10, now=T0 + timedelta(seconds=59), owner="c", lease_seconds=60
        )
        == []
    )
    again = storage.claim_reviews_needing_link(
        LINKER_VERSION, limit=10, now=T0 + timedelta(seconds=61), owner="c", lease_seconds=60
    )
    assert [r.id for r in again] == ids[:3]


def _gone_pid() -> int:
    """The pid of a process that has run and exited (and been waited for)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_feeds_of_a_dead_process_on_this_host_are_taken_back_at_once(
    storage: Storage,
) -> None:
    me = leases.this_process()
    assert me is not None  # Linux: /proc tells host, boot and pid namespace
    ids = _feeds(storage, 4)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as alive:
        try:
            dead = _gone_pid()
            assert leases.process_gone(dead) and not leases.process_gone(alive.pid)
            holders = [
                ("dead-here", me.host, dead),  # gone from this host: taken back
                ("alive-here", me.host, alive.pid),  # still running: kept
                ("dead-elsewhere", "other-host boot pid:[1]", dead),  # cannot tell: kept
                ("unnamed", None, None),  # an older version's lease: kept
            ]
            for owner, host, pid in holders:
                storage.claim_due_feeds(T0, 1, owner=owner, lease_seconds=60, host=host, pid=pid)

            assert leases.take_back_from_dead(storage, T0, me) == 1

            free = storage.claim_due_feeds(T0, 10, owner="next", lease_seconds=60)
            assert [f.id for f in free] == ids[:1]
            assert storage.feeds_held_elsewhere(T0, owner="next") == (3, T0 + timedelta(seconds=60))
        finally:
            alive.kill()


def test_this_process_is_never_taken_for_dead(storage: Storage) -> None:
    me = leases.this_process()
    assert me is not None
    _feeds(storage, 1)
    storage.claim_due_feeds(T0, 1, owner="me", lease_seconds=60, host=me.host, pid=me.pid)
    assert leases.take_back_from_dead(storage, T0, me) == 0
    assert storage.claim_due_feeds(T0, 1, owner="other", lease_seconds=60) == []


def test_a_zombie_is_a_process_gone() -> None:
    # Killed but not yet waited for by its parent: it holds nothing any more.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert not leases.process_gone(proc.pid)
        proc.kill()
        deadline = time.monotonic() + 10
        while not leases.process_gone(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leases.process_gone(proc.pid)
        assert Path(f"/proc/{proc.pid}").exists()  # still a zombie: not waited for yet
    finally:
        proc.wait()


# --- review (re-linking) leases behave as feed leases do -----------------------------


def _claim_reviews(storage: Storage, owner: str, host: str | None, pid: int | None) -> list[int]:
    claimed = storage.claim_reviews_needing_link(
        LINKER_VERSION, limit=1, now=T0, owner=owner, lease_seconds=60, host=host, pid=pid
    )
    return [r.id for r in claimed]


def test_reviews_of_a_dead_process_on_this_host_are_taken_back_at_once(
    storage: Storage,
) -> None:
    me = leases.this_process()
    assert me is not None
    ids = [_review(storage, n) for n in range(4)]
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as alive:
        try:
            dead = _gone_pid()
            held = {
                owner: _claim_reviews(storage, owner, host, pid)
                for owner, host, pid in [
                    ("dead-here", me.host, dead),  # gone from this host: taken back
                    ("alive-here", me.host, alive.pid),  # still running: kept
                    ("dead-elsewhere", "other-host boot pid:[1]", dead),  # cannot tell
                    ("unnamed", None, None),  # an older version's lease: kept
                ]
            }
            assert sorted(i for mine in held.values() for i in mine) == ids

            assert leases.take_back_reviews_from_dead(storage, T0, me) == 1

            free = storage.claim_reviews_needing_link(
                LINKER_VERSION, limit=10, now=T0, owner="next", lease_seconds=60
            )
            assert [r.id for r in free] == held["dead-here"]
        finally:
            alive.kill()


def test_this_process_never_takes_its_own_reviews_for_dead(storage: Storage) -> None:
    me = leases.this_process()
    assert me is not None
    _review(storage, 1)
    assert _claim_reviews(storage, "me", me.host, me.pid) != []
    assert leases.take_back_reviews_from_dead(storage, T0, me) == 0
    assert _claim_reviews(storage, "other", None, None) == []


def _reviews(storage: Storage, fetcher: Fetcher, owner: str) -> Reviews:
    return Reviews(storage, fetcher, clock=lambda: T0, owner=owner, lease_seconds=60)


def _leased(storage: Storage) -> int:
    """Reviews under a live lease: none is free to claim at T0 that needs linking."""
    needing = storage.reviews_needing_link(LINKER_VERSION, limit=1000)
    free = storage.claim_reviews_needing_link(
        LINKER_VERSION, limit=1000, now=T0, owner="probe", lease_seconds=1
    )
    storage.release_reviews([r.id for r in free], owner="probe")
    return len(needing) - len(free)


def test_relinking_takes_back_at_once_the_reviews_a_killed_process_held(
    storage: Storage, fetcher: Fetcher
) -> None:
    # `aggregator run` killed with -9 while re-linking: the next one on this host
    # links those reviews now, not when their leases run out.
    me = leases.this_process()
    assert me is not None
    ids = [_review(storage, n) for n in range(3)]
    storage.claim_reviews_needing_link(
        LINKER_VERSION, limit=3, now=T0, owner="killed", lease_seconds=60, host=me.host,
        pid=_gone_pid(),
    )  # fmt: skip
    assert _reviews(storage, fetcher, "next").relink_outdated() == 3
    assert storage.reviews_needing_link(LINKER_VERSION, limit=10) == []
    assert {r.id for r in storage.reviews_page()} == set(ids)


def test_a_stop_ends_relinking_after_the_batch_and_leaves_nothing_claimed(
    storage: Storage, fetcher: Fetcher
) -> None:
    # SIGTERM to `aggregator run` while it re-links 45 reviews: the batch being
    # linked is finished, no further one is claimed, and no review is left leased.
    for n in range(45):
        _review(storage, n)
    asked: list[bool] = []

    def stop() -> bool:
        asked.append(len(asked) >= 2)  # before the first claim, and after it: go on
        return asked[-1]

    reviews = _reviews(storage, fetcher, "stopping")
    assert reviews.relink_outdated(stop=stop) == Reviews.RELINK_CLAIM
    assert len(storage.reviews_needing_link(LINKER_VERSION, limit=100)) == 45 - 20
    assert _leased(storage) == 0


def test_a_stop_that_comes_while_claiming_gives_the_batch_back(
    storage: Storage, fetcher: Fetcher
) -> None:
    for n in range(5):
        _review(storage, n)
    answers = iter([False, True])  # not yet before the claim; stopping once it is made
    reviews = _reviews(storage, fetcher, "stopping")
    assert reviews.relink_outdated(stop=lambda: next(answers)) == 0
    assert len(storage.reviews_needing_link(LINKER_VERSION, limit=100)) == 5
    assert _leased(storage) == 0
