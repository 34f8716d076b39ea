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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http://feeds.example.com:99999/f.xml", "port 99999 is out of range"),
        ("http://feeds.example.com:0/f.xml", "port 0 is out of range"),
        ("http://feeds.example.com:８０/f.xml", "port '８０' is not a number"),
        ("http://0x7f.1/f.xml", "host name 0x7f.1 is not valid"),
        ("http://1.2.3/f.xml", "host name 1.2.3 is not valid"),
        ("http://-feeds.example.com/f.xml", "host name -feeds.example.com is not valid"),
        ("http://feeds..example.com/f.xml", "host name feeds..example.com is not valid"),
        ("http://☃.example/f.xml", "host name ☃.example is not valid"),
    ],
)
def test_feed_urls_need_a_valid_host_and_port(text: str, message: str) -> None:
    # What the command line, OPML import and the API take in (they all normalize here).
    with pytest.raises(InputError) as info:
        normalize_feed_location(text)
    assert str(info.value).startswith(f"{text}: not a feed URL: {message}")


def test_valid_hosts_of_every_kind_pass() -> None:
    for text in (
        "http://[::1]:8080/f.xml",
        "http://10.0.0.1/f.xml",
        "https://bücher.example/f.xml",
        "http://lan_feeds:8000/f.xml",  # an underscore, as some internal hosts have
        "http://feeds.example.com./f.xml",  # the root's dot
    ):
        assert normalize_feed_location(text).startswith(text.split("/f.xml")[0].lower())
