"""Parse stage: the bytes of a feed document -> ``ParsedFeed``.

Pure: no I/O, no clock. The only module that imports feedparser. feedparser
does the hard, well-tested part (encoding detection, the strict XML parser with
a fallback to its forgiving SGML parser for broken feeds, dates, RSS/Atom
differences); this module adds what podcasts need and feedparser drops:

- ``podcast:`` elements (Podcasting 2.0) under both namespace URIs, or with the
  prefix undeclared: persons with their names, transcript and chapters URLs;
- the RSS ``<description>`` kept apart from ``itunes:summary`` (feedparser lets
  the latter overwrite the former), ``itunes:subtitle`` kept out of the
  channel description, ``itunes:author`` apart from ``<author>``, and nested
  ``itunes:category`` paths.

It does so with element handlers added to subclasses of feedparser's own parser
classes, driven by ``_run_feedparser`` below in place of ``feedparser.parse``
(which offers no way to add handlers). That driver relies on feedparser 6.0
internals (``convert_to_utf8``, ``replace_doctype``, the parser classes); the
tests over the peer corpora guard it.

Turning feedparser's dicts into our typed values is ``_parse_fields``'s job.
Incremental parsing (``known_item_hashes``): see ``_itemsplit``. Items whose raw
bytes hash to a known value are cut out before feedparser sees the document. The
bytes hashed are the item as it stands in the document after feedparser's
conversion to UTF-8: for a UTF-8 feed (nearly all), exactly the raw bytes.

Why one module of over 400 lines: feedparser's hooks for the elements it does not
know, the strict pre-parse and the incremental path all set up the one feedparser
run; field mapping, item splitting and entity checks already live apart.
"""

from __future__ import annotations

import hashlib
import io
import re
import xml.parsers.expat
import xml.sax
import xml.sax.handler
import xml.sax.xmlreader
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import feedparser.api
import feedparser.encodings
import feedparser.exceptions
import feedparser.mixin
import feedparser.namespaces._base
import feedparser.sanitizer

from aggregator.exceptions import ParseError
from aggregator.feeds import _itemcap
from aggregator.feeds._entities import check_entities
from aggregator.feeds._itemsplit import ItemSplit, split_items, without_spans
from aggregator.feeds._parse_fields import episodes_from, series_from
from aggregator.types import ParsedFeed

__all__ = ["PODCAST_NAMESPACES", "parse_feed"]

# The namespace URI of the spec, and the GitHub URL that early feeds declared.
PODCAST_NAMESPACES = (
    "https://podcastindex.org/namespace/1.0",
    "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
)
# Apple's URI as some hosts write it (https); feedparser knows only the http one.
_EXTRA_ITUNES_NAMESPACES = ("https://www.itunes.com/dtds/podcast-1.0.dtd",)


# --- feedparser, extended ------------------------------------------------------------
# Handlers are plain functions put into subclasses with type(), since feedparser is
# untyped; ``p`` is the feedparser parser instance. Results go into the context
# dict (the feed or the current entry) under "agg_*" keys, which feedparser never
# uses itself.


def _start_podcast_person(p: Any, attrs: dict[str, str]) -> None:
    p.agg_person_attrs = attrs
    p.push("podcast_person", 1)


def _end_podcast_person(p: Any) -> None:
    name = p.pop("podcast_person")
    attrs = getattr(p, "agg_person_attrs", {})
    if name and name.strip():
        p._get_context().setdefault("agg_persons", []).append({**attrs, "name": name.strip()})


def _start_podcast_transcript(p: Any, attrs: dict[str, str]) -> None:
    p._get_context().setdefault("agg_transcripts", []).append(attrs)


def _start_podcast_chapters(p: Any, attrs: dict[str, str]) -> None:
    p._get_context().setdefault("agg_chapters", []).append(attrs)


def _start_itunes_category(p: Any, attrs: dict[str, str]) -> None:
    stack: list[str] = p.__dict__.setdefault("agg_category_stack", [])
    stack.append((attrs.get("text") or "").strip())
    p._get_context().setdefault("agg_categories", []).append(tuple(stack))
    p.push("itunes_category", 0)


def _end_itunes_category(p: Any) -> None:
    p.pop("itunes_category")
    stack: list[str] = p.__dict__.setdefault("agg_category_stack", [])
    if stack:
        stack.pop()


