"""Review intake: bytes of a review (HTML, Markdown or plain text) -> ``ReviewDocument``.

The linker reads only the review's own words, so page furniture goes here: for HTML
trafilatura picks the main text (our simpler readable-text pass takes over when it
finds nothing or much less), then every kind goes through the same boilerplate rules
(``_boilerplate``) because reviews pasted into .txt files carry blog furniture too.

Hyperlinks keep their character span in the final text (``_htmltext`` walks the
trees and places the spans).

Garbage is refused with a one-line ``ReviewError``: oversized input before any
parsing, binary data by magic number or control characters, and documents with no
text left.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
from datetime import UTC, date, datetime, time
from typing import Any, TypedDict
from urllib.parse import urljoin, urlsplit

import lxml.html  # type: ignore[import-untyped]
from markdown_it import MarkdownIt

from aggregator import dates, fingerprint
from aggregator.exceptions import ReviewError, ReviewTooLarge
from aggregator.reviews._htmltext import (
    CONTROLS,
    HTML_VOCABULARY,
    SPACES,
    TRAFILATURA_VOCABULARY,
    Walked,
    assemble,
    content_root,
    merge_links,
    posts,
    walk,
    with_bare_urls,
)
from aggregator.reviews._sniff import Kind, decode, detect_kind, refuse_binary
from aggregator.sanitize import sanitize_html
from aggregator.types import ReviewDocument

__all__ = [
    "MAX_REVIEW_BYTES",
    "DocumentGiven",
    "extract_document",
    "extract_html",
    "review_content_hash",
]

log = logging.getLogger(__name__)

# A long newspaper feature is ~100 KB of HTML with its page furniture; 5 MiB leaves
# room for bloated pages and still refuses a 50 MB download before parsing it.
MAX_REVIEW_BYTES = 5 * 1024 * 1024

# trafilatura's time grows faster than linearly with the page: measured on this
# machine, 16k elements (1 MB of paragraphs) took 2 s and 77k elements (5 MB) 34 s.
# Pages with more elements than this get the linear readable-text pass only; real
# article pages have a few thousand.
_TRAFILATURA_MAX_ELEMENTS = 20_000
# trafilatura's main text is used unless it is shorter than this share of what the
# plain readable-text pass finds (then trafilatura dropped part of the body).
_MIN_MAIN_TEXT_SHARE = 0.4


class DocumentGiven(TypedDict, total=False):
    """What ``extract_document`` takes besides the bytes, for callers that pass it on."""

    filename: str | None
    content_type: str | None
    url: str | None
    title: str | None
    author: str | None
    published: datetime | None


def extract_document(
    data: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
    url: str | None = None,
    title: str | None = None,
    author: str | None = None,
    published: datetime | None = None,
) -> ReviewDocument:
    """Return the review in ``data``; raise ``ReviewError`` for garbage.

    The kind comes from ``content_type``, else the ``filename`` suffix, else a look
    at the content. Given ``title``/``author``/``published`` win over what the
    document says about itself.
    """
    _refuse_oversized(len(data), "bytes")
    refuse_binary(data)
    kind = detect_kind(data, filename, content_type)
    text = decode(data, content_type, kind)
    if kind is Kind.HTML:
        return extract_html(text, url=url, title=title, author=author, published=published)
    if kind is Kind.MARKDOWN:
        # Rendered to HTML and read like a page's content area: links, lists and
        # headings come out the same way, with no Markdown syntax left in the text.
        rendered = MarkdownIt("commonmark").enable("table").render(CONTROLS.sub("", text))
        tree = _parse_html(rendered)
        if tree is None:
            raise ReviewError("no review text found")
        walked = walk(tree, HTML_VOCABULARY, url)
        title = title or _clean(tree.xpath("string((//h1)[1])"))
    else:
        walked = Walked(_text_paragraphs(text), [])
    body, links = assemble(walked)
    _refuse_empty(body)
    return ReviewDocument(
        text=body,
        title=title or _first_line_title(body),
        url=url,
        author=author,
        published=_utc(published),
        links=with_bare_urls(body, links),
    )


def extract_html(
    html: str,
    *,
    url: str | None = None,
    title: str | None = None,
    author: str | None = None,
    published: datetime | None = None,
) -> ReviewDocument:
    """Return the main text, metadata and links of an HTML page.

    ``url`` is where the page came from: relative links are resolved against it
    (or against the page's ``<base href>``).
    """
    if len(html) > MAX_REVIEW_BYTES:  # cheap first: a str never has fewer bytes
        _refuse_oversized(len(html), "characters")
    _refuse_oversized(len(html.encode("utf-8", "replace")), "bytes")
    tree = _parse_html(html)
    if tree is None:
        raise ReviewError("no review text found (empty HTML document)")
    base = _base_url(tree, url)
    several = posts(tree)
    body, links = assemble(walk(content_root(tree, several), HTML_VOCABULARY, base))
    # trafilatura keeps one post of a page of several, and drops their headings.
    main = _trafilatura(tree, base)
    if main is not None and main.body is not None and not several:
        main_text, main_links = assemble(walk(main.body, TRAFILATURA_VOCABULARY, base))
        if len(main_text) >= _MIN_MAIN_TEXT_SHARE * len(body):
            body, links = main_text, merge_links(main_links, links)
    _refuse_empty(body)
    metadata = main if main is not None else _trafilatura_metadata(tree)
    return ReviewDocument(
        text=body,
        title=title or _html_title(tree) or _clean(getattr(metadata, "title", None)),
        url=url,
        author=author or _clean_author(getattr(metadata, "author", None)),
        published=_utc(published) or _parse_date(getattr(metadata, "date", None)),
        links=with_bare_urls(body, links),
        html=sanitize_html(html, base) or None,
    )


def review_content_hash(document: ReviewDocument) -> str:
    """SHA-256 (hex) of the main text with case, whitespace and punctuation ignored:
    the identity of "the same text" however a review arrives.

    >>> a = review_content_hash(ReviewDocument(text="Great  show!\\n\\nReally."))
    >>> a == review_content_hash(ReviewDocument(text="great show really"))
    True
    """
    return fingerprint.content_hash(document.text)


# --- garbage ------------------------------------------------------------------------


def _refuse_oversized(size: int, unit: str) -> None:
    if size > MAX_REVIEW_BYTES:
        raise ReviewTooLarge(
            f"review is too large ({size:,} {unit}; the limit is {MAX_REVIEW_BYTES:,} bytes)"
        )


def _refuse_empty(text: str) -> None:
    if not text.strip():
        raise ReviewError("no review text found")


def _text_paragraphs(text: str) -> list[list[str]]:
    text = CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line.rstrip() for line in text.split("\n")]
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def _first_line_title(text: str) -> str | None:
    """The first paragraph as title when it is a single short line ending like one."""
    first, _, rest = text.partition("\n\n")
    if rest and "\n" not in first and len(first) <= 200 and not first.endswith((".", ",", ";")):
        return first.strip()
    return None


# --- HTML -------------------------------------------------------------------------------


def _parse_html(html: str) -> Any:
    # Parsed from UTF-8 bytes: lxml refuses str input that declares an encoding.
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, no_network=True)
    try:
        return lxml.html.document_fromstring(html.encode("utf-8", "replace"), parser=parser)
    except (lxml.etree.ParserError, ValueError):  # "Document is empty"
        return None


def _base_url(tree: Any, url: str | None) -> str | None:
    href = str(tree.xpath("string(//base/@href)")).strip()
    if href:
        try:
            absolute = urljoin(url or "", href)
        except ValueError:
            return url
        if urlsplit(absolute).scheme in {"http", "https"}:
            return absolute
    return url


def _trafilatura(tree: Any, base: str | None) -> Any:
    """trafilatura's main text and metadata (a ``Document``), or None."""
    if sum(1 for _ in tree.iter()) > _TRAFILATURA_MAX_ELEMENTS:
        return None
    tree = copy.deepcopy(tree)
    if base:
        # trafilatura resolves relative links against the site root, not the page;
        # links made absolute first are left alone.
        for anchor in tree.iter("a"):
            with contextlib.suppress(ValueError):
                anchor.set("href", urljoin(base, (anchor.get("href") or "").strip()))
    import trafilatura  # ~0.15 s to import; only reviews that come as HTML need it

    try:
        return trafilatura.bare_extraction(
            tree,
            include_comments=False,
            include_links=True,
            favor_precision=True,
            with_metadata=True,
        )
    except Exception:  # a crash on odd markup means "found nothing"
        return None


def _trafilatura_metadata(tree: Any) -> Any:
    import trafilatura

    try:
        return trafilatura.extract_metadata(copy.deepcopy(tree))
    except Exception:  # metadata is optional
        return None


def _html_title(tree: Any) -> str | None:
    for path in ('//meta[@property="og:title"]/@content', '//meta[@name="twitter:title"]/@content'):
        found = _clean(tree.xpath(f"string({path})"))
        if found:
            return found
    site = _clean(tree.xpath('string(//meta[@property="og:site_name"]/@content)'))
    return _strip_site_name(_clean(tree.findtext(".//title")), site) or _clean(
        tree.xpath("string((//h1)[1])")
    )


_TITLE_SEPARATOR = re.compile(r"\s+[|–—·»-]\s+")


def _strip_site_name(title: str | None, site: str | None) -> str | None:
    """Drop a trailing site name: "Review: 1865 ... | The Audio Stage" -> "Review: 1865 ..."

    The last part is the site name when og:site_name says so, when it follows a "|"
    and is short (how nearly every blog theme writes it), or when it is short and
    shorter than the rest after a dash ("Serial — Season 3" keeps its season).
    """
    if not title:
        return None
    separators = list(_TITLE_SEPARATOR.finditer(title))
    if not separators:
        return title
    last = separators[-1]
    head, tail = title[: last.start()].strip(), title[last.end() :].strip()
    words = len(tail.split())
    if (
        tail == site
        or ("|" in last.group() and words <= 5)
        or 0 < words < min(5, len(head.split()))
    ):
        return head or title
    return title


# --- metadata ----------------------------------------------------------------------------


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    return SPACES.sub(" ", CONTROLS.sub("", value)).strip() or None


def _clean_author(value: str | None) -> str | None:
    """trafilatura reads bylines whole: "Mara Lindqvist · July 9" -> "Mara Lindqvist"."""
    first = re.split(r"[·•|;]", value or "")[0]
    return _clean(re.sub(r"^\s*by\s+", "", first, flags=re.I))


def _parse_date(value: str | None) -> datetime | None:
    """A page's own date (from its metadata); one outside what we take in is none."""
    try:
        day = datetime.combine(date.fromisoformat((value or "")[:10]), time(), UTC)
    except ValueError:
        return None
    return dates.bounded(day)


def _utc(value: datetime | None) -> datetime | None:
    """The date a caller gave, in UTC; one outside what we take in is read as none.

    The API and the command line refuse such a date before it gets here; a reviews
    feed's items come with theirs already bounded by the parser."""
    taken = dates.bounded(value)
    if value is not None and taken is None:
        log.info("review dated %s, outside %s: read as undated", value.isoformat(), dates.RANGE)
    return taken
