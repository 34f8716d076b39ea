"""Benchmark: CPU of storing a feed's first poll (``Storage.apply_poll``), parse excluded.

    python bench/first_poll_store.py [--database URL] [--feeds 100]

Three real feeds (13, 28 and 59 episodes) are parsed once; each is then stored as the
first poll of ``--feeds`` new feeds (feed row, series insert, episode upsert). Prints
the CPU of our process per ``apply_poll``. Run it with ``PYTHONPATH`` set to another
checkout to compare code side by side. The feeds it adds are deleted at the end.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from aggregator.feeds.parse import parse_feed
from aggregator.storage import open_storage
from aggregator.types import FeedKind, FeedStatus, FeedUpdate, Validators

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "feeds" / "real"
FEEDS = [
    ROOT / "examples" / "feeds" / "caliphate.xml",
    SHARED / "serial__podkit-2017.xml",
    SHARED / "dw-langsam-gesprochene-nachrichten__partytime-2022.xml",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default=None)
    parser.add_argument("--feeds", type=int, default=100)
    args = parser.parse_args()
    url = args.database or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    storage = open_storage(url)
    storage.migrate()
    parsed = [parse_feed(f.read_bytes(), url="http://example.test/", headers={}) for f in FEEDS]
    now = datetime.now(UTC)
    tag = f"http://bench.invalid/{time.time()}/"
    n = args.feeds
    feeds = [storage.add_feed(f"{tag}{i}", FeedKind.PODCAST, now) for i in range(3 * n + 1)]

    def update(feed_id: int) -> FeedUpdate:
        return FeedUpdate(
            feed_id=feed_id,
            polled_at=now,
            next_poll_at=now + timedelta(hours=1),
            status=FeedStatus.ACTIVE,
            url=None,
            validators=Validators(etag='"bench"'),
            content_hash="bench",
            error_count=0,
            last_error=None,
            warning=None,
            note=None,
            typical_gap_minutes=60,
            newest_published_at=now,
            ttl_minutes=None,
        )

    try:
        storage.apply_poll(update(feeds[-1].id), parsed[0], now)  # warm up
        for k, feed in enumerate(parsed):
            cpu = time.process_time()
            for record in feeds[k * n : (k + 1) * n]:
                storage.apply_poll(update(record.id), feed, now)
            per = 1000 * (time.process_time() - cpu) / n
            print(f"{len(feed.episodes)} episodes: {per:.1f} ms CPU per apply_poll")
    finally:
        with storage._write("removing the bench's feeds") as session:
            session.connection().execute(
                text("DELETE FROM feed WHERE url LIKE :u"), {"u": tag + "%"}
            )
        storage.close()


if __name__ == "__main__":
    main()