def _text_handlers(element: str, key: str) -> dict[str, Any]:
    """Handlers storing the text of ``element`` under ``key`` in the context, in
    place of feedparser's, which map it onto a shared key (summary, author...)."""

    def start(p: Any, attrs: dict[str, str]) -> None:
        p.push_content(key, attrs, "text/html", 1)

    def end(p: Any) -> None:
        value = p.pop_content(key)
        if value:
            p._get_context()[key] = value

    return {f"_start_{element}": start, f"_end_{element}": end}


def _start_guid(p: Any, attrs: dict[str, str]) -> None:
    p.guidislink = (attrs.get("ispermalink") or "true").strip().lower() == "true"
    p.push("id", 1)


def _start_atom_id(p: Any, attrs: dict[str, str]) -> None:
    p.guidislink = False  # an Atom <id> names the entry; it is not a link to it
    p.push("id", 1)


def _end_guid(p: Any) -> None:
    # feedparser resolves a permalink guid against the feed URL, so the guid of
    # every episode would change when the feed moves: keep the guid as written and
    # resolve only the link made from it.
    is_link = p.guidislink
    p.guidislink = False
    value = p.pop("id")
    if is_link and value and "link" not in p._get_context():
        p._save("link", p.resolve_uri(value))


def _start_podcast_liveitem(p: Any, attrs: dict[str, str]) -> None:
    # A live stream, not an episode. Parsed as an entry so that its <title> and
    # <description> stay out of the channel's, then thrown away.
    p._start_item(attrs)
    p.entries[-1]["agg_live"] = True


def _end_podcast_liveitem(p: Any) -> None:
    if p.entries and p.entries[-1].get("agg_live"):  # not so in a broken document
        p._end_item()
        p.entries.pop()


def _start_itunes_image(p: Any, attrs: dict[str, str]) -> None:
    href = attrs.get("href") or attrs.get("url")
    if href:
        p._get_context()["agg_itunes_image"] = p.resolve_uri(href.strip())
    p.push("itunes_image", 0)


def _start_enclosure(p: Any, attrs: dict[str, str]) -> None:
    feedparser.mixin._FeedParserMixin._start_enclosure(p, attrs)
    link = p._get_context()["links"][-1]
    if link.get("href"):  # feedparser leaves enclosure URLs relative
        link["href"] = p.resolve_uri(link["href"].strip())


def _handle_charref(p: Any, ref: str) -> None:
    # feedparser's loose parser encodes chr(n) of a reference &#n; as UTF-8, which fails
    # for a surrogate (&#xD800;) or a number past U+10FFFF, and one such reference in a
    # title lost the whole feed. It names no character: U+FFFD stands in, as in HTML5.
    try:
        code = int(ref[1:], 16) if ref[:1] in "xX" else int(ref)
    except ValueError:  # not a number, or 4,300+ digits
        code = -1
    if not 0 <= code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        ref = "xfffd"
    feedparser.mixin._FeedParserMixin.handle_charref(p, ref)


def _end_item(p: Any) -> None:
    # A document the item splitter cannot cut (see ``_itemcap``) is capped while
    # feedparser reads it: the first and the last ``agg_max_items`` entries are kept,
    # the ones in between dropped as they end, so a million items never become a
    # million dicts. Which end is kept is decided once the last item is known.
    feedparser.namespaces._base.Namespace._end_item(p)
    limit = p.__dict__.get("agg_max_items")
    if limit is None or len(p.entries) <= 2 * limit or p.entries[-1].get("agg_live"):
        return
    dropped = p.entries.pop(limit)
    p.property_depth_map.pop(dropped, None)  # feedparser keeps a map keyed by entry
    p.agg_dropped = p.__dict__.get("agg_dropped", 0) + 1


