"""Web login sessions, kept in the database: random, hashed, expiring, ended at logout.

Real uvicorn servers on 127.0.0.1 over the service's own composition
(``create_http_app``), on each database backend; time is the app's injected clock,
so expiry is tested without waiting.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import DateTime, Text, create_engine, text

from aggregator.app import make_app
from aggregator.server import create_http_app
from aggregator.settings import HttpSettings, Settings
from aggregator.storage import Storage
from aggregator.types import LinkStatus
from tests.test_web import TOKEN, Site, fill, serve

COOKIE = "aggregator_session"


class Clock:
    """The app's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def sites(
    database_url: str, count: int = 1, clock: Clock | None = None, **http: object
) -> Iterator[list[Site]]:
    """``count`` instances of the service on one database, the first filled."""
    settings = Settings(database_url=database_url, http=HttpSettings(token=TOKEN, **http))
    with ExitStack() as stack:
        running = []
        ids = (0, 0, 0)
        for n in range(count):
            app = stack.enter_context(make_app(settings, clock=clock or Clock()))
            if n == 0:
                ids = fill(app)
            base_url = stack.enter_context(serve(create_http_app(app)))
            running.append(Site(app, base_url, *ids))
        yield running


def log_in(site: Site, client: httpx.Client) -> str:
    """Log ``client`` in through the form; the session id its cookie now holds."""
    response = client.post(
        "/login", data={"token": TOKEN, "next": "/"}, headers={"Origin": site.base_url}
    )
    assert response.status_code == 303, response.text
    return str(client.cookies[COOKIE])


def confirm_with(site: Site, cookie: str, link_id: int) -> httpx.Response:
    """A confirm posted from a page of ``site`` by a browser holding ``cookie``."""
    with httpx.Client(base_url=site.base_url, timeout=10) as client:
        return client.post(
            f"/links/{link_id}/confirm",
            headers={"Origin": site.base_url, "Cookie": f"{COOKIE}={cookie}"},
        )


def first_link(site: Site) -> int:
    return site.app.storage.list_links(review_id=site.founding_id)[0].id


def status_of(site: Site, link_id: int) -> LinkStatus:
    (link,) = [
        x for x in site.app.storage.list_links(review_id=site.founding_id) if x.id == link_id
    ]
    return link.status


