"""The address policy end to end: real Poller, Fetcher, parser, Storage and servers.

Every way a URL is reached — a feed's first request, a redirect, a feed's announced
new URL (itunes:new-feed-url), a review page — goes through one policy
(``aggregator.feeds.addresses``), whoever added the feed. Our servers listen on
127.0.0.1. A feed added by the operator may be on loopback (like a LAN feed server):
its own host and port are trusted, nothing else that is not public.

No test packet leaves loopback, even when the code under test is wrong: the fetcher's
transport (``LoopbackOnly``) sends requests for 127.0.0.0/8 to the real servers and
answers any other itself, recording it. An address the policy refuses must never
reach that record: it is refused before any connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from aggregator.app import make_app
from aggregator.exceptions import BlockedURL
from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.poller import Poller
from aggregator.reviews.service import Reviews
from aggregator.settings import FetchSettings, HttpSettings, PollSettings, Settings
from aggregator.storage import Storage
from aggregator.types import FeedKind, FeedRecord
from tests.feedserver import FeedServer
from tests.stored import episode_records, series_records

FAST = FetchSettings(connect_timeout=2, read_timeout=5, total_timeout=20)
TODAY = f"{datetime.now(UTC):%Y-%m-%d}"


def feed_body(
    title: str, *, new_feed_url: str | None = None, enclosure: str | None = None
) -> bytes:
    announce = f"<itunes:new-feed-url>{new_feed_url}</itunes:new-feed-url>" if new_feed_url else ""
    audio = enclosure or f"https://cdn.example.org/{title}.mp3"
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
        f"<title>{title}</title>{announce}"
        f"<item><title>{title} 1</title><guid>{title}-1</guid>"
        f'<enclosure url="{audio}" type="audio/mpeg" length="1"/></item>'
        "</channel></rss>"
    ).encode()


class LoopbackOnly(httpx.BaseTransport):
    """Real requests to 127.0.0.0/8; any other is recorded and answered with a feed
    here, as a metadata service or an intranet host that answered would be."""

    def __init__(self) -> None:
        self._real = httpx.HTTPTransport()
        self.elsewhere: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            loopback = ipaddress.ip_address(request.url.host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return self._real.handle_request(request)
        self.elsewhere.append(str(request.url))
        return httpx.Response(200, stream=httpx.ByteStream(feed_body("inside")), request=request)

    def close(self) -> None:
        self._real.close()


@pytest.fixture
def public() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    """Another service on the same machine (a database's admin page, say)."""
    with FeedServer() as server:
        server.serve("/feed.xml", feed_body("internal"))
        yield server


@pytest.fixture
def transport() -> Iterator[LoopbackOnly]:
    t = LoopbackOnly()
    yield t
    t.close()


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Host names resolve by this table, for the policy and for httpx alike: no DNS
    query leaves. IP literals resolve as usual (to themselves)."""
    table: dict[str, list[str]] = {"localhost": ["127.0.0.1"]}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if name not in table:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            return [real(address, port, *args, **kwargs)[0] for address in table[name]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def closed_port() -> int:
    with socket.socket() as s:  # free a moment ago, and again now
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(storage: Storage, feed: FeedRecord, transport: LoopbackOnly) -> FeedRecord:
    """One poll as ``aggregator run`` does it: API feeds with the restricted fetcher
    (which counts 127.0.0.1 as public here, like an allow-listed network)."""
    with (
        Fetcher(FAST, transport=transport) as fetcher,
        Fetcher(
            FAST,
            transport=transport,
            allow_file=False,
            allow_private=False,
            allowed_networks=["127.0.0.1/32"],
        ) as restricted,
    ):
        poller = Poller(
            storage,
            fetcher,
            PollSettings(),
            clock=lambda: datetime.now(UTC),
            random=lambda: 0.5,
            restricted_fetcher=restricted,
        )
        poller.poll_feed(storage.get_feed(feed.id))
    return storage.get_feed(feed.id)


def add(storage: Storage, url: str, via: str) -> FeedRecord:
    now = datetime.now(UTC)
    if via == "api":
        return storage.add_api_feed(url, FeedKind.PODCAST, now)
    return storage.add_feed(url, FeedKind.PODCAST, now)


# --- an announced new URL ------------------------------------------------------------


@pytest.mark.parametrize("target", ["other port", "closed port", "other name", "other host"])
def test_an_announced_new_url_may_not_lead_off_the_trusted_origin(
    storage: Storage,
    public: FeedServer,
    internal: FeedServer,
    transport: LoopbackOnly,
    names: dict[str, list[str]],
    target: str,
) -> None:
    # A feed the operator added on a private address (here loopback) announces a new
    # URL at another service of the machine: not followed, not fetched, not published.
    announced = {
        "other port": internal.url("/feed.xml"),
        "closed port": f"http://127.0.0.1:{closed_port()}/",
        "other name": f"http://localhost:{internal.port}/feed.xml",
        "other host": f"http://127.0.0.2:{internal.port}/feed.xml",
    }[target]
    public.serve("/feed.xml", feed_body("lan", new_feed_url=announced))
    feed = poll(storage, add(storage, public.url("/feed.xml"), "config"), transport)
    assert feed.url == public.url("/feed.xml")
    assert internal.log == []
    assert transport.elsewhere == []
    # The note is published: neither the address nor what probing it said.
    assert feed.note == (
        f"itunes:new-feed-url not followed on {TODAY}: its address is not one we fetch"
    )
    assert [s.title for s in series_records(storage)] == ["lan"]


def test_an_announced_new_url_on_the_trusted_origin_is_followed(
    storage: Storage, public: FeedServer, transport: LoopbackOnly
) -> None:
    public.serve("/old.xml", feed_body("lan", new_feed_url=public.url("/new.xml")))
    public.serve("/new.xml", feed_body("lan"))
    feed = poll(storage, add(storage, public.url("/old.xml"), "config"), transport)
    assert feed.url == public.url("/new.xml")
    assert feed.added_url == public.url("/old.xml")


def test_an_announced_new_url_that_fails_is_noted_without_the_error(
    storage: Storage, public: FeedServer, transport: LoopbackOnly
) -> None:
    public.fail("/gone.xml", 500)
    public.serve("/feed.xml", feed_body("lan", new_feed_url=public.url("/gone.xml")))
    feed = poll(storage, add(storage, public.url("/feed.xml"), "config"), transport)
    assert feed.url == public.url("/feed.xml")
    assert feed.note == (
        f"itunes:new-feed-url {public.url('/gone.xml')} not followed on {TODAY}: "
        "it could not be fetched"
    )


@pytest.mark.parametrize("via", ["config", "api"])
@pytest.mark.parametrize(
    "announced",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/feed.xml",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://metadata.example/computeMetadata/v1/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
    ],
)
def test_an_announced_metadata_address_is_never_contacted(
    storage: Storage,
    public: FeedServer,
    transport: LoopbackOnly,
    names: dict[str, list[str]],
    via: str,
    announced: str,
) -> None:
    names["metadata.example"] = ["169.254.169.254"]
    public.serve("/feed.xml", feed_body("pod", new_feed_url=announced))
    feed = poll(storage, add(storage, public.url("/feed.xml"), via), transport)
    assert transport.elsewhere == []
    assert feed.url == public.url("/feed.xml")
    assert feed.note is not None and "169.254" not in feed.note and "fe80" not in feed.note


# --- redirects, and URLs a feed moved to ---------------------------------------------


def test_a_redirect_to_another_port_of_the_trusted_host_is_refused(
    storage: Storage, public: FeedServer, internal: FeedServer, transport: LoopbackOnly
) -> None:
    target = internal.url("/feed.xml")
    public.fail("/feed.xml", 301, {"Location": target})
    feed = poll(storage, add(storage, public.url("/feed.xml"), "config"), transport)
    assert internal.log == []
    assert feed.url == public.url("/feed.xml")
    assert feed.last_error == (
        f"{public.url('/feed.xml')}: refused redirect to {target}: "
        "is a loopback address 127.0.0.1, not allowed here"
    )


def test_a_refusal_never_tells_what_a_name_resolved_to(
    storage: Storage, public: FeedServer, transport: LoopbackOnly, names: dict[str, list[str]]
) -> None:
    # The last error is published (API, web pages): it may say that an internal name
    # exists, never which address it has.
    names["intranet.example"] = ["10.1.2.3"]
    public.fail("/feed.xml", 302, {"Location": "http://intranet.example/admin"})
    feed = poll(storage, add(storage, public.url("/feed.xml"), "config"), transport)
    assert transport.elsewhere == []
    assert feed.last_error == (
        f"{public.url('/feed.xml')}: refused redirect to http://intranet.example/admin: "
        "intranet.example resolves to a private address, not allowed here"
    )


def test_a_feed_that_moved_is_not_trusted_at_its_new_host(
    storage: Storage, public: FeedServer, transport: LoopbackOnly, names: dict[str, list[str]]
) -> None:
    # The operator trusted the host it named. A permanent redirect moved the feed to a
    # public host; when that host's name later points inward (DNS is the publisher's),
    # the poll is refused before it connects.
    names["feeds.example"] = ["93.184.215.14"]
    public.fail("/feed.xml", 301, {"Location": "http://feeds.example/feed.xml"})
    feed = poll(storage, add(storage, public.url("/feed.xml"), "config"), transport)
    assert feed.url == "http://feeds.example/feed.xml"
    assert transport.elsewhere == ["http://feeds.example/feed.xml"]
    names["feeds.example"] = ["127.0.0.1"]
    feed = poll(storage, feed, transport)
    assert transport.elsewhere == ["http://feeds.example/feed.xml"]
    assert feed.last_error == (
        "http://feeds.example/feed.xml: refused: "
        "feeds.example resolves to a loopback address, not allowed here"
    )


def test_the_operator_may_not_name_a_metadata_address_either(
    storage: Storage, transport: LoopbackOnly
) -> None:
    url = "http://169.254.169.254/latest/meta-data/"
    feed = poll(storage, add(storage, url, "config"), transport)
    assert transport.elsewhere == []
    assert (
        feed.last_error == f"{url}: refused: is a link-local address 169.254.169.254, never fetched"
    )


def test_enclosures_are_never_fetched(
    storage: Storage, public: FeedServer, transport: LoopbackOnly
) -> None:
    # Enclosure (and image, episode page) URLs are only stored and shown.
    enclosure = "http://169.254.169.254/latest/meta-data/iam.mp3"
    public.serve("/feed.xml", feed_body("pod", enclosure=enclosure))
    poll(storage, add(storage, public.url("/feed.xml"), "config"), transport)
    assert [e.enclosure.url for e in episode_records(storage) if e.enclosure] == [enclosure]
    assert transport.elsewhere == []
    assert [r.path for r in public.log] == ["/feed.xml"]


# --- review pages ----------------------------------------------------------------------


def test_a_review_page_named_on_the_command_line_stays_on_its_origin(
    storage: Storage, public: FeedServer, internal: FeedServer, transport: LoopbackOnly
) -> None:
    public.fail("/review", 302, {"Location": internal.url("/feed.xml")})
    with Fetcher(FAST, transport=transport, allow_file=False) as fetcher:
        reviews = Reviews(storage, fetcher, clock=lambda: datetime.now(UTC))
        with pytest.raises(BlockedURL) as info:
            reviews.add_url(public.url("/review"))
    assert info.value.reason == (
        f"refused redirect to {internal.url('/feed.xml')}: "
        "is a loopback address 127.0.0.1, not allowed here"
    )
    assert internal.log == []


# --- the app's own wiring ----------------------------------------------------------------


def test_allowed_networks_count_as_public_for_every_feed(
    tmp_path: Path, public: FeedServer, internal: FeedServer
) -> None:
    # [http] allowed_networks is one setting of the one policy: an operator's feed may
    # be redirected into an allow-listed network, as an API feed may be added there.
    public.fail("/feed.xml", 301, {"Location": internal.url("/feed.xml")})
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'a.db'}",
        http=HttpSettings(allowed_networks=("127.0.0.0/8",)),
    )
    with make_app(settings) as app:
        feed = app.storage.add_feed(public.url("/feed.xml"), FeedKind.PODCAST, app.clock())
        report = app.poller.poll_feed(feed)
        assert report.error is None and report.counts.new == 1
        assert app.storage.get_feed(feed.id).url == internal.url("/feed.xml")
    with make_app(replace(settings, http=HttpSettings())) as app:
        other = app.storage.add_feed(public.url("/other.xml"), FeedKind.PODCAST, app.clock())
        public.fail("/other.xml", 302, {"Location": internal.url("/feed.xml")})
        report = app.poller.poll_feed(other)
    assert report.error is not None and "not allowed here" in report.error
    assert len(internal.log) == 1
