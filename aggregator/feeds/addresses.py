"""The address policy: which hosts the server may connect to, for whoever asked.

Every request the server sends passes ``check_url`` before any connection is made:
a feed's poll, each hop of a redirect, the check of a feed's announced new URL
(``itunes:new-feed-url``), a review page (``Fetcher`` calls it for each of them), and
a URL given through the HTTP API before it is even stored (``api.ssrf``). Enclosure,
image and episode URLs are never fetched by the server: they are only stored and shown.

The rules, in order (``docs/security.md`` says why):

1. Never: link-local addresses (169.254.0.0/16, fe80::/10: where cloud metadata
   services answer), the metadata addresses outside them (``_METADATA``), the
   unspecified address (0.0.0.0 and ``::`` reach this machine), multicast and
   broadcast. Not when the operator names one, not when it is allow-listed.
2. A public address: yes.
3. An address in ``[http] allowed_networks``: yes, as if public.
4. Any other address (loopback, private, unique-local, shared, reserved): only on the
   *trusted origin*, the host and port of a URL the operator gave (a feed in the
   config file, added on the command line or imported from OPML, a review page named
   on the command line): a LAN feed server keeps working. A redirect or an announced
   new URL may stay on that origin, never reach another non-public host or port: a
   public feed must not walk the server into its own network. A URL given through
   the HTTP API has no trusted origin.

A host name is resolved once and every address it resolves to is judged: one
refused address refuses the URL, since the connection could go to any of them.
``check_url`` hands back the addresses it judged, and the fetcher connects to one of
them (``feeds._transport``), never resolving the name again: a DNS server that
answers differently the second time (DNS rebinding) has no second time. The reason
given never names the address a *name* resolved to: refusals are published (a
feed's last error, an API answer), and the addresses of an internal network are not
for the public.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from aggregator.feeds.locations import ascii_host, http_url_problem

__all__ = [
    "Checked",
    "IPNetwork",
    "InvalidURL",
    "Origin",
    "Refused",
    "check_url",
    "judge_address",
    "parse_networks",
    "resolve_host",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services at addresses outside the link-local ranges. Each hands out
# the machine's credentials to whoever asks from inside it.
_METADATA: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "fd00:ec2::254",  # AWS, over IPv6 (IMDS)
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure's platform endpoint (WireServer)
    )
)
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
# The kinds of rule 1: refused whoever asks.
_NEVER = frozenset({"link-local", "cloud metadata", "unspecified", "multicast", "broadcast"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(ValueError):
    """The policy refuses a URL; the message says why, without resolved addresses."""


class InvalidURL(ValueError):
    """Not an http(s) URL with a valid host and port; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a URL connects: its host (ASCII, lower-case) and port."""

    host: str
    port: int
    default_port: bool  # the scheme's own port (80 for http, 443 for https)

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of an http(s) URL; InvalidURL when the URL is not a usable one."""
        origin = _origin_of(url)
        if isinstance(origin, str):
            raise InvalidURL(origin)
        return origin

    @classmethod
    def trusted(cls, url: str | None) -> Origin | None:
        """The origin of a URL the operator gave, or None for a file or a bad URL."""
        if url is None or not url.lower().startswith(("http://", "https://")):
            return None
        try:
            return cls.of(url)
        except InvalidURL:
            return None

    def same_as(self, other: Origin) -> bool:
        """Same host, and same port (80 and 443 count as one: http upgraded to https)."""
        if self.host != other.host:
            return False
        return self.port == other.port or (self.default_port and other.default_port)


@dataclass(frozen=True, slots=True)
class Checked:
    """A URL the policy lets the server connect to: its origin, and every address
    judged for it, in the resolver's order (the connection must go to one of them;
    empty when the name is left to a proxy to resolve)."""

    origin: Origin
    addresses: tuple[str, ...]


