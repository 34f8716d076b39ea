"""How two series of one title are told apart, the same in the web pages and the CLI.

Two followed feeds may both be called "Serial": next to such a title goes its source,
who publishes it and where its feed is ("Serial Productions · example.com"). Only
titles another series has too get one; the others read as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aggregator.types import LinkRecord

if TYPE_CHECKING:
    from aggregator.storage import Storage

__all__ = ["host", "series_labels", "shared", "source_label"]


def host(url: str | None) -> str:
    """The site a URL is on, for a link's text: "www.example.com" -> "example.com".

    >>> host("https://www.example.com/reviews/1"), host(None), host("file:///tmp/a.xml")
    ('example.com', '', '')
    """
    if not url:
        return ""
    try:
        name = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    return name.removeprefix("www.")


def source_label(author: str | None, feed_url: str | None) -> str:
    """Who publishes a series and where its feed is: "Serial Productions · example.com".

    >>> source_label("Serial Productions", "https://feeds.example.com/serial.xml")
    'Serial Productions · feeds.example.com'
    >>> source_label(None, "https://www.example.com/rss"), source_label("", None)
    ('example.com', '')
    """
    return " · ".join(part for part in (author, host(feed_url)) if part)


def shared(titles: Iterable[str | None]) -> set[str]:
    """The titles that occur more than once.

    >>> sorted(shared(["Serial", "Caliphate", "Serial", None, None]))
    ['Serial']
    """
    seen: set[str] = set()
    twice: set[str] = set()
    for title in titles:
        if title is not None:
            (twice if title in seen else seen).add(title)
    return twice


def series_labels(storage: Storage, links: Iterable[LinkRecord]) -> dict[int, str]:
    """For the series of ``links`` whose title another series has too, by series id,
    the label that tells them apart (``source_label``); others need none."""
    links = list(links)
    if not links:
        return {}
    titles = storage.shared_series_titles()
    ids = {link.series_id for link in links if link.series_title in titles}
    if not ids:
        return {}
    return {
        sid: source_label(row.series.author, row.series.feed_url)
        for sid, row in storage.series_by_ids(ids).items()
    }
