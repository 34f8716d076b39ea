"""The address policy (aggregator.feeds.addresses), rule by rule.

Pure: host names are resolved by a table passed in, so no DNS query leaves and no
connection is made. The same policy end to end, through a real poller and server, is
in tests/test_address_policy.py.
"""

from __future__ import annotations

import socket

import pytest

from aggregator.feeds.addresses import (
    InvalidURL,
    Origin,
    Refused,
    check_url,
    judge_address,
    parse_networks,
    resolve_host,
)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("240.0.0.1", "private"),  # reserved, which Python counts as private
        ("::1", "loopback"),
        ("fc00::1", "private"),
        ("fec0::1", "non-public"),  # site-local: deprecated, and Python calls it global
        ("::ffff:127.0.0.1", "loopback"),  # IPv4 inside IPv6
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("93.184.215.14", None),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_non_public_addresses_are_refused_off_the_trusted_origin(
    address: str, problem: str | None
) -> None:
    assert judge_address(address) == problem
    # On the operator's own origin, or in an allowed network, they may be used.
    assert judge_address(address, trusted=True) is None
    assert judge_address(address, allowed=parse_networks(["0.0.0.0/0", "::/0"])) is None


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("169.254.169.254", "link-local"),  # AWS, GCP, Azure, OpenStack metadata
        ("169.254.0.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("::ffff:169.254.169.254", "link-local"),
        ("fd00:ec2::254", "cloud metadata"),  # AWS over IPv6
        ("100.100.100.200", "cloud metadata"),  # Alibaba
        ("168.63.129.16", "cloud metadata"),  # Azure WireServer: a public-range address
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "broadcast"),
    ],
)
def test_link_local_metadata_and_the_like_are_never_allowed(address: str, problem: str) -> None:
    everything = parse_networks(["0.0.0.0/0", "::/0"])
    assert judge_address(address) == problem
    assert judge_address(address, trusted=True) == problem
    assert judge_address(address, trusted=True, allowed=everything) == problem


def test_parse_networks_refuses_a_bad_network() -> None:
    assert parse_networks(["10.20.0.0/16", "::1"])[1].num_addresses == 1
    with pytest.raises(ValueError):
        parse_networks(["not-a-network"])


def test_resolve_host_finds_loopback_for_localhost() -> None:
    assert "127.0.0.1" in resolve_host("localhost", 80)
    assert resolve_host("127.0.0.1", 80) == ["127.0.0.1"]


# --- check_url: the one function every fetch path calls --------------------------------

NAMES = {
    "feeds.example.com": ["93.184.215.14"],
    "mixed.example.com": ["93.184.215.14", "10.1.2.3"],
    "intranet.example.com": ["10.1.2.3"],
    "metadata.example.com": ["169.254.169.254"],
    "xn--bcher-kva.example": ["93.184.215.15"],
    "lan-feeds": ["192.168.1.5"],
}


