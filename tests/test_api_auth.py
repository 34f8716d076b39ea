"""Who may write and read; URLs the API refuses to fetch (SSRF); payloads that stay data.

Feeds and review pages are served by pytest-httpserver on 127.0.0.1, so "refused"
below always means refused although something answers there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from aggregator.api.auth import read_refusal, token_matches, write_refusal
from aggregator.api.ssrf import check_public_url
from aggregator.exceptions import BlockedURL, InputError
from aggregator.settings import HttpSettings
from aggregator.types import FeedKind
from tests.api_support import TOKEN, ApiServer, Seeded, running_api, seed

REPO = Path(__file__).resolve().parents[1]
CALIPHATE_XML = (REPO / "examples" / "feeds" / "caliphate.xml").read_bytes()
REVIEW_HTML = (
    "<html><head><title>On Caliphate</title></head><body><article><h1>On Caliphate</h1>"
    "<p>Caliphate, the New York Times podcast, is ten episodes of reporting by Rukmini "
    "Callimachi on the Islamic State and a man who said he had been one of its fighters."
    "</p><p>Its last episode returns a year later.</p></article></body></html>"
)
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, Seeded]]:
    with running_api(f"sqlite:///{tmp_path_factory.mktemp('auth') / 'a.db'}") as server:
        yield server, seed(server.app)


def serve_feed(httpserver: HTTPServer, path: str = "/feed.xml") -> str:
    httpserver.expect_request(path).respond_with_data(
        CALIPHATE_XML, content_type="application/rss+xml"
    )
    return f"http://127.0.0.1:{httpserver.port}{path}"


# --- the token -----------------------------------------------------------------------------

WRITES = [
    ("POST", "/api/feeds", {"url": "http://93.184.216.34/feed"}),
    ("DELETE", "/api/feeds/1", None),
    ("POST", "/api/feeds/1/poll", None),
    ("POST", "/api/reviews", {"text": "A review.", "format": "text"}),
    ("DELETE", "/api/reviews/1", None),
    ("POST", "/api/links", {"review_id": 4, "series_id": 1}),
    ("POST", "/api/links/1/confirm", None),
    ("POST", "/api/links/1/reject", None),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_every_write_needs_the_token(
    guarded: tuple[ApiServer, Seeded], method: str, path: str, body: Any
) -> None:
    server, s = guarded
    client = server.client
    attempts: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        # The web's cookie is not taken here (test_auth_sessions.py sends a live one).
        {"Cookie": "aggregator_session=whatever"},
    ]
    for headers in attempts:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "token" in response.json()["error"]
    # Nothing happened: the seeded store is as it was.
    assert len(server.get("/api/feeds").json()["items"]) == 2
    assert len(server.get("/api/reviews").json()["items"]) == 4
    assert server.get(f"/api/links/{s.links['r1-a']}").json()["status"] == "auto"


def test_the_token_lets_writes_through(guarded: tuple[ApiServer, Seeded]) -> None:
    server, s = guarded
    response = server.write("POST", f"/api/links/{s.links['r2-a']}/confirm")
    assert response.status_code == 200
    assert response.json()["status"] == "confirmed"


def test_without_a_configured_token_writes_are_refused(tmp_path: Path) -> None:
    with running_api(f"sqlite:///{tmp_path / 'a.db'}", token=None) as server:
        for headers in ({}, {"Authorization": "Bearer anything"}, {"Authorization": "Basic x"}):
            response = server.client.post(
                "/api/feeds", json={"url": "http://93.184.216.34/f"}, headers=headers
            )
            assert response.status_code == 403
            assert response.json()["error"].startswith("writes are disabled: no token")
        assert server.get("/api/feeds").json()["items"] == []  # reads stay open


def test_private_reads_need_the_token(tmp_path: Path) -> None:
    with running_api(f"sqlite:///{tmp_path / 'a.db'}", public_reads=False) as server:
        for path in ("/api/series", "/api/episodes", "/api/search?q=x", "/metrics"):
            response = server.client.get(path)
            assert response.status_code == 401, path
            assert server.client.get(path, headers=server.auth).status_code == 200, path
        assert server.client.get("/healthz").status_code == 200  # probes never log in


def test_private_reads_without_a_token_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with running_api(url, public_reads=False, token=None) as server:
        response = server.client.get("/api/series", headers={"Authorization": "Bearer x"})
        assert response.status_code == 403
        assert "no token is configured" in response.json()["error"]


def test_the_rules_for_the_web_pages() -> None:
    settings = HttpSettings(token=TOKEN)
    assert write_refusal(settings, logged_in=True) is None
    assert write_refusal(settings, bearer=TOKEN) is None
    refused = write_refusal(settings)
    assert refused is not None and refused.status == 401
    disabled = write_refusal(HttpSettings(token=None), logged_in=True)
    assert disabled is not None and disabled.status == 403
    assert token_matches(settings, TOKEN)
    assert not token_matches(settings, TOKEN.upper())
    assert not token_matches(HttpSettings(token=None), "")
    assert read_refusal(settings) is None
    private = HttpSettings(token=TOKEN, public_reads=False)
    assert read_refusal(private, logged_in=True) is None
    refused_read = read_refusal(private)
    assert refused_read is not None and refused_read.status == 401


# --- feeds added through the API: public addresses only ----------------------------------------


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    with running_api(f"sqlite:///{tmp_path / 'a.db'}") as server:
        yield server


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A store that only refused writes reach: it stays empty."""
    with running_api(f"sqlite:///{tmp_path_factory.mktemp('ssrf') / 'a.db'}") as server:
        yield server


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:{port}/feed.xml", "loopback address 127.0.0.1"),
        ("http://localhost:{port}/feed.xml", "localhost resolves to a loopback"),
        ("http://[::1]:{port}/feed.xml", "loopback address ::1"),
        ("http://[::ffff:127.0.0.1]:{port}/feed.xml", "loopback address 127.0.0.1"),
        ("http://2130706433:{port}/feed.xml", "host name 2130706433 is not valid"),
        ("http://10.20.30.40/feed.xml", "private address 10.20.30.40"),
        ("http://192.168.1.1/feed.xml", "private address 192.168.1.1"),
        ("http://169.254.169.254/latest/meta-data/", "link-local address 169.254.169.254"),
        ("http://0.0.0.0:{port}/feed.xml", "address 0.0.0.0"),
        ("file:///etc/passwd", "only http and https"),
        ("/etc/passwd", "only http and https"),
        ("ftp://93.184.216.34/feed.xml", "only http and https"),
        ("http://no-such-host.invalid/feed.xml", "cannot resolve the host name"),
        ("http://[::1/feed.xml", "not a valid URL"),
    ],
)
def test_feeds_on_private_addresses_are_refused(
    refusing: ApiServer, httpserver: HTTPServer, url: str, says: str
) -> None:
    serve_feed(httpserver)
    target = url.format(port=httpserver.port)
    response = refusing.write("POST", "/api/feeds", json={"url": target})
    assert response.status_code == 400, response.text
    assert says in response.json()["error"]
    assert refusing.get("/api/feeds").json()["items"] == []
    assert len(httpserver.log) == 0  # never fetched


