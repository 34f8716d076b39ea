from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.exceptions import InputError
from aggregator.feeds.locations import normalize_feed_location


def test_http_urls_keep_path_and_query() -> None:
    got = normalize_feed_location("  HTTP://Feeds.Example.com:8080/a/Feed.xml?x=1 ")
    assert got == "http://feeds.example.com:8080/a/Feed.xml?x=1"


def test_paths_become_file_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "feed.xml").write_text("<rss/>")
    monkeypatch.chdir(tmp_path)
    expected = (tmp_path / "feed.xml").as_uri()
    assert normalize_feed_location("feed.xml") == expected
    assert normalize_feed_location(expected) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty feed URL"),
        ("http:///feed.xml", "no host name"),
        ("gopher://x/feed", "only http, https and local files"),
        ("/no/such/feed.xml", "no such file"),
    ],
)
def test_bad_locations(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        normalize_feed_location(text)


def test_files_can_be_refused(tmp_path: Path) -> None:
    (tmp_path / "f.xml").write_text("<rss/>")
    with pytest.raises(InputError, match="only be added from the config file or CLI"):
        normalize_feed_location(str(tmp_path / "f.xml"), allow_file=False)