def resolve(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return NAMES[host]


def check(url: str, trusted: str | None = None, allowed: tuple[str, ...] = ()) -> Origin:
    return check_url(
        url,
        trusted=Origin.trusted(trusted),
        allowed=parse_networks(allowed),
        resolve=resolve,
    ).origin


def refusal(url: str, trusted: str | None = None, allowed: tuple[str, ...] = ()) -> str:
    with pytest.raises(Refused) as info:
        check(url, trusted, allowed)
    return str(info.value)


def test_public_addresses_pass_whoever_asked() -> None:
    assert check("http://93.184.215.14/feed") == Origin("93.184.215.14", 80, True)
    assert check("https://feeds.example.com:8443/feed") == Origin("feeds.example.com", 8443, False)
    assert check("https://Bücher.example/feed").host == "xn--bcher-kva.example"


def test_the_trusted_origin_may_be_private_but_only_its_host_and_port() -> None:
    lan = "http://192.168.1.5:8080/feed.xml"
    assert check("http://192.168.1.5:8080/other.xml", trusted=lan).port == 8080
    # Another port of the same host, another host of the same network, loopback.
    assert refusal("http://192.168.1.5:5432/", trusted=lan) == (
        "is a private address 192.168.1.5, not allowed here"
    )
    assert refusal("http://192.168.1.6:8080/feed.xml", trusted=lan) == (
        "is a private address 192.168.1.6, not allowed here"
    )
    assert refusal("http://127.0.0.1:8080/feed.xml", trusted=lan) == (
        "is a loopback address 127.0.0.1, not allowed here"
    )
    # By name, the name is the origin: another name for the same address is not.
    assert check("http://lan-feeds/feed.xml", trusted="http://LAN-feeds/old.xml").host == (
        "lan-feeds"
    )
    with pytest.raises(Refused):
        check("http://192.168.1.5/feed.xml", trusted="http://lan-feeds/old.xml")


def test_http_upgraded_to_https_stays_on_the_trusted_origin() -> None:
    lan = "http://192.168.1.5/feed.xml"
    assert check("https://192.168.1.5/feed.xml", trusted=lan).port == 443
    with pytest.raises(Refused):
        check("https://192.168.1.5:8443/feed.xml", trusted=lan)


def test_without_a_trusted_origin_only_public_and_allowed_networks_pass() -> None:
    assert refusal("http://127.0.0.1:8080/feed") == (
        "is a loopback address 127.0.0.1, not allowed here"
    )
    assert refusal("http://[::ffff:127.0.0.1]/feed") == (
        "is a loopback address 127.0.0.1, not allowed here"
    )
    assert check("http://10.20.0.5/feed", allowed=("10.20.0.0/16",)).host == "10.20.0.5"
    with pytest.raises(Refused):
        check("http://10.21.0.5/feed", allowed=("10.20.0.0/16",))


def test_metadata_addresses_are_refused_even_as_the_trusted_origin() -> None:
    url = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(Refused) as info:
        check(url, trusted=url, allowed=("169.254.0.0/16",))
    assert str(info.value) == "is a link-local address 169.254.169.254, never fetched"
    with pytest.raises(Refused, match="never fetched"):
        check("http://[fe80::1]/", trusted="http://[fe80::1]/")
    assert refusal("http://0.0.0.0:8080/", trusted="http://0.0.0.0:8080/") == (
        "is an unspecified address 0.0.0.0, never fetched"
    )


def test_a_name_is_judged_by_every_address_and_its_addresses_are_never_told() -> None:
    # A name with one public and one private address is refused: the connection could
    # go to either. The reason is published, so it says what kind, not which address.
    with pytest.raises(Refused) as info:
        check("http://mixed.example.com/feed")
    assert str(info.value) == ("mixed.example.com resolves to a private address, not allowed here")
    with pytest.raises(Refused) as info:
        check("http://metadata.example.com/", trusted="http://metadata.example.com/")
    assert str(info.value) == "metadata.example.com resolves to a link-local address, never fetched"
    for refused in ("http://intranet.example.com/", "http://metadata.example.com/"):
        with pytest.raises(Refused) as info:
            check(refused)
        assert "10.1.2.3" not in str(info.value) and "169.254" not in str(info.value)
    with pytest.raises(OSError):
        check("http://nowhere.example.com/")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://93.184.215.14:99999/", "port 99999 is out of range"),
        ("http://93.184.215.14:0/", "port 0 is out of range"),
        ("http://0x7f.1/", "host name 0x7f.1 is not valid"),
        ("http://2130706433/", "host name 2130706433 is not valid"),
        ("http://exa mple.com/", "host name exa mple.com is not valid"),
        ("ftp://93.184.215.14/", "only http and https"),
        ("http:///feed", "no host name"),
    ],
)
def test_urls_without_a_valid_host_or_port_are_invalid(url: str, problem: str) -> None:
    with pytest.raises(InvalidURL, match=problem):
        check(url)
