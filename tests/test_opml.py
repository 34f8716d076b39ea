from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.exceptions import InputError
from aggregator.feeds.opml import read_opml, write_opml
from aggregator.types import FeedKind, FeedRecord, FeedStatus

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My podcasts</title></head>
  <body>
    <outline text="News">
      <outline type="rss" text="Planet Money" xmlUrl="https://feeds.npr.org/510289/podcast.xml"/>
      <outline type="rss" text="Dup" xmlUrl="https://feeds.npr.org/510289/podcast.xml"/>
    </outline>
    <outline text="Cortex" title="Cortex" xmlurl=" https://www.relay.fm/cortex/feed "/>
    <outline text="just a folder"/>
    <outline text="Reviews" category="reviews" xmlUrl="https://blog.example/rss"/>
  </body>
</opml>"""


def test_reads_nested_outlines_once_each() -> None:
    feeds = read_opml(NESTED, source="subs.opml")
    assert [f.url for f in feeds] == [
        "https://feeds.npr.org/510289/podcast.xml",
        "https://www.relay.fm/cortex/feed",
        "https://blog.example/rss",
    ]
    assert feeds[0].title == "Planet Money"
    assert feeds[1].title == "Cortex"
    assert [f.kind for f in feeds] == [FeedKind.PODCAST, FeedKind.PODCAST, FeedKind.REVIEWS]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a valid OPML file"),
        (b"\x00\xff\xfe garbage", "not a valid OPML file"),
        (b"<rss><channel/></rss>", "root element is <rss>"),
    ],
)
def test_garbage_is_a_clear_error(content: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        read_opml(content, source="bad.opml")
    assert str(info.value).startswith("bad.opml: ")


def test_external_entities_are_not_read(tmp_path: object) -> None:
    xxe = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&x;" xmlUrl="https://a.example/rss"/></body></opml>"""
    with pytest.raises(InputError):
        read_opml(xxe, source="xxe.opml")


def test_export_round_trips() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    records = [
        FeedRecord(
            1,
            "https://a.example/rss",
            "https://a.example/rss",
            FeedKind.PODCAST,
            FeedStatus.ACTIVE,
            title="A & B <show>",
        ),
        FeedRecord(
            2, "https://b.example/rss", "https://b.example/rss", FeedKind.REVIEWS, FeedStatus.ACTIVE
        ),
    ]
    content = write_opml(records, now=now)
    back = read_opml(content, source="export")
    assert [(f.url, f.title, f.kind) for f in back] == [
        ("https://a.example/rss", "A & B <show>", FeedKind.PODCAST),
        ("https://b.example/rss", "https://b.example/rss", FeedKind.REVIEWS),
    ]