def session_rows(database_url: str) -> list[tuple[str, datetime, datetime]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = text("SELECT key_hash, created_at, expires_at FROM web_session").columns(
                key_hash=Text, created_at=DateTime(), expires_at=DateTime()
            )
            rows = connection.execute(query)
            return [(r[0], r[1], r[2]) for r in rows]
    finally:
        engine.dispose()


def test_a_cookie_copied_before_logout_confirms_nothing_after_it(database_url: str) -> None:
    with sites(database_url) as (site,), site.client() as browser:
        copied = log_in(site, browser)
        logout = browser.post("/logout", headers={"Origin": site.base_url})
        assert logout.status_code == 303
        link_id = first_link(site)
        response = confirm_with(site, copied, link_id)
        assert response.status_code == 403
        assert "Log in to change links." in response.text
        assert status_of(site, link_id) is LinkStatus.AUTO


def test_every_login_is_a_new_random_session(database_url: str) -> None:
    with sites(database_url) as (site,), site.client() as one, site.client() as two:
        first, second = log_in(site, one), log_in(site, two)
        assert first != second
        for cookie in (first, second):
            assert len(cookie) >= 43  # 256 random bits, base64
            assert TOKEN not in cookie and "staple" not in cookie
        # Two browsers, two sessions, both live: either may confirm.
        link_id = first_link(site)
        assert confirm_with(site, first, link_id).status_code == 303
        assert confirm_with(site, second, link_id).status_code == 303


def test_logging_in_again_replaces_the_session(database_url: str) -> None:
    with sites(database_url) as (site,), site.client() as browser:
        planted = log_in(site, browser)  # or an id an attacker got the browser to carry
        renewed = log_in(site, browser)
        assert renewed != planted
        link_id = first_link(site)
        assert confirm_with(site, planted, link_id).status_code == 403
        assert confirm_with(site, renewed, link_id).status_code == 303
    assert len(session_rows(database_url)) == 1


def test_the_database_holds_only_a_hash_of_the_session_id(database_url: str) -> None:
    with sites(database_url) as (site,), site.client() as browser:
        cookie = log_in(site, browser)
        ((key_hash, created, expires),) = session_rows(database_url)
        assert cookie not in key_hash
        # HMAC-SHA256 of the id keyed with the token, computed here by hand.
        expected = hmac.new(TOKEN.encode(), cookie.encode(), hashlib.sha256).hexdigest()
        assert key_hash == expected
        assert expires - created == timedelta(hours=24)  # http.session_hours' default
        browser.post("/logout", headers={"Origin": site.base_url})
        assert session_rows(database_url) == []


def test_a_session_expires_once_unused_for_session_hours(database_url: str) -> None:
    clock = Clock()
    with sites(database_url, clock=clock, session_hours=2) as (site,):
        with site.client() as browser:
            login = browser.post(
                "/login", data={"token": TOKEN, "next": "/"}, headers={"Origin": site.base_url}
            )
            attributes = {p.strip().lower() for p in login.headers["set-cookie"].split(";")}
            # The browser keeps it as long as it could last (session_max_hours, 168);
            # the server ends it sooner when it goes unused.
            assert f"max-age={168 * 3600}" in attributes
            cookie = str(browser.cookies[COOKIE])
        link_id = first_link(site)
        clock.now += timedelta(hours=2, minutes=1)
        refused = confirm_with(site, cookie, link_id)
        assert refused.status_code == 403
        assert "Log in to change links." in refused.text
        # The next login clears the expired row away.
        with site.client() as other:
            log_in(site, other)
        assert len(session_rows(database_url)) == 1


def test_a_session_in_use_lasts_until_its_maximum_from_the_login(database_url: str) -> None:
    clock = Clock()
    login_at = clock.now
    with sites(database_url, clock=clock, session_hours=2, session_max_hours=5) as (site,):
        with site.client() as browser:
            cookie = log_in(site, browser)
        link_id = first_link(site)
        # Used every 1 h 50: each use gives it two hours more, past the first two.
        for hours in (1, 3, 4):
            clock.now = login_at + timedelta(hours=hours, minutes=50 * (hours == 1))
            assert confirm_with(site, cookie, link_id).status_code == 303, clock.now
        ((_, created, expires),) = session_rows(database_url)
        # Renewed, but never past the maximum: five hours from the login.
        assert expires.replace(tzinfo=UTC) == login_at + timedelta(hours=5)
        assert created.replace(tzinfo=UTC) == login_at
        clock.now = login_at + timedelta(hours=4, minutes=59)
        assert confirm_with(site, cookie, link_id).status_code == 303
        clock.now = login_at + timedelta(hours=5, minutes=1)
        assert confirm_with(site, cookie, link_id).status_code == 403


def test_a_session_is_renewed_at_most_once_a_minute(database_url: str) -> None:
    # A page view need not be a write: the expiry moves only once it would move by
    # a minute or more.
    clock = Clock()
    login_at = clock.now
    with sites(database_url, clock=clock) as (site,):
        with site.client() as browser:
            cookie = log_in(site, browser)
        link_id = first_link(site)
        clock.now = login_at + timedelta(seconds=59)
        assert confirm_with(site, cookie, link_id).status_code == 303
        ((_, _, expires),) = session_rows(database_url)
        assert expires.replace(tzinfo=UTC) == login_at + timedelta(hours=24)
        clock.now = login_at + timedelta(seconds=61)
        assert confirm_with(site, cookie, link_id).status_code == 303
        ((_, _, expires),) = session_rows(database_url)
        assert expires.replace(tzinfo=UTC) == clock.now + timedelta(hours=24)


def test_instances_on_one_database_share_sessions(database_url: str) -> None:
    with sites(database_url, count=2) as (one, two), one.client() as browser:
        cookie = log_in(one, browser)
        link_id = first_link(one)
        assert confirm_with(two, cookie, link_id).status_code == 303
        with httpx.Client(base_url=two.base_url, timeout=10) as at_two:
            logout = at_two.post(
                "/logout", headers={"Origin": two.base_url, "Cookie": f"{COOKIE}={cookie}"}
            )
            assert logout.status_code == 303
        assert confirm_with(one, cookie, link_id).status_code == 403


def test_a_new_token_ends_every_session(database_url: str) -> None:
    with sites(database_url) as (site,), site.client() as browser:
        cookie = log_in(site, browser)
        changed = Settings(database_url=database_url, http=HttpSettings(token="a new token"))
        with make_app(changed) as app, serve(create_http_app(app)) as base_url:
            restarted = Site(app, base_url, site.founding_id, site.news_id, site.series_id)
            assert confirm_with(restarted, cookie, first_link(site)).status_code == 403


def test_the_api_ignores_a_live_session_cookie(database_url: str) -> None:
    with sites(database_url) as (site,), site.client() as browser:
        cookie = log_in(site, browser)
        link_id = first_link(site)
        response = httpx.post(
            f"{site.base_url}/api/links/{link_id}/confirm",
            headers={"Cookie": f"{COOKIE}={cookie}", "Origin": site.base_url},
        )
        assert response.status_code == 401
        assert status_of(site, link_id) is LinkStatus.AUTO


def test_sessions_in_storage(storage: Storage) -> None:
    now = datetime(2026, 12, 6, tzinfo=UTC)
    hour = timedelta(hours=1)
    storage.add_web_session("a", now=now, expires=now + hour)
    storage.add_web_session("b", now=now, expires=now + 2 * hour)
    assert storage.web_session_alive("a", now)
    assert not storage.web_session_alive("a", now + hour)  # expiry is exclusive
    assert not storage.web_session_alive("nope", now)
    # "c" replaces "b"; and "a", expired by then, is deleted on the way.
    storage.add_web_session("c", now=now + hour, expires=now + 3 * hour, replacing="b")
    assert not storage.web_session_alive("b", now + hour)
    assert storage.web_session_alive("c", now + hour)
    storage.remove_web_session("c")
    storage.remove_web_session("c")  # already gone: harmless
    assert not storage.web_session_alive("c", now + hour)
    assert not storage.web_session_alive("a", now)  # deleted, not just expired
