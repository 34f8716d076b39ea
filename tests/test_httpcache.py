"""Kept answers (``aggregator.httpcache``) over a real server, on each database
backend: ETag and 304, a write (through the API, or by another instance on the same
database) making the next GET fresh, credentials and private reads going to the
routes, one answer per Host; and, with a small route that counts how often it runs,
what is kept and what is not."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from aggregator import httpcache
from aggregator.app import App, make_app
from aggregator.httpcache import ResponseCache
from aggregator.server import create_http_app
from aggregator.settings import HttpSettings, Settings
from aggregator.storage import Storage, open_storage
from aggregator.types import FeedKind, LinkStatus
from tests.api_support import Seeded, seed
from tests.fakes import T0, ok_update
from tests.http_server import serve

TOKEN = "cache-t0ken"


@dataclass
class Site:
    app: App
    url: str
    ids: Seeded

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


@contextmanager
def running(database_url: str, *, public_reads: bool = True) -> Iterator[Site]:
    """The service's own composition (``create_http_app``) on a seeded store."""
    http = HttpSettings(token=TOKEN, public_reads=public_reads)
    with make_app(Settings(database_url=database_url, http=http)) as app:
        ids = seed(app)
        with serve(create_http_app(app)) as served:
            yield Site(app, served.url, ids)


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    with running(database_url) as s:
        yield s


def titles(response: httpx.Response) -> list[str]:
    return [item["title"] for item in response.json()["items"]]


# --- the service -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/reviews", "/api/series", "/api/reviews?limit=2"])
def test_a_kept_answer_has_an_etag_and_a_304_for_it(site: Site, path: str) -> None:
    with site.client() as client:
        first = client.get(path)
        again = client.get(path)
        assert first.status_code == again.status_code == 200
        assert again.content == first.content
        etag = first.headers["etag"]
        assert again.headers["etag"] == etag
        assert first.headers["cache-control"] == "no-cache"
        assert first.headers["content-length"] == str(len(first.content))
        unchanged = client.get(path, headers={"If-None-Match": f'W/"other", {etag}'})
        assert unchanged.status_code == 304
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == etag
        other = client.get(path, headers={"If-None-Match": '"other"'})
        assert other.status_code == 200 and other.content == first.content


def test_a_write_through_the_api_makes_the_next_get_fresh(site: Site) -> None:
    with site.client() as client:
        before = client.get("/api/reviews")
        assert titles(before) == ["Elsewhere", "Keepers", "On trains", "Hours"]
        home = client.get("/")
        assert "Keepers" in home.text
        etag = before.headers["etag"]
        deleted = client.delete(
            f"/api/reviews/{site.ids.r[2]}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert deleted.status_code == 204
        after = client.get("/api/reviews", headers={"If-None-Match": etag})
        assert after.status_code == 200
        assert titles(after) == ["Elsewhere", "On trains", "Hours"]
        assert after.headers["etag"] != etag
        assert "Keepers" not in client.get("/").text


def test_a_write_by_another_instance_makes_the_next_get_fresh(site: Site) -> None:
    """The version is the database's: a CLI command or another instance writing is
    seen by this one's next GET."""
    path = f"/api/links?review_id={site.ids.r[1]}"
    with site.client() as client:
        kept = client.get(path).json()["items"]
        assert [link["id"] for link in kept] == [site.ids.links["r1-a"], site.ids.links["r1-a2"]]
        with open_storage(site.app.storage.url) as other:
            other.set_link_status(site.ids.links["r1-a2"], LinkStatus.REJECTED, T0)
        fresh = client.get(path).json()["items"]
        assert [link["id"] for link in fresh] == [site.ids.links["r1-a"]]  # rejected: left out


def test_polls_that_store_nothing_keep_the_pages(site: Site) -> None:
    """Leases and the schedules of unchanged polls leave the content's count: the
    kept pages (and their ETags) stay, however often the feeds are polled; the
    feeds' list, which shows when each was polled, is made afresh."""
    storage = site.app.storage
    with site.client() as client:
        page = client.get("/series").headers["etag"]
        feeds = client.get("/api/feeds")
        assert feeds.json()["items"][0]["last_polled_at"] != T0.isoformat()
        # Polled again, as of T0 (the seed's polls were stamped with the real time).
        far_ahead = T0 + timedelta(days=3650)  # every feed is due by then
        for feed in storage.claim_due_feeds(far_ahead, 10, owner="me", lease_seconds=60):
            storage.apply_schedule_updates([ok_update(feed.id, T0)], T0)
        assert client.get("/series", headers={"If-None-Match": page}).status_code == 304
        polled = client.get("/api/feeds", headers={"If-None-Match": feeds.headers["etag"]})
        assert polled.status_code == 200
        assert polled.json()["items"][0]["last_polled_at"] == T0.isoformat()


def test_credentials_go_to_the_routes(site: Site) -> None:
    """A logged-in page shows the logout button; the anonymous one kept beside it is
    never given to it, nor it to the anonymous."""
    with site.client() as anonymous:
        assert "Log in" in anonymous.get("/").text
        with site.client() as browser:
            login = browser.post(
                "/login", data={"token": TOKEN, "next": "/"}, headers={"Origin": site.url}
            )
            assert login.status_code == 303
            page = browser.get("/")
            assert "Log out" in page.text and "etag" not in page.headers
        again = anonymous.get("/")
        assert "Log in" in again.text and "Log out" not in again.text


def test_with_private_reads_every_read_meets_its_check(database_url: str) -> None:
    with running(database_url, public_reads=False) as s:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with s.client() as client:
            assert client.get("/api/series", headers=auth).status_code == 200
            assert client.get("/api/series").status_code == 401
            with s.client() as browser:
                browser.post(
                    "/login", data={"token": TOKEN, "next": "/"}, headers={"Origin": s.url}
                )
                assert browser.get("/").status_code == 200
            refused = client.get("/")
            assert refused.status_code == 303
            assert refused.headers["location"] == "/login?next=/"


def test_each_host_has_its_own_answer(site: Site) -> None:
    """The feeds page shows addresses on the host it was asked for."""
    port = site.url.rsplit(":", 1)[1]
    with site.client() as client:
        local = client.get("/feeds", headers={"Host": f"localhost:{port}"})
        numeric = client.get("/feeds", headers={"Host": f"127.0.0.1:{port}"})
    assert f"http://localhost:{port}/feeds/series/" in local.text
    assert f"http://localhost:{port}/" not in numeric.text
    assert f"http://127.0.0.1:{port}/feeds/series/" in numeric.text


def test_not_kept_where_live_or_missing(site: Site) -> None:
    with site.client() as client:
        assert "etag" not in client.get("/healthz").headers
        assert "etag" not in client.get("/metrics").headers
        missing = client.get("/api/series/99999")
        assert missing.status_code == 404 and "etag" not in missing.headers


# --- what is kept: a route that counts its calls ------------------------------------------


class Counting:
    """An ASGI app answering every GET with its call number (and what the test set)."""

    def __init__(self) -> None:
        self.calls = 0
        self.status = 200
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b"x"
        self.release = threading.Event()
        self.release.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] in ("http", "lifespan")
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.calls += 1
        while not self.release.is_set():  # a slow render, without blocking the loop
            await asyncio.sleep(0.01)
        headers = [(b"content-type", b"text/plain"), *self.headers]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body + str(self.calls).encode()})