def test_an_allowed_network_lets_a_private_feed_in(tmp_path: Path, httpserver: HTTPServer) -> None:
    url = serve_feed(httpserver)
    with running_api(f"sqlite:///{tmp_path / 'a.db'}", allowed_networks=("127.0.0.1/32",)) as api:
        added = api.write("POST", "/api/feeds", json={"url": url})
        assert added.status_code == 201, added.text
        poll = api.write("POST", f"/api/feeds/{added.json()['id']}/poll").json()
        assert (poll["outcome"], poll["new"]) == ("new", 13)


def test_api_feeds_are_fetched_with_the_restrictions(
    api: ApiServer, httpserver: HTTPServer
) -> None:
    """What was public when added may not be when fetched (DNS changes, redirects):
    the fetch itself refuses, and the failure is stored on the feed."""
    url = serve_feed(httpserver)
    feed = api.app.storage.add_api_feed(url, FeedKind.PODCAST, api.app.clock())
    poll = api.write("POST", f"/api/feeds/{feed.id}/poll").json()
    assert poll["outcome"] == "failed"
    assert "loopback address 127.0.0.1, not allowed here" in poll["error"]
    assert len(httpserver.log) == 0
    stored = api.get(f"/api/feeds/{feed.id}").json()
    assert (stored["status"], stored["error_count"]) == ("failing", 1)
    assert stored["added_via_api"] is True


def test_redirects_of_api_feeds_are_checked_too(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/moved").respond_with_data(
        "", status=302, headers={"Location": "http://10.9.8.7/feed.xml"}
    )
    url = f"http://127.0.0.1:{httpserver.port}/moved"
    with running_api(f"sqlite:///{tmp_path / 'a.db'}", allowed_networks=("127.0.0.1/32",)) as api:
        feed_id = api.write("POST", "/api/feeds", json={"url": url}).json()["id"]
        poll = api.write("POST", f"/api/feeds/{feed_id}/poll").json()
        assert poll["outcome"] == "failed"
        assert "refused redirect to http://10.9.8.7/feed.xml" in poll["error"]


def test_feeds_from_the_config_are_polled_as_before(api: ApiServer, httpserver: HTTPServer) -> None:
    """The operator's own feeds (config, CLI) may live on the local network."""
    url = serve_feed(httpserver)
    feed = api.app.storage.add_feed(url, FeedKind.PODCAST, api.app.clock())
    poll = api.write("POST", f"/api/feeds/{feed.id}/poll").json()
    assert (poll["outcome"], poll["new"]) == ("new", 13)
    assert api.get(f"/api/feeds/{feed.id}").json()["added_via_api"] is False