_NAMESPACES = {
    **feedparser.mixin._FeedParserMixin.namespaces,
    **dict.fromkeys(PODCAST_NAMESPACES, "podcast"),
    **dict.fromkeys(_EXTRA_ITUNES_NAMESPACES, "itunes"),
}
_EXTENSIONS: dict[str, Any] = {
    "namespaces": _NAMESPACES,
    "_matchnamespaces": {},  # feedparser fills this from ``namespaces`` on first use
    "_start_podcast_person": _start_podcast_person,
    "_end_podcast_person": _end_podcast_person,
    "_start_podcast_transcript": _start_podcast_transcript,
    "_start_podcast_chapters": _start_podcast_chapters,
    "_start_itunes_category": _start_itunes_category,
    "_end_itunes_category": _end_itunes_category,
    "_start_guid": _start_guid,
    "_end_guid": _end_guid,
    "_start_id": _start_atom_id,
    "_end_id": _end_guid,
    "_start_podcast_liveitem": _start_podcast_liveitem,
    "_end_podcast_liveitem": _end_podcast_liveitem,
    "_start_itunes_image": _start_itunes_image,
    "_start_enclosure": _start_enclosure,
    "handle_charref": _handle_charref,
    "_end_item": _end_item,
    "_end_entry": _end_item,
    **_text_handlers("itunes_summary", "agg_itunes_summary"),
    **_text_handlers("itunes_subtitle", "agg_itunes_subtitle"),
    **_text_handlers("itunes_author", "agg_itunes_author"),
}
_StrictParser = type("_StrictParser", (feedparser.api.StrictFeedParser,), _EXTENSIONS)
_LooseParser = type("_LooseParser", (feedparser.api.LooseFeedParser,), _EXTENSIONS)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A document after feedparser's encoding and DOCTYPE steps."""

    data: bytes  # UTF-8 when ``encoding_known``; DOCTYPE reduced to safe entities
    encoding_known: bool
    entities: dict[str, str]
    problem: str | None  # what the encoding step had to correct, if worth saying


@dataclass(frozen=True, slots=True)
class _Result:
    feed: Mapping[str, Any]
    entries: Sequence[Mapping[str, Any]]
    version: str
    xml_error: str | None  # why the strict parser gave up, when it did
    dropped: int = 0  # entries left out while parsing, over ``max_items``


# What convert_to_utf8 puts first when the document had no XML declaration.
_ADDED_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>\n"


def _prepare(content: bytes, headers: Mapping[str, str]) -> _Prepared:
    result: dict[str, Any] = {}
    data = feedparser.encodings.convert_to_utf8(dict(headers), content, result)
    encoding = result.get("encoding")
    if encoding and data.startswith(_ADDED_DECLARATION):
        head = content[:512].decode(encoding, errors="ignore").lstrip("\ufeff")
        if not head.startswith("<?xml"):
            # Keep line numbers those of the original, for messages that cite them.
            data = data[: len(_ADDED_DECLARATION) - 1] + data[len(_ADDED_DECLARATION) :]
    _version, data, entities = feedparser.sanitizer.replace_doctype(data)
    return _Prepared(data, bool(encoding), entities, _encoding_problem(result))


_DECLARED_AS = re.compile(r"declared as (\S+), but parsed as (\S+)")


def _encoding_problem(result: Mapping[str, Any]) -> str | None:
    error = result.get("bozo_exception")
    if isinstance(error, feedparser.exceptions.CharacterEncodingUnknown):
        return "character encoding unknown, bytes decoded as UTF-8 with replacements"
    if isinstance(error, feedparser.exceptions.CharacterEncodingOverride):
        declared = _DECLARED_AS.search(str(error))
        # text/xml without a charset means US-ASCII (RFC 3023), yet servers send
        # UTF-8 feeds that way all the time: not worth a warning.
        if declared is None or declared.group(1) != "us-ascii":
            return f"encoding: {error}"
    return None  # NonXMLContentType: a wrong Content-Type is too common to report


def _run_feedparser(
    data: bytes, *, url: str, prepared: _Prepared, strict: bool, max_items: int | None = None
) -> _Result:
    """Parse ``data`` (prepared UTF-8) with the strict parser, falling back to the
    loose one like ``feedparser.parse``; with ``strict=False`` go loose at once. With
    ``max_items``, only that many entries are kept (see ``_end_item``)."""
    xml_error = None
    if strict and prepared.encoding_known:
        handler = _StrictParser(url, None, "utf-8")
        handler.agg_max_items = max_items
        handler.resolve_relative_uris = False  # sanitize_html() does both, faster
        handler.sanitize_html = False
        reader = xml.sax.make_parser()
        reader.setFeature(xml.sax.handler.feature_namespaces, True)
        # Never fetch external entities or DTDs (XXE); Python's expat reader
        # already defaults to this, we say it explicitly.
        reader.setFeature(xml.sax.handler.feature_external_ges, False)
        reader.setFeature(xml.sax.handler.feature_external_pes, False)
        reader.setContentHandler(handler)
        reader.setErrorHandler(handler)
        source = xml.sax.xmlreader.InputSource()
        source.setByteStream(io.BytesIO(data))
        try:
            reader.parse(source)
        except (xml.sax.SAXException, feedparser.exceptions.UndeclaredNamespace) as e:
            xml_error = _describe_xml_error(handler.exc or e)
        else:
            return _newest(
                _Result(
                    handler.feeddata,
                    handler.entries,
                    handler.version,
                    None,
                    handler.__dict__.get("agg_dropped", 0),
                ),
                max_items,
            )
    loose = _LooseParser(url, None, "utf-8", prepared.entities)
    loose.resolve_relative_uris = False
    loose.sanitize_html = False
    loose.agg_max_items = max_items
    loose.feed(data.decode("utf-8", "replace"))
    dropped = loose.__dict__.get("agg_dropped", 0)
    return _newest(
        _Result(loose.feeddata, loose.entries, loose.version, xml_error, dropped), max_items
    )


