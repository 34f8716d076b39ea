"""A store for the browsing pages' tests: the web tests' site plus two series titled
"Serial" (different publishers), served with artwork and audio from 127.0.0.1, and
reviews that name their authors.

``browsing_site`` polls the two feeds from a real ``FeedServer``, whose address also
serves the artwork (a PNG) and each episode's enclosure (a one-second WAV), so the
pages load them as a reader's browser would load a publisher's files.
"""

from __future__ import annotations

import io
import struct
import wave
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from aggregator.types import FeedKind, Relation
from tests.feedserver import FeedServer
from tests.stored import episode_records, series_records
from tests.test_web import Site, running_site

ANN = "Ann Critic"
SERIAL_A = "Serial Productions"
SERIAL_B = "Cereal Killers Club"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour with a lighter diagonal band: artwork a test can tell apart."""
    light = bytes(min(255, c + 90) for c in rgb)
    rows = b"".join(
        b"\x00" + b"".join(light if abs(x - y) < width // 8 else bytes(rgb) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A WAV file of silence, ``seconds`` long."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(b"\x80" * int(seconds * rate))
    return out.getvalue()


def serial_feed(server: FeedServer, key: str, author: str) -> str:
    base = server.url(f"/{key}")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
<channel>
  <title>Serial</title>
  <link>{base}/</link>
  <description>A story told week by week ({author}).</description>
  <itunes:author>{author}</itunes:author>
  <itunes:image href="{base}/art.png"/>
  <item>
    <title>Episode 01: The Alibi ({key})</title>
    <guid>{key}-1</guid>
    <pubDate>Thu, 02 Oct 2014 10:00:00 +0000</pubDate>
    <description>The first week.</description>
    <enclosure url="{base}/ep1.wav" type="audio/wav" length="8044"/>
    <itunes:duration>1</itunes:duration>
  </item>
  <item>
    <title>Episode 02: The Breakup ({key})</title>
    <guid>{key}-2</guid>
    <pubDate>Thu, 09 Oct 2014 10:00:00 +0000</pubDate>
    <description>The second week.</description>
    <enclosure url="{base}/ep2.wav" type="audio/wav" length="8044"/>
  </item>
</channel>
</rss>
"""


@dataclass(frozen=True)
class BrowsingSite:
    site: Site
    server: FeedServer
    serial_a: int  # series ids
    serial_b: int
    ann_reviews: tuple[int, ...]  # review ids, newest first

    @property
    def base_url(self) -> str:
        return self.site.base_url


def _add_serials(site: Site, server: FeedServer) -> tuple[int, int]:
    app = site.app
    ids = []
    for key, author, colour in (("a", SERIAL_A, (170, 40, 40)), ("b", SERIAL_B, (30, 90, 160))):
        server.serve(f"/{key}/feed.xml", serial_feed(server, key, author).encode())
        server.serve(f"/{key}/art.png", png(120, 120, colour), content_type="image/png")
        for n in (1, 2):
            server.serve(f"/{key}/ep{n}.wav", wav(), content_type="audio/wav")
        feed = app.storage.add_feed(server.url(f"/{key}/feed.xml"), FeedKind.PODCAST, app.clock())
        assert not app.poller.poll_feed(feed).failed
        ids.append(feed.id)
    by_feed = {s.feed_id: s.id for s in series_records(app.storage)}
    return by_feed[ids[0]], by_feed[ids[1]]


def _add_ann_reviews(site: Site, serial_a: int) -> tuple[int, ...]:
    """Two reviews by Ann Critic, the newer linked to Serial A's first episode."""
    app = site.app
    texts = [
        (datetime(2014, 10, 20, tzinfo=UTC), "Serial keeps you listening: the alibi, week one."),
        (datetime(2014, 11, 3, tzinfo=UTC), "Week two of Serial and the breakup, reconsidered."),
    ]
    ids = []
    for published, text in texts:
        added = app.reviews.add(
            (text + " " + "A longer thought about the show. " * 8).encode(),
            source="file",
            filename="ann.txt",
            title=text.split(":")[0],
            author=ANN,
            published=published,
        )
        ids.append(added.review.id)
    first = min(e.id for e in episode_records(app.storage, serial_a))
    app.storage.add_link(ids[1], serial_a, first, Relation.REVIEWS, app.clock())
    return tuple(reversed(ids))


@contextmanager
def browsing_site(database_url: str) -> Iterator[BrowsingSite]:
    with FeedServer() as server, running_site(database_url) as site:
        serial_a, serial_b = _add_serials(site, server)
        yield BrowsingSite(site, server, serial_a, serial_b, _add_ann_reviews(site, serial_a))