# The same feed URLs come round poll after poll: their parse (two thirds of the cost
# of a check, ~25 us) is kept. Bounded: ~300 bytes an entry.
@functools.lru_cache(maxsize=4096)
def _origin_of(url: str) -> Origin | str:
    """The origin of ``url``, or what makes it invalid."""
    problem = http_url_problem(url)
    if problem is not None:
        return problem
    parts = urlsplit(url)
    default = _DEFAULT_PORTS[parts.scheme.lower()]
    port = parts.port or default
    return Origin(ascii_host(parts.hostname or ""), port, port == default)


def parse_networks(networks: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Networks given as text (``"10.1.0.0/16"``, ``"::1"``); a bad one raises ValueError."""
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order of preference
    (the order to connect in); raises ``socket.gaierror`` when none."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(
    url: str,
    *,
    trusted: Origin | None,
    allowed: Sequence[IPNetwork] = (),
    resolve: Callable[[str, int], list[str]] | None = None,
    proxied: bool = False,
) -> Checked:
    """Where ``url`` connects (its origin and addresses), when the policy lets the
    server connect there.

    ``trusted`` is the origin of the URL the operator gave (None when a remote user
    gave it); ``allowed`` the allow-listed networks. Raises Refused with the reason,
    InvalidURL for a URL with no valid host or port, or OSError when the host name
    does not resolve. ``resolve`` defaults to ``resolve_host`` (tests pass their own,
    so that no DNS query leaves). ``proxied``: the request goes through a proxy, which
    resolves names itself; a name that does not resolve here is left to it (a machine
    behind a proxy often cannot resolve outside names at all).
    """
    origin = Origin.of(url)
    on_trusted = trusted is not None and origin.same_as(trusted)
    try:
        literal: IPAddress | None = ipaddress.ip_address(origin.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [origin.host]
    else:
        try:
            addresses = (resolve or resolve_host)(origin.host, origin.port)
        except OSError:
            if proxied:
                return Checked(origin, ())
            raise
    for address in addresses:
        problem = judge_address(address, trusted=on_trusted, allowed=allowed)
        if problem is not None:
            a = "an" if problem[0] in "aeiou" else "a"
            what = (
                f"is {a} {problem} address {_reached(address)}"
                if literal is not None
                else f"{origin.host} resolves to {a} {problem} address"
            )
            never = problem in _NEVER
            raise Refused(f"{what}, {'never fetched' if never else 'not allowed here'}")
    return Checked(origin, tuple(addresses))


def judge_address(
    address: str, *, trusted: bool = False, allowed: Sequence[IPNetwork] = ()
) -> str | None:
    """The kind of address that makes ``address`` refused, or None when it may be used.

    ``trusted``: the address is that of the operator's own origin (rule 4 of the
    module's docstring). An IPv4 address inside IPv6 (mapped ``::ffff:127.0.0.1``,
    6to4, Teredo) is judged as the IPv4 address it reaches.
    """
    return _judge(address, trusted, tuple(allowed))


# Pure, and asked about the same few addresses again and again (Python's is_private
# and is_global test the address against a dozen networks each time).
@functools.lru_cache(maxsize=4096)
def _judge(address: str, trusted: bool, allowed: tuple[IPNetwork, ...]) -> str | None:
    ip = _reached(address)
    for kind, hit in (
        ("cloud metadata", ip in _METADATA),
        ("link-local", ip.is_link_local),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("broadcast", ip == _BROADCAST),
    ):
        if hit:
            return kind
    if ip.is_global and not ip.is_reserved and not _site_local(ip):
        return None
    if trusted or any(ip in network for network in allowed):
        return None
    for kind, hit in (
        ("loopback", ip.is_loopback),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if hit:
            return kind
    return "non-public"


def _reached(address: str) -> IPAddress:
    """The address a connection to ``address`` reaches: an IPv4 address inside IPv6
    is that IPv4 address; a zone ("fe80::1%eth0") says which interface, not which
    address, and is dropped."""
    ip: IPAddress = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return embedded
    return ip


def _site_local(ip: IPAddress) -> bool:
    # fec0::/10 was deprecated (RFC 3879) and Python still calls it global.
    return isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local