@contextmanager
def counted(storage: Storage) -> Iterator[tuple[Counting, str]]:
    route = Counting()
    cache = ResponseCache(
        route,
        version=storage.data_version,
        shown=lambda path: None if path == "/no" else (lambda version: version.content),
    )
    with serve(cache) as served:
        yield route, served.url


def test_kept_until_the_version_moves(storage: Storage) -> None:
    with counted(storage) as (_, url), httpx.Client(base_url=url) as client:
        assert [client.get("/a").text for _ in range(3)] == ["x1", "x1", "x1"]
        assert client.get("/a?page=2").text == "x2"  # another address
        assert client.get("/no").text == "x3"  # not cacheable
        assert client.get("/a", headers={"Authorization": "Bearer t"}).text == "x4"
        storage.add_feed("https://a.example/feed.xml", FeedKind.PODCAST, T0)
        assert [client.get("/a").text for _ in range(2)] == ["x5", "x5"]


def test_a_reload_asks_for_a_fresh_answer_and_keeps_it(storage: Storage) -> None:
    with counted(storage) as (_, url), httpx.Client(base_url=url) as client:
        assert client.get("/a").text == "x1"
        assert client.get("/a", headers={"Cache-Control": "no-cache"}).text == "x2"
        assert client.get("/a").text == "x2"


@pytest.mark.parametrize(
    ("status", "headers"), [(404, []), (200, [(b"set-cookie", b"a=b")])], ids=["404", "cookie"]
)
def test_other_answers_are_not_kept(
    storage: Storage, status: int, headers: list[tuple[bytes, bytes]]
) -> None:
    with counted(storage) as (route, url), httpx.Client(base_url=url) as client:
        route.status, route.headers = status, headers
        answers = [client.get("/a") for _ in range(2)]
    assert [a.text for a in answers] == ["x1", "x2"]
    assert [a.status_code for a in answers] == [status, status]
    assert not any("etag" in a.headers for a in answers)


def test_a_large_answer_passes_whole_and_is_not_kept(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpcache, "MAX_BODY_BYTES", 1000)
    with counted(storage) as (route, url), httpx.Client(base_url=url) as client:
        route.body = b"y" * 5000
        answers = [client.get("/a").text for _ in range(2)]
    assert answers == ["y" * 5000 + "1", "y" * 5000 + "2"]


def test_waiting_requests_share_one_render(storage: Storage) -> None:
    """Requests that come while an address's answer is being made wait for it."""
    with counted(storage) as (route, url):
        route.release.clear()
        answers: list[str] = []

        def get() -> None:
            with httpx.Client(base_url=url, timeout=30) as client:
                answers.append(client.get("/a").text)

        threads = [threading.Thread(target=get) for _ in range(8)]
        for thread in threads:
            thread.start()
        while route.calls == 0:  # the first render has begun, and waits
            threading.Event().wait(0.01)
        threading.Event().wait(0.3)  # the others arrive meanwhile
        route.release.set()
        for thread in threads:
            thread.join()
    assert answers == ["x1"] * 8
    assert route.calls == 1
