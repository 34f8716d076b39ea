"""feedparser's HTTP cases through our real fetch -> parse path.

feedparser's corpus (tests/data/peer/feedparser) marks the cases whose meaning
depends on HTTP response headers (mostly Content-Type charsets). Each is served here
by a real local server with its ``Header:`` lines; we fetch it with our Fetcher and
parse what came back with the headers it came with. The result must be exactly what
parsing the file with those headers gives — which test_parse_peer_feedparser checks
against the case's own expectation — so nothing on the way (decoding, header
handling) changes what the document means.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator.exceptions import ParseError
from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.parse import parse_feed
from aggregator.settings import FetchSettings
from aggregator.types import ParsedFeed
from tests.feedserver import FeedServer

CORPUS = Path(__file__).resolve().parent / "data" / "peer" / "feedparser"
CASES = [
    case
    for case in map(json.loads, (CORPUS / "expectations.jsonl").read_text().splitlines())
    if case["http"]
]


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


@pytest.fixture(scope="module")
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(connect_timeout=2, read_timeout=5)) as f:
        yield f


def parse_or_error(content: bytes, url: str, headers: dict[str, str]) -> ParsedFeed | str:
    try:
        return parse_feed(content, url=url, headers=headers)
    except ParseError as e:
        return f"ParseError: {e.reason}"


def test_there_are_http_cases() -> None:
    assert len(CASES) == 58  # grep -c '"http": true' expectations.jsonl


@pytest.mark.parametrize("case", CASES, ids=[c["path"] for c in CASES])
def test_http_case_means_the_same_after_a_real_fetch(
    case: dict[str, Any], server: FeedServer, fetcher: Fetcher
) -> None:
    headers: dict[str, str] = dict(case["headers"] or {})
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "text/xml")
    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    content = (CORPUS / case["path"]).read_bytes()
    path = "/" + case["path"]
    server.serve(path, content, content_type=content_type, headers=extra)

    result = fetcher.fetch(server.url(path))
    assert result.content == content  # bytes intact through the real HTTP path
    assert result.headers["content-type"] == content_type

    url = f"http://127.0.0.1:8097/{case['path']}"
    direct = parse_or_error(content, url, {"content-type": content_type})
    fetched = parse_or_error(result.content, url, dict(result.headers))
    assert fetched == direct
