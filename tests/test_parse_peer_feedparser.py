"""feedparser's own encoding, entity and ill-formed-document cases, through our path
(``tests/data/peer/feedparser``, README there).

Each case's ``Expect`` is a Python expression over feedparser's result dict. We
do not expose that dict, so each clause is translated to what we do expose:

- ``feed['title'] == S``, ``entries[0]['title'] == S`` -> series / episode title;
- ``feed.link``, ``entries[0].link`` -> series / episode link;
- ``entries[0]['description'] == S`` (or ``.summary``) -> our description_html equals
  S sanitized the way ours is (the point is the decoded characters);
- ``ord(entries[0]['description']) == N`` -> the description's text is ``chr(N)``;
- ``not bozo`` -> no ``warning``; ``bozo`` -> a ``warning`` or a ``ParseError``,
  except the cases in ``BOZO_NOT_REPORTED`` (with the reason);
- ``encoding == 'x'`` and ``isinstance(bozo_exception, ...)``: we expose neither; for
  those cases the document must still parse (and the other clauses hold).

HTTP cases get their ``Header:`` lines as response headers, as upstream serves them.

Not included, and why:
- ``illformed/chardet/*`` (8): their SkipUnless needs ``chardet``, which is not a
  dependency; without it feedparser cannot guess these undeclared encodings.
- ``illformed/geo/*`` (3): GeoRSS/GML locations are nothing we expose.
- the ``wellformed`` and ``json`` suites: not asked for here (podcastparser's corpus
  covers the podcast elements; JSON Feed is a ``ParseError`` for us, tested in
  test_parse).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from aggregator.exceptions import ParseError
from aggregator.feeds.parse import parse_feed
from aggregator.sanitize import html_to_text, sanitize_html
from aggregator.types import ParsedFeed

CORPUS = Path(__file__).resolve().parent / "data" / "peer" / "feedparser"
EXCLUDED_PREFIXES = ("illformed/chardet/", "illformed/geo/")

# path -> why feedparser's bozo flag has no warning of ours
BOZO_NOT_REPORTED = {
    "encoding/bozo_http_i18n.xml": "text/xml without charset means US-ASCII by RFC 3023; the "
    "UTF-8 document is decoded right anyway, and servers send UTF-8 feeds that way all the "
    "time, so this override is not worth a warning",
    "encoding/bozo_http_text_plain.xml": "a non-XML Content-Type (text/plain) is too common to "
    "report; the document parses",
    "encoding/bozo_http_text_plain_charset.xml": "as bozo_http_text_plain",
}


def _cases() -> list[dict[str, Any]]:
    lines = (CORPUS / "expectations.jsonl").read_text().splitlines()
    cases = [json.loads(line) for line in lines]
    return [
        case
        for case in cases
        if case["suite"] in {"encoding", "entities", "illformed"}
        and not case["path"].startswith(EXCLUDED_PREFIXES)
    ]


CASES = _cases()

_LITERAL = r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\d+)"""
_CLAUSES = {
    "series_title": re.compile(rf"feed\['title'\] == {_LITERAL}"),
    "episode_title": re.compile(rf"entries\[0\]\['title'\] == {_LITERAL}"),
    "series_link": re.compile(rf"feed\.link == {_LITERAL}"),
    "episode_link": re.compile(rf"entries\[0\]\.link == {_LITERAL}"),
    "description": re.compile(
        rf"entries\[0\](?:\['description'\]|\.summary|\['summary'\]) == {_LITERAL}"
    ),
    "description_ord": re.compile(rf"ord\(entries\[0\]\['description'\]\) == {_LITERAL}"),
}


def _identifiable(content: bytes) -> bytes:
    """Give an item that has only a description a guid, so that we keep it.

    We drop items with no guid, link, enclosure or title (nothing to know them by),
    and several encoding cases test the description of just such an item. The
    inserted bytes are ASCII, the same in every encoding these files use; UTF-16/32
    files (NUL bytes) have no item and are left alone.
    """
    match = re.search(rb"<item>(.*?)</item>", content, re.DOTALL)
    if match is None or b"\0" in content:
        return content
    if re.search(rb"<(guid|title|link|enclosure)[\s>/]", match.group(1)):
        return content
    return content[: match.start(1)] + b"<guid>peer-case</guid>" + content[match.start(1) :]


def test_the_selection() -> None:
    assert len(CASES) == 82 + 44 + 19 - 8 - 3
    assert all((CORPUS / case["path"]).exists() for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["path"] for case in CASES])
def test_case(case: dict[str, Any]) -> None:
    path, expect = case["path"], case["expect"]
    headers = {k.lower(): v for k, v in (case["headers"] or {}).items()} if case["http"] else None
    url = f"http://127.0.0.1:8097/{path}" if case["http"] else f"file:///{path}"
    content = _identifiable((CORPUS / path).read_bytes())
    try:
        feed: ParsedFeed | None = parse_feed(content, url=url, headers=headers)
    except ParseError:
        feed = None

    expects_bozo = re.match(r"\s*bozo\b", expect) is not None
    if expect.startswith("not bozo"):
        assert feed is not None and feed.warning is None
    elif expects_bozo and path not in BOZO_NOT_REPORTED:
        assert feed is None or feed.warning is not None
    else:
        assert feed is not None  # "1", entity cases, bozo we do not report: it parses

    checks = {
        name: ast.literal_eval(match.group(1))
        for name, pattern in _CLAUSES.items()
        if (match := pattern.search(expect))
    }
    if not checks:
        return
    assert feed is not None
    episode = feed.episodes[0] if feed.episodes else None
    for name, value in checks.items():
        if name == "series_title":
            assert feed.series.title == value
        elif name == "series_link":
            assert feed.series.link == value
        else:
            assert episode is not None
            if name == "episode_title":
                assert episode.title == value
            elif name == "episode_link":
                assert episode.link == value
            elif name == "description":
                ours = episode.description_html
                if path == "encoding/bozo_linenoise.xml":
                    # The CDATA holds "<>" between the mojibake; feedparser's sanitizer
                    # drops it as an empty tag, nh3 keeps it as text. The characters the
                    # case is about (bytes read as windows-1252) are the same.
                    ours = ours.replace("&lt;&gt;", "")
                assert ours == sanitize_html(value, url)
            else:
                assert html_to_text(episode.description_html) == chr(value)


def test_text_checks_were_found() -> None:
    """Guard the translation: the clauses above match the cases that carry text."""
    found = sum(any(p.search(case["expect"]) for p in _CLAUSES.values()) for case in CASES)
    assert found == 57  # counted with grep over expectations.jsonl
