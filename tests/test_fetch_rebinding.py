"""DNS rebinding: a name that resolves to an allowed address when it is judged and to
a refused one when it is connected to.

The host name ``rebind.example`` is answered by a DNS stand-in of the test's own
(``socket.getaddrinfo`` replaced, for the policy and for the connection alike): its
first answer is 127.0.0.2, which the fetchers here count as public (an allow-listed
network, as a feed added through the API may reach), and every later answer is
127.0.0.1, which they refuse — where an internal service of the machine listens on
the same port. The fetch must connect to the address that was judged: the internal
service hears nothing, whatever the path (a feed, a redirect, an announced new URL,
a review page), and the name is asked once per request.

Every address is on loopback: no packet leaves 127.0.0.0/8, even when the code under
test is wrong.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.app import make_app
from aggregator.exceptions import BlockedURL, FetchConnectionError
from aggregator.feeds.fetch import Fetcher
from aggregator.reviews.service import Reviews
from aggregator.settings import FetchSettings, HttpSettings, Settings
from aggregator.storage import Storage
from aggregator.types import FeedKind
from tests.feedserver import FeedServer

FAST = FetchSettings(connect_timeout=2, read_timeout=5, total_timeout=20)
NAME = "rebind.example"
ALLOWED = "127.0.0.2/32"  # the judged address counts as public; 127.0.0.1 does not
TLS = Path(__file__).parent / "data" / "tls"


def feed_body(title: str, *, new_feed_url: str | None = None) -> bytes:
    announce = f"<itunes:new-feed-url>{new_feed_url}</itunes:new-feed-url>" if new_feed_url else ""
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
        f"<title>{title}</title>{announce}"
        f"<item><title>{title} 1</title><guid>{title}-1</guid></item>"
        "</channel></rss>"
    ).encode()


REVIEW_HTML = (
    "<html><head><title>{0}</title></head><body><article><h1>{0}</h1>"
    + "<p>{0} wrote this review of a podcast, at some length, for the test. </p>" * 8
    + "</article></body></html>"
)


class Rebinding:
    """The DNS stand-in: ``rebind.example`` answers 127.0.0.2 once, then 127.0.0.1
    (a TTL of zero); IP literals resolve to themselves; any other name is unknown."""

    def __init__(self) -> None:
        self.answers = ["127.0.0.2"]
        self.asked = 0

    def getaddrinfo(self, real: Any, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if name != NAME:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            self.asked += 1
            address = self.answers.pop(0) if self.answers else "127.0.0.1"
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Rebinding:
    rebinding = Rebinding()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return rebinding.getaddrinfo(real, host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return rebinding


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    """A service of this machine on 127.0.0.1 that no fetch here may reach."""
    with FeedServer() as server:
        server.serve("/feed.xml", feed_body("internal"))
        server.serve("/review", REVIEW_HTML.format("Internal").encode(), content_type="text/html")
        yield server


@pytest.fixture
def judged(internal: FeedServer) -> Iterator[FeedServer]:
    """The server at the address that was judged: 127.0.0.2, on the internal port."""
    with FeedServer(host="127.0.0.2", port=internal.port) as server:
        server.serve("/feed.xml", feed_body("judged"))
        server.serve("/review", REVIEW_HTML.format("Judged").encode(), content_type="text/html")
        yield server


def restricted() -> Fetcher:
    """A fetcher as for a URL given through the API: public addresses only (and the
    allow-listed one)."""
    return Fetcher(FAST, allow_file=False, allow_private=False, allowed_networks=[ALLOWED])


def test_a_feed_is_fetched_from_the_address_that_was_judged(
    dns: Rebinding, internal: FeedServer, judged: FeedServer
) -> None:
    url = f"http://{NAME}:{judged.port}/feed.xml"
    with restricted() as fetcher:
        result = fetcher.fetch(url)
    assert result.content == feed_body("judged")
    assert internal.log == []
    assert dns.asked == 1
    # The request still names the host it was for.
    assert [r.host for r in judged.log] == [f"{NAME}:{judged.port}"]


def test_a_redirect_is_fetched_from_the_address_that_was_judged(
    dns: Rebinding, internal: FeedServer, judged: FeedServer
) -> None:
    target = f"http://{NAME}:{judged.port}/feed.xml"
    judged.fail("/start", 302, {"Location": target})
    with restricted() as fetcher:
        result = fetcher.fetch(f"http://127.0.0.2:{judged.port}/start")
    assert result.content == feed_body("judged")
    assert result.final_url == target
    assert internal.log == []
    assert dns.asked == 1


def test_an_announced_new_url_is_probed_at_the_address_that_was_judged(
    dns: Rebinding, internal: FeedServer, judged: FeedServer, tmp_path: Path
) -> None:
    # A feed added through the API (public addresses only) announces a new URL on the
    # rebinding name: the probe, and the move, go to 127.0.0.2 only.
    new_url = f"http://{NAME}:{judged.port}/feed.xml"
    judged.serve("/old.xml", feed_body("judged", new_feed_url=new_url))
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'a.db'}",
        http=HttpSettings(allowed_networks=(ALLOWED,)),
    )
    with make_app(settings) as app:
        old_url = f"http://127.0.0.2:{judged.port}/old.xml"
        feed = app.storage.add_api_feed(old_url, FeedKind.PODCAST, app.clock())
        report = app.poller.poll_feed(feed)
        assert report.error is None
        assert app.storage.get_feed(feed.id).url == new_url
    assert internal.log == []
    assert [r.path for r in judged.log] == ["/old.xml", "/feed.xml"]


def test_a_review_page_is_fetched_from_the_address_that_was_judged(
    dns: Rebinding, internal: FeedServer, judged: FeedServer, storage: Storage
) -> None:
    with restricted() as fetcher:
        reviews = Reviews(storage, fetcher, clock=lambda: datetime.now(UTC))
        added = reviews.add_url(f"http://{NAME}:{judged.port}/review")
    assert "Judged wrote this review" in added.review.text
    assert internal.log == []
    assert dns.asked == 1


def test_a_name_is_judged_again_at_each_fetch_and_refused_when_it_turns_inward(
    dns: Rebinding, internal: FeedServer, judged: FeedServer
) -> None:
    url = f"http://{NAME}:{judged.port}/feed.xml"
    with restricted() as fetcher:
        assert fetcher.fetch(url).content == feed_body("judged")
        # The kept-alive connection to 127.0.0.2 is not reused once the name
        # resolves to 127.0.0.1: that answer is judged, and refused.
        with pytest.raises(BlockedURL, match="resolves to a loopback address, not allowed"):
            fetcher.fetch(url)
    assert internal.log == []
    assert len(judged.log) == 1


def test_a_name_with_several_addresses_falls_back_to_the_next_judged_one(
    monkeypatch: pytest.MonkeyPatch, judged: FeedServer
) -> None:
    # 127.0.0.3 has no server (refused at once); 127.0.0.2 does: both were judged.
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == NAME:
            return [real(a, port, *args, **kwargs)[0] for a in ("127.0.0.3", "127.0.0.2")]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    allowed = ["127.0.0.2/32", "127.0.0.3/32"]
    with Fetcher(FAST, allow_private=False, allowed_networks=allowed) as fetcher:
        assert fetcher.fetch(f"http://{NAME}:{judged.port}/feed.xml").content == (
            feed_body("judged")
        )
        with pytest.raises(FetchConnectionError):
            fetcher.fetch(f"http://127.0.0.3:{judged.port}/feed.xml")


# --- TLS: the connection is pinned, the name still checked --------------------------


@pytest.fixture
def tls_judged(internal: FeedServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedServer]:
    """An https server on 127.0.0.2 with a certificate for rebind.example only, signed
    by the tests' CA, which the fetcher is told to trust; it records the SNI names."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "rebind.pem", TLS / "rebind.key")
    names: list[str | None] = []
    context.sni_callback = lambda _socket, name, _context: names.append(name)
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "ca.pem"))
    with FeedServer(host="127.0.0.2", port=internal.port, tls=context) as server:
        server.serve("/feed.xml", feed_body("judged over tls"))
        server.sni = names  # type: ignore[attr-defined]
        yield server


def test_tls_names_the_host_and_checks_its_certificate_on_a_pinned_connection(
    dns: Rebinding, internal: FeedServer, tls_judged: FeedServer
) -> None:
    with restricted() as fetcher:
        result = fetcher.fetch(f"https://{NAME}:{tls_judged.port}/feed.xml")
    assert result.content == feed_body("judged over tls")
    assert tls_judged.sni == [NAME]  # type: ignore[attr-defined]
    assert [r.host for r in tls_judged.log] == [f"{NAME}:{tls_judged.port}"]
    assert internal.log == []


def test_a_certificate_for_another_name_is_refused_on_a_pinned_connection(
    monkeypatch: pytest.MonkeyPatch, tls_judged: FeedServer
) -> None:
    # Another name at the same address: the certificate (rebind.example) is not its.
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "other.example":
            return real("127.0.0.2", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with restricted() as fetcher, pytest.raises(FetchConnectionError) as refused:
        fetcher.fetch(f"https://other.example:{tls_judged.port}/feed.xml")
    assert "CERTIFICATE_VERIFY_FAILED" in refused.value.reason
    assert tls_judged.log == []
