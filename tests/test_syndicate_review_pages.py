"""The reviews feed in pages (RFC 5005), served by a real uvicorn server and read by
feedparser following each page's ``rel="next"`` link, as feed readers do.

A store of 52 linked reviews (two of them undated, one more linked only by a
rejected link, so not shown) of two real series, polled by the real poller; pages of
``PER_PAGE`` reviews.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from fastapi import FastAPI

from aggregator.app import App, make_app
from aggregator.settings import HttpSettings, Settings
from aggregator.syndicate.routes import build_router
from aggregator.types import FeedKind, LinkStatus, Relation, ReviewDocument, SeriesRecord
from tests.http_server import Served, serve
from tests.stored import episode_records, series_records

REAL = Path(__file__).resolve().parent / "data" / "feeds" / "real"
SERIAL = REAL / "serial__podkit-2017.xml"
PC20 = REAL / "podcasting-2.0__partytime-2021.xml"
PER_PAGE = 20


@dataclass(frozen=True)
class Store:
    app: App
    server: Served
    serial: SeriesRecord
    pc20: SeriesRecord
    shown: list[tuple[int, int]]  # (review id, series id) of every review shown, newest first


def _poll(a: App, path: Path) -> SeriesRecord:
    feed = a.storage.add_feed(path.as_uri(), FeedKind.PODCAST, a.clock())
    assert not a.poller.poll_feed(feed).failed
    return next(s for s in series_records(a.storage) if s.feed_id == feed.id)


def _review(a: App, n: int, days_ago: int | None) -> int:
    published = None if days_ago is None else a.clock() - timedelta(days=days_ago)
    document = ReviewDocument(
        text=f"Review number {n} of a podcast, for the pages of the reviews feed.",
        title=f"Review {n}",
        url=f"https://critic.example/reviews/{n}",
        published=published,
    )
    saved = a.storage.save_review(document, content_hash=f"r{n}", source="url", now=a.clock())
    return saved.review.id


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp = tmp_path_factory.mktemp("review-pages")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'store.db'}", http=HttpSettings(feed_max_items=PER_PAGE)
    )
    with make_app(settings) as a:
        serial, pc20 = _poll(a, SERIAL), _poll(a, PC20)
        episodes = episode_records(a.storage, serial.id)
        now = a.clock()
        dated: list[tuple[int, int, int]] = []  # (days ago, review id, series id)
        undated: list[tuple[int, int]] = []
        for n in range(52):
            series = pc20 if n % 10 == 3 else serial  # 5 of pc20, 47 of serial
            days_ago = None if n in (7, 30) else (n * 37) % 101 + n  # distinct, shuffled
            review_id = _review(a, n, days_ago)
            episode = episodes[n % len(episodes)].id if series is serial else None
            a.storage.add_link(review_id, series.id, episode, Relation.REVIEWS, now)
            if days_ago is None:
                undated.append((review_id, series.id))
            else:
                dated.append((days_ago, review_id, series.id))
        assert len({d for d, _, _ in dated}) == len(dated)  # no ties: one order
        hidden = _review(a, 99, 1)
        link = a.storage.add_link(hidden, serial.id, None, Relation.REVIEWS, now)
        a.storage.set_link_status(link.id, LinkStatus.REJECTED, now)
        # Newest first; undated last, the newest id first among them.
        shown = [(r, s) for _, r, s in sorted(dated)] + sorted(undated, reverse=True)
        http = FastAPI()
        http.include_router(build_router(a))
        with serve(http) as served:
            yield Store(a, served, serial, pc20, shown)


def _follow(url: str) -> list[Any]:
    """Every page from ``url`` on, as feedparser reads them, following rel="next"."""
    pages: list[Any] = []
    next_url: str | None = url
    while next_url is not None and len(pages) < 10:
        response = httpx.get(next_url, timeout=30)
        assert response.status_code == 200, response.text
        parsed = feedparser.parse(response.content)
        assert not parsed.bozo, parsed.bozo_exception
        pages.append(parsed)
        nexts = [x.href for x in parsed.feed.links if x.rel == "next"]
        next_url = nexts[0] if nexts else None
    return pages


def _links(parsed: Any) -> dict[str, str]:
    return {x.rel: x.href for x in parsed.feed.links if x.rel != "alternate"}


def test_feedparser_follows_the_reviews_feed_to_its_last_page(store: Store) -> None:
    first = f"{store.server.url}/feeds/reviews.xml"
    pages = _follow(first)
    assert [len(p.entries) for p in pages] == [20, 20, 12]
    # Every review shown, once, newest first across the pages, as the store has them.
    got = [e.id for p in pages for e in p.entries]
    assert got == [f"https://critic.example/reviews/{n}" for n in _numbers(store, store.shown)]
    assert [_links(p) for p in pages] == [
        {"self": first, "first": first, "next": f"{first}?page=2"},
        {"self": f"{first}?page=2", "first": first, "previous": first, "next": f"{first}?page=3"},
        {"self": f"{first}?page=3", "first": first, "previous": f"{first}?page=2"},
    ]


def test_the_reviews_feed_of_one_series_pages_with_its_series_kept(store: Store) -> None:
    first = f"{store.server.url}/feeds/reviews.xml?series={store.serial.id}"
    pages = _follow(first)
    assert [len(p.entries) for p in pages] == [20, 20, 7]
    of_serial = [(r, s) for r, s in store.shown if s == store.serial.id]
    got = [e.id for p in pages for e in p.entries]
    assert got == [f"https://critic.example/reviews/{n}" for n in _numbers(store, of_serial)]
    assert _links(pages[1])["next"] == f"{first}&page=3"
    # Five reviews of the other series: one page, which says nothing of pages.
    (single,) = _follow(f"{store.server.url}/feeds/reviews.xml?series={store.pc20.id}")
    assert len(single.entries) == 5
    assert set(_links(single)) == {"self"}


def test_reviews_pages_past_the_last_and_bad_page_numbers_are_refused(store: Store) -> None:
    base = f"{store.server.url}/feeds/reviews.xml"
    past = httpx.get(f"{base}?page=4")
    assert past.status_code == 404
    assert past.json()["detail"] == "the reviews feed has no page 4 (20 reviews a page)"
    of_pc20 = httpx.get(f"{base}?series={store.pc20.id}&page=2")
    assert of_pc20.status_code == 404
    assert f"of series {store.pc20.id} has no page 2" in of_pc20.json()["detail"]
    for bad in ("0", "-1", "abc", str(10**7)):
        assert httpx.get(f"{base}?page={bad}").status_code == 422


def test_each_reviews_page_has_its_own_etag_and_304(store: Store) -> None:
    base = f"{store.server.url}/feeds/reviews.xml"
    tags = [httpx.get(f"{base}?page={n}").headers["etag"] for n in (1, 2, 3)]
    assert len(set(tags)) == 3
    again = httpx.get(f"{base}?page=2", headers={"If-None-Match": tags[1]})
    assert (again.status_code, again.content) == (304, b"")
    assert httpx.get(f"{base}?page=2", headers={"If-None-Match": tags[0]}).status_code == 200


def _numbers(store: Store, shown: list[tuple[int, int]]) -> list[int]:
    """The numbers in the URLs of these reviews, read back from the store."""
    urls = {r.id: r.url for r in store.app.storage.reviews_page()}
    return [int(str(urls[review_id]).rsplit("/", 1)[1]) for review_id, _ in shown]