def test_check_public_url_judges_every_address_a_name_has() -> None:
    def resolver(addresses: list[str]) -> Any:
        return lambda host, port: addresses

    public = resolver(["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
    assert check_public_url("https://Feeds.Example.com/x", resolve=public) == (
        "https://feeds.example.com/x"
    )
    mixed = resolver(["93.184.216.34", "10.0.0.7"])
    with pytest.raises(BlockedURL, match=r"resolves to a private address, not allowed here$"):
        check_public_url("https://feeds.example.com/x", resolve=mixed)
    assert check_public_url("http://feeds.example.com/", ["10.0.0.0/8"], resolve=mixed)
    with pytest.raises(InputError, match="only http and https"):
        check_public_url("javascript:alert(1)", resolve=public)


# --- reviews by URL ------------------------------------------------------------------------------


def test_review_pages_on_private_addresses_are_refused(
    refusing: ApiServer, httpserver: HTTPServer
) -> None:
    api = refusing
    httpserver.expect_request("/review").respond_with_data(REVIEW_HTML, content_type="text/html")
    url = f"http://127.0.0.1:{httpserver.port}/review"
    for target in (url, "http://169.254.169.254/latest/", "file:///etc/passwd"):
        response = api.write("POST", "/api/reviews", json={"url": target})
        assert response.status_code == 400, target
    assert len(httpserver.log) == 0
    assert api.get("/api/reviews").json()["items"] == []


def test_a_review_page_is_fetched_and_read(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/review").respond_with_data(REVIEW_HTML, content_type="text/html")
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    httpserver.expect_request("/inward").respond_with_data(
        "", status=301, headers={"Location": "http://192.168.0.1/review"}
    )
    base = f"http://127.0.0.1:{httpserver.port}"
    with running_api(f"sqlite:///{tmp_path / 'a.db'}", allowed_networks=("127.0.0.1/32",)) as api:
        response = api.write("POST", "/api/reviews", json={"url": f"{base}/review"})
        assert response.status_code == 201, response.text
        review = response.json()["review"]
        assert (review["source"], review["url"]) == ("url", f"{base}/review")
        assert review["title"] == "On Caliphate"
        assert "Caliphate, the New York Times podcast, is ten episodes" in review["text"]
        gone = api.write("POST", "/api/reviews", json={"url": f"{base}/gone"})
        assert gone.status_code == 502
        assert "HTTP 404" in gone.json()["error"]
        inward = api.write("POST", "/api/reviews", json={"url": f"{base}/inward"})
        assert inward.status_code == 400
        assert "refused redirect" in inward.json()["error"]


# --- payloads stay data ------------------------------------------------------------------


def test_script_in_a_review_comes_back_as_json_data(api: ApiServer) -> None:
    text = f"{XSS} A review that tries it on."
    body = {"text": text, "format": "text", "title": f"{XSS}<img src=x onerror=alert(2)>"}
    added = api.write("POST", "/api/reviews", json=body)
    assert added.status_code == 201, added.text
    review_id = added.json()["review"]["id"]
    for path in (f"/api/reviews/{review_id}", "/api/reviews", "/api/search/reviews?q=tries"):
        response = api.client.get(path)
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.text.startswith(("{", "["))  # JSON, never a page
    detail = api.get(f"/api/reviews/{review_id}").json()
    assert detail["text"] == text  # returned as written: the client escapes it
    assert detail["title"] == body["title"]
    (item,) = api.get("/api/search/reviews", q="tries").json()["items"]
    assert item["excerpt"] == text


def test_feed_payloads_come_back_sanitized_or_as_text(
    api: ApiServer, httpserver: HTTPServer
) -> None:
    hostile = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Evil &lt;script&gt;'
        b"alert(1)&lt;/script&gt; Show</title><item><guid>e1</guid>"
        b"<title>&lt;img src=x onerror=alert(1)&gt;Episode</title>"
        b'<description><![CDATA[<p onclick="alert(1)">Hi<script>alert(1)</script>'
        b'<a href="javascript:alert(1)">x</a></p>]]></description>'
        b'<enclosure url="https://cdn.example/e1.mp3" type="audio/mpeg" length="1"/>'
        b"</item></channel></rss>"
    )
    httpserver.expect_request("/evil.xml").respond_with_data(hostile, content_type="text/xml")
    url = f"http://127.0.0.1:{httpserver.port}/evil.xml"
    feed = api.app.storage.add_feed(url, FeedKind.PODCAST, api.app.clock())
    assert api.write("POST", f"/api/feeds/{feed.id}/poll").json()["outcome"] == "new"
    (episode,) = api.get("/api/episodes").json()["items"]
    assert episode["title"] == "<img src=x onerror=alert(1)>Episode"  # text, as data
    detail = api.get(f"/api/episodes/{episode['id']}").json()
    html = detail["description_html"]
    assert "Hi" in html
    for bad in ("<script", "onclick", "javascript:"):
        assert bad not in html
    (show,) = api.get("/api/series").json()["items"]
    assert show["title"] == f"Evil {XSS} Show"
    raw = httpx.get(f"{api.url}/api/series/{show['id']}")
    assert raw.headers["content-type"] == "application/json"