def _newest(result: _Result, max_items: int | None) -> _Result:
    """The ``max_items`` entries at the newer end of what ``_end_item`` kept."""
    if max_items is None or len(result.entries) <= max_items:
        return result
    kept = _itemcap.newest(result.entries, max_items)
    return replace(result, entries=kept, dropped=result.dropped + len(result.entries) - max_items)


def _describe_xml_error(error: BaseException) -> str:
    if isinstance(error, xml.sax.SAXParseException):
        return f"{error.getMessage()} at line {error.getLineNumber()}"
    return str(error) or type(error).__name__


def _xml_error(data: bytes) -> str | None:
    """Why ``data`` is not well-formed (namespace-aware), None if it is. expat alone
    takes ~10 ms for 3 MB, against ~500 ms for feedparser's handlers on top."""
    checker = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    checker.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        checker.Parse(data, True)
    except xml.parsers.expat.ExpatError as e:
        return f"{xml.parsers.expat.ErrorString(e.code)} at line {e.lineno}"
    return None


def _guarded_run(
    data: bytes, *, url: str, prepared: _Prepared, strict: bool, max_items: int | None = None
) -> _Result:
    try:
        return _run_feedparser(data, url=url, prepared=prepared, strict=strict, max_items=max_items)
    except Exception as e:  # hostile input can make feedparser's parsers raise anything
        raise ParseError(url, f"feedparser failed: {_one_line(e)}") from e


def _one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())


# --- the public entry point ------------------------------------------------------------


def parse_feed(
    content: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    known_item_hashes: Collection[str] = (),
    max_items: int | None = None,
) -> ParsedFeed:
    """Parse a feed document into series and episodes.

    ``url`` is the feed's URL, the base for relative links; ``headers`` are the
    HTTP response headers (their Content-Type decides the character encoding, as
    RFC 3023 says). With ``known_item_hashes`` (the ``item_hashes`` of an earlier
    parse) items whose raw bytes are unchanged are skipped: the result then has
    ``complete=False`` and only the new or changed episodes. With ``max_items``,
    only the newest that many items are read (see ``_itemcap``); ``left_out`` says how
    many were not, and ``complete`` is False.

    Raises ``ParseError`` when ``content`` is not an RSS or Atom feed, or declares
    XML entities that are external or defined by other entities (``_entities``).
    """
    if not content.strip():
        raise ParseError(url, "empty document")
    # Only Content-Type matters. Without one, feedparser must get no headers at all:
    # given other headers it falls back to ISO-8859-1 (HTTP's default) instead of
    # UTF-8 (XML's), and would garble a UTF-8 feed without an XML declaration.
    content_type = {k.lower(): v for k, v in (headers or {}).items()}.get("content-type")
    only_type = {"content-type": content_type} if content_type else {}
    # Billion laughs, XXE: refused before any parse (and again as the parsers see it).
    check_entities(content, url)
    known = frozenset(known_item_hashes)
    cut: _itemcap.Cut | None = None
    if max_items is not None and _itemcap.utf8_as_sent(content, content_type):
        sent = split_items(content)
        if sent is not None and len(sent) > max_items:

            def ends_of(ends: bytes) -> Sequence[Mapping[str, Any]]:
                checked = _checked(ends, only_type, url)
                return _guarded_run(checked.data, url=url, prepared=checked, strict=True).entries

            cut = _itemcap.cut(content, sent, max_items, known, ends_of)
    prepared = _checked(cut.data if cut else content, only_type, url)
    split = split_items(prepared.data) if prepared.encoding_known else None
    if cut is None and max_items is not None and split is not None and len(split) > max_items:
        # Another encoding: cut once it is converted, still before feedparser reads it.
        def converted_ends(ends: bytes) -> Sequence[Mapping[str, Any]]:
            return _guarded_run(ends, url=url, prepared=prepared, strict=True).entries

        cut = _itemcap.cut(prepared.data, split, max_items, known, converted_ends)
        prepared, split = replace(prepared, data=cut.data), cut.split
    if cut is None:
        return _parse(prepared, split, known, url, max_items)
    parsed = _parse(prepared, split, known, url, None)
    left_out = cut.total - len(cut.split)
    return replace(
        parsed,
        item_hashes=parsed.item_hashes | cut.present,
        complete=False,
        left_out=left_out,
        warning=_warning(None, parsed.warning, _itemcap.left_out_warning(left_out, cut.total)),
    )


