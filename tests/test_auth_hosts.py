"""Allowed hosts: a Host header that is not ours is refused, and never makes a form
post "same-origin".

The attack: a name the attacker controls is pointed at our address (DNS rebinding),
so the victim's browser sends ``Host: evil.example:PORT`` and ``Origin:
http://evil.example:PORT``; a same-origin check that believes the Host would call
that our own page. Real uvicorn servers on 127.0.0.1; the Host header is set by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from aggregator import web
from aggregator.app import make_app
from aggregator.settings import HttpSettings, Settings
from tests.test_web import TOKEN, Site, running_site, serve


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    path = tmp_path_factory.mktemp("hosts") / "site.db"
    with running_site(f"sqlite:///{path}") as running:
        yield running


def port_of(site: Site) -> int:
    return int(site.base_url.rsplit(":", 1)[1])


def login_as(site: Site, host: str, *, origin: str | None = None) -> httpx.Response:
    """The login form posted with the right token to ``Host: host``, from a page
    at ``origin`` (by default the page the Host names)."""
    origin = origin or f"http://{host}"
    with site.client() as client:
        return client.post(
            "/login",
            data={"token": TOKEN, "next": "/"},
            headers={"Host": host, "Origin": origin},
        )


def test_a_host_that_is_not_ours_is_refused(site: Site) -> None:
    evil = f"evil.example:{port_of(site)}"
    login = login_as(site, evil)
    assert login.status_code == 400
    assert "set-cookie" not in login.headers
    with site.client() as client:
        for path in ("/", "/api/series", "/feeds/reviews.xml", "/healthz", "/login"):
            response = client.get(path, headers={"Host": evil})
            assert response.status_code == 400, path
            assert response.text == "Invalid host header"


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LocalHost", "[::1]"])
def test_the_names_of_this_machine_are_ours_by_default(site: Site, name: str) -> None:
    host = f"{name}:{port_of(site)}"
    with site.client() as client:
        assert client.get("/", headers={"Host": host}).status_code == 200
    login = login_as(site, host, origin=f"http://{host.lower()}")
    assert login.status_code == 303
    assert "aggregator_session=" in login.headers["set-cookie"]


def test_allowed_hosts_replace_the_defaults(tmp_path: Path) -> None:
    http = HttpSettings(token=TOKEN, allowed_hosts=("podcasts.example.org", "*.example.net"))
    with running_site(f"sqlite:///{tmp_path / 'a.db'}", http) as site:
        port = port_of(site)
        with site.client() as client:
            assert client.get("/").status_code == 400  # 127.0.0.1 is not listed now
            for host in ("podcasts.example.org", "a.example.net", "b.a.example.net"):
                assert client.get("/", headers={"Host": f"{host}:{port}"}).status_code == 200
            assert client.get("/", headers={"Host": "example.net"}).status_code == 400
        assert login_as(site, f"podcasts.example.org:{port}").status_code == 303
        # An allowed Host, but a page of another allowed host (another port, another
        # name) is another origin.
        other = login_as(
            site, f"podcasts.example.org:{port}", origin=f"http://a.example.net:{port}"
        )
        assert other.status_code == 403
        assert "not sent from a page of this site" in other.text


def test_the_base_url_is_ours(tmp_path: Path) -> None:
    """Behind a TLS proxy that passes the Host on: the browser's Origin is the public
    https address, which the server, spoken to in http, knows only from base_url."""
    http = HttpSettings(token=TOKEN, base_url="https://podcasts.example.org/")
    with running_site(f"sqlite:///{tmp_path / 'a.db'}", http) as site:
        login = login_as(site, "podcasts.example.org", origin="https://podcasts.example.org")
        assert login.status_code == 303


def test_the_same_origin_check_wants_an_allowed_host(tmp_path: Path) -> None:
    """Without the server's host filter in front (pages served on their own), the
    form check still refuses a page on a host that is not allowed."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'a.db'}", http=HttpSettings(token=TOKEN)
    )
    with make_app(settings) as app:
        pages = FastAPI()
        pages.include_router(web.build_router(app, allowed_hosts=("127.0.0.1",)))
        with serve(pages) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
            evil = f"evil.example:{base_url.rsplit(':', 1)[1]}"
            response = client.post(
                "/login",
                data={"token": TOKEN},
                headers={"Host": evil, "Origin": f"http://{evil}"},
            )
            assert response.status_code == 403
            assert "not sent from a page of this site" in response.text
            ours = client.post("/login", data={"token": TOKEN}, headers={"Origin": base_url})
            assert ours.status_code == 303
