"""The ticker: one APScheduler job that polls what is due, then runs the chores."""

from __future__ import annotations

import threading

from aggregator.app import utcnow
from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.poller import Poller
from aggregator.feeds.scheduler import Ticker
from aggregator.settings import FetchSettings, PollSettings
from aggregator.storage import Storage
from aggregator.types import FeedKind
from tests.feedserver import FeedServer

RSS = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>Show {n}</title>'
    "<item><title>One</title><guid>{n}-1</guid></item></channel></rss>"
)


def test_one_tick_polls_every_due_feed_in_full_batches_then_the_chores(storage: Storage) -> None:
    with FeedServer() as server, Fetcher(FetchSettings(), clock=utcnow) as fetcher:
        for n in range(12):
            server.serve(f"/{n}.xml", RSS.format(n=n).encode())
            storage.add_feed(server.url(f"/{n}.xml"), FeedKind.PODCAST, utcnow())
        settings = PollSettings(workers=2, per_host=2, batch_size=5)
        poller = Poller(storage, fetcher, settings, clock=utcnow)
        polled_when_chore_ran: list[int] = []
        chore_done = threading.Event()

        def chore() -> None:
            polled_when_chore_ran.append(len(server.log))
            chore_done.set()

        # An hour between ticks: only the first, immediate tick runs in this test.
        ticker = Ticker(poller, 3600, batch_size=settings.batch_size, chores=[chore])
        ticker.start()
        try:
            assert chore_done.wait(30)
        finally:
            ticker.stop()
    # 5 + 5 + 2: batches claimed back to back in one tick, each feed once.
    assert sorted(r.path for r in server.log) == sorted(f"/{n}.xml" for n in range(12))
    assert polled_when_chore_ran == [12]
    assert storage.due_feeds(utcnow(), 100) == []
