"""Which items of an over-long feed a poll reads: the newest ``max_items``.

feedparser takes about 0.3 ms and 3 KB per item, all of it held until the end of the
document: a 30 MB feed of a million tiny items took minutes and 3 GB to poll. So
``parse`` cuts the document down before feedparser reads it (``cut``), or, when the
item splitter cannot cut it, keeps the entries at both ends while feedparser reads
it and picks the newer end afterwards (``newest``).

Which end is the newer is read from the dates of the first and the last item: feeds
list their items newest first or oldest first, and a feed in no order keeps its
first items. Pure: bytes and entry dicts in, no feedparser here (``parse`` runs it).

A document that is UTF-8 by every account (``utf8_as_sent``) is cut as it was sent,
before feedparser converts it to UTF-8: that conversion decodes, rewrites and encodes
the whole document (three more copies of a 31 MB feed at once), and would leave
each item's bytes as they are anyway.
"""

from __future__ import annotations

import codecs
import hashlib
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aggregator.feeds._itemsplit import ItemSplit

Entries = Sequence[Mapping[str, Any]]

_UTF8 = ("utf-8", "utf8")
_UTF8_BYTES = (b"utf-8", b"utf8")
_DECLARED = re.compile(rb"\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([^\"']*)", re.IGNORECASE)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([^\s;\"']+)", re.IGNORECASE)
# UTF-16 and UTF-32, with or without a byte order mark, as XML 1.0 (appendix F) tells
# them from the first bytes.
_WIDE = (b"\xfe\xff", b"\xff\xfe", b"\x00\x00", b"\x00<", b"<\x00")
_DECODE_PIECE = 1 << 20  # bytes checked at a time: the check holds no copy of the whole


@dataclass(frozen=True, slots=True)
class Cut:
    """A document cut to its newest items, and what was left out."""

    data: bytes
    split: ItemSplit  # the items of ``data``
    total: int  # items in the document as fetched
    present: frozenset[str]  # raw hashes of known items among those left out


def cut(
    data: bytes,
    split: ItemSplit,
    max_items: int,
    known: frozenset[str],
    entries_of: Callable[[bytes], Entries],
) -> Cut:
    """``data`` without the items outside its newest ``max_items``; ``entries_of``
    parses a document (here: the first and last items alone) into feedparser entries.

    Known items left out are still in the document: their hashes go along, so that
    storage does not take their episodes for gone.
    """
    count = len(split)
    ends, _ = split.keeping(data, {0, count - 1})
    kept = range(count - max_items, count) if newest_last(entries_of(ends)) else range(max_items)
    present: frozenset[str] = frozenset()
    if known:
        left = itertools.chain(range(kept.start), range(kept.stop, count))
        hashes = (hashlib.sha256(item).hexdigest() for item in split.items(data, left))
        present = frozenset(h for h in hashes if h in known)
    kept_data, kept_split = split.keeping(data, kept)
    return Cut(kept_data, kept_split, count, present)


def utf8_as_sent(content: bytes, content_type: str | None) -> bool:
    """Whether ``content`` is UTF-8 by every account: the HTTP charset and the XML
    declaration say UTF-8 or nothing, no wide byte order, and the bytes decode.

    >>> utf8_as_sent(b"<?xml version='1.0'?><rss/>", "application/rss+xml")
    True
    >>> utf8_as_sent(b'<?xml version="1.0" encoding="UTF-8"?><rss>caf\\xc3\\xa9</rss>', None)
    True
    >>> utf8_as_sent(b'<?xml version="1.0" encoding="ISO-8859-1"?><rss/>', None)
    False
    >>> utf8_as_sent(b"<rss>caf\\xe9</rss>", "text/xml; charset=utf-8")
    False
    """
    charset = _CHARSET.search(content_type or "")
    if charset is not None and charset.group(1).lower() not in _UTF8:
        return False
    head = content[:1024].removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark is fine
    declared = _DECLARED.match(head)
    if declared is not None and declared.group(1).strip().lower() not in _UTF8_BYTES:
        return False
    if head.startswith(_WIDE):
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(content)
    try:
        for start in range(0, len(content), _DECODE_PIECE):
            decoder.decode(view[start : start + _DECODE_PIECE])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def newest(entries: Entries, max_items: int) -> Entries:
    """The ``max_items`` entries at the newer end of ``entries``."""
    if len(entries) <= max_items:
        return entries
    return entries[-max_items:] if newest_last(entries) else entries[:max_items]


def newest_last(entries: Entries) -> bool:
    """Whether the last entry is dated later than the first (a feed listed oldest
    first); False when either has no date.

    >>> newest_last([{"published_parsed": (2024, 1, 1)}, {"updated_parsed": (2024, 2, 1)}])
    True
    >>> newest_last([{"published_parsed": (2024, 3, 1)}, {}])
    False
    """
    if not entries:
        return False
    first, last = _date(entries[0]), _date(entries[-1])
    return first is not None and last is not None and last > first


def _date(entry: Mapping[str, Any]) -> tuple[int, ...] | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return tuple(parsed[:6]) if parsed else None


def left_out_warning(left_out: int, total: int) -> str | None:
    """What a feed's warning says of the items a poll did not read."""
    if not left_out:
        return None
    return f"read only the newest {total - left_out:,} of {total:,} items (poll.max_items)"