def _checked(content: bytes, headers: Mapping[str, str], url: str) -> _Prepared:
    """``content`` prepared for feedparser, its entities checked as feedparser's
    DOCTYPE rewrite left them (which can mangle declarations, hiding them from the
    check on the bytes as sent, or in principle reveal some)."""
    try:
        prepared = _prepare(content, headers)
    except Exception as e:  # feedparser's encoding sniffing on garbage
        raise ParseError(url, f"cannot decode the document: {_one_line(e)}") from e
    check_entities(prepared.data, url)
    return prepared


def _parse(
    prepared: _Prepared,
    split: ItemSplit | None,
    known: frozenset[str],
    url: str,
    max_items: int | None,
) -> ParsedFeed:
    """Parse a prepared document: its new items only when it splits and some of its
    items are known, else all of it (then ``max_items`` caps it while it is read)."""
    hashes = [_sha256(item) for item in split.items(prepared.data)] if split else None
    if split is not None and hashes and not known.isdisjoint(hashes):
        partial = _parse_partial(prepared, split.spans, hashes, known, url)
        if partial is not None:
            return partial

    result = _guarded_run(
        prepared.data, url=url, prepared=prepared, strict=True, max_items=max_items
    )
    if not result.version:  # no <rss>, <feed> or RSS 1.0 <rdf:RDF> root element
        raise ParseError(url, _describe_non_feed(prepared.data))
    # Item hashes can be paired with entries only if feedparser saw the same items.
    matched = hashes if hashes is not None and len(hashes) == len(result.entries) else None
    total = len(result.entries) + result.dropped
    return ParsedFeed(
        series=series_from(result.feed, url),
        episodes=episodes_from(result.entries, url, matched),
        item_hashes=frozenset(matched or ()),
        complete=not result.dropped,
        warning=_warning(
            result.xml_error, prepared.problem, _itemcap.left_out_warning(result.dropped, total)
        ),
        left_out=result.dropped,
    )


def _parse_partial(
    prepared: _Prepared,
    spans: Sequence[tuple[int, int]],
    hashes: Sequence[str],
    known: frozenset[str],
    url: str,
) -> ParsedFeed | None:
    """Parse the document without its known items; None when the result cannot be
    trusted (then the caller parses everything)."""
    # Only a well-formed document splits exactly as feedparser reads it. In a broken
    # one the forgiving parser may read items differently from our cut (an unclosed
    # element can swallow the next item), so a partial parse could disagree with a
    # full one; checking costs ~10 ms for 3 MB (expat without handlers).
    if _xml_error(prepared.data) is not None:
        return None
    kept = [h for h in hashes if h not in known]
    cut = [span for span, h in zip(spans, hashes, strict=True) if h in known]
    result = _guarded_run(
        without_spans(prepared.data, cut), url=url, prepared=prepared, strict=True
    )
    if result.xml_error is not None or not result.version or len(result.entries) != len(kept):
        return None
    return ParsedFeed(
        series=series_from(result.feed, url),
        episodes=episodes_from(result.entries, url, kept),
        item_hashes=frozenset(hashes),
        complete=False,
        warning=_warning(None, prepared.problem),
    )


def _warning(xml_error: str | None, *problems: str | None) -> str | None:
    parts = [f"not well-formed XML, recovered: {xml_error}"] if xml_error else []
    parts.extend(problem for problem in problems if problem)
    return "; ".join(parts) or None


def _describe_non_feed(data: bytes) -> str:
    head = data[:4096].lower()
    start = re.sub(rb"^(\s|<\?xml[^>]*>|<!--.*?-->)*", b"", head, flags=re.DOTALL)
    if start[:1] in (b"{", b"["):
        return "JSON, not an RSS or Atom feed"
    if start.startswith(b"<!doctype html") or b"<html" in head:
        return "an HTML page, not an RSS or Atom feed"
    if not start.startswith(b"<"):
        return "not XML and not a feed"
    return "XML, but not an RSS or Atom feed"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
