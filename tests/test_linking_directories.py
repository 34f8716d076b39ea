"""Directory pages (Apple Podcasts, Overcast, ...) read from their URLs."""

from __future__ import annotations

import base64

import pytest

from aggregator.linking.directories import DirectoryPage, directory_page, slug_words


@pytest.mark.parametrize(
    ("url", "page"),
    [
        (
            "https://podcasts.apple.com/us/podcast/caliphate/id1379959217",
            DirectoryPage("Apple Podcasts", show=("caliphate",)),
        ),
        (  # the older host, no country, a tracking query
            "https://itunes.apple.com/podcast/critical-role/id1243705452?mt=2",
            DirectoryPage("Apple Podcasts", show=("critical", "role")),
        ),
        (  # an episode page: the slug is the episode's title
            "https://podcasts.apple.com/gb/podcast/chapter-one-the-call/id1379959217?i=1000410578155",
            DirectoryPage("Apple Podcasts", episode=("chapter", "one", "the", "call")),
        ),
        (
            "https://overcast.fm/itunes1379959217/caliphate",
            DirectoryPage("Overcast", show=("caliphate",)),
        ),
        (
            "https://www.podchaser.com/podcasts/planet-money-10373",
            DirectoryPage("Podchaser", show=("planet", "money")),
        ),
        (
            "https://www.podchaser.com/podcasts/serial-1430/episodes/s-town-chapter-i-127523458",
            DirectoryPage("Podchaser", show=("serial",), episode=("s", "town", "chapter", "i")),
        ),
        (
            "https://castbox.fm/channel/This-American-Life-id1022",
            DirectoryPage("Castbox", show=("this", "american", "life")),
        ),
        (
            "https://player.fm/series/cortex-1438",
            DirectoryPage("Player FM", show=("cortex",)),
        ),
        (
            "https://podbay.fm/p/planet-money",
            DirectoryPage("Podbay", show=("planet", "money")),
        ),
        (
            "https://www.stitcher.com/show/serial",
            DirectoryPage("Stitcher", show=("serial",)),
        ),
    ],
)
def test_directory_pages_name_their_show_or_episode(url: str, page: DirectoryPage) -> None:
    assert directory_page(url) == page


def test_google_podcasts_pages_carry_the_feed_url() -> None:
    feed = "https://feeds.simplecast.com/54nAGcIl"
    encoded = base64.urlsafe_b64encode(feed.encode()).decode().rstrip("=")
    assert directory_page(f"https://podcasts.google.com/feed/{encoded}") == DirectoryPage(
        "Google Podcasts", feed_url=feed
    )
    assert directory_page(f"https://podcasts.google.com/?feed={feed}") == DirectoryPage(
        "Google Podcasts", feed_url=feed
    )
    # Not base64 of a URL: nothing, rather than a garbled feed address.
    assert directory_page("https://podcasts.google.com/feed/%%%") is None
    assert directory_page("https://podcasts.google.com/feed/aGVsbG8") is None  # "hello"


@pytest.mark.parametrize(
    "url",
    [
        "https://podcasts.apple.com/podcast/290783428",  # an id and no name
        "https://itunes.apple.com/gb/app/editorial/id673907758?mt=8",  # an app
        "https://open.spotify.com/show/2naS9Y5nWSli9vi9bOvGxp",  # opaque
        "https://overcast.fm/+CdRRhGxw/1:29:43",  # an opaque episode link
        "https://www.nytimes.com/podcasts/caliphate",  # not a directory
        "ftp://podcasts.apple.com/us/podcast/caliphate/id1",
        "https://[broken",
        "",
    ],
)
def test_other_urls_name_nothing(url: str) -> None:
    assert directory_page(url) is None


def test_slug_words_match_titles_as_directories_write_them() -> None:
    assert slug_words("99% Invisible") == slug_words("99-invisible")
    assert slug_words("S-Town: Chapter I") == ("s", "town", "chapter", "i")
    assert slug_words("Ökonomie & Co.") == ("okonomie", "co")
