"""Find the raw bytes of each ``<item>`` / ``<entry>`` in a feed document.

This is what makes incremental parsing possible: feedparser needs about 2 s for
an 8 MB feed of 3,000 items, almost all of it spent on items we parsed at the
last poll. Hashing each item's raw bytes tells which ones are new or changed, and
feedparser is then given the document with the known items cut out.

The scan works on bytes in an ASCII-compatible encoding (parse hands it the
UTF-8 that feedparser converted the document to). It skips comments, CDATA
sections, processing instructions and the DOCTYPE, so an ``<item>`` written in
show notes is not taken for a real one. It answers None whenever the cut would
not be safe: nested or unterminated items, both ``<item>`` and ``<entry>``,
prefixed item elements (``<rss:item>``), more than one ``<channel>``. The caller
still checks that feedparser found exactly the items we kept, and parses the
whole document when it did not.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Collection, Container, Iterable, Iterator

# The markup that matters for finding items. Group "prefix" catches "<x:item",
# which we refuse; feedparser lower-cases element names, so matching ignores case.
_TOKEN = re.compile(
    rb"<(?:(?P<skip>!--|!\[CDATA\[|\?|!DOCTYPE)"
    rb"|(?P<close>/)?(?P<prefix>[A-Za-z_][\w.-]*:)?(?P<name>item|entry|channel)(?=[\s/>]))",
    re.IGNORECASE,
)
_SKIP_END = {b"!--": b"-->", b"![cdata[": b"]]>", b"?": b"?>"}
# The rest of a start tag: attribute values may hold ">" inside quotes.
_TAG_REST = re.compile(rb"""(?:[^>"']|"[^"]*"|'[^']*')*>""")
_DOCTYPE_SUBSET_END = re.compile(rb"\]\s*>")


class ItemSplit:
    """Where the items are: ``spans`` holds ``(start, end)`` byte offsets, in document
    order, each covering one element from ``<item`` to its ``</item>`` inclusive.

    The offsets are kept in one flat array: a million items' spans as tuples of ints
    took 120 MB, the array takes 16 MB.
    """

    __slots__ = ("_offsets",)

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        self._offsets = array("q")
        for start, end in spans:
            self.append(start, end)

    def append(self, start: int, end: int) -> None:
        self._offsets.append(start)
        self._offsets.append(end)

    def __len__(self) -> int:
        return len(self._offsets) // 2

    def span(self, index: int) -> tuple[int, int]:
        return self._offsets[2 * index], self._offsets[2 * index + 1]

    @property
    def spans(self) -> tuple[tuple[int, int], ...]:
        return tuple(self.span(i) for i in range(len(self)))

    def items(self, data: bytes, indices: Iterable[int] | None = None) -> Iterator[bytes]:
        """The raw bytes of every item, or of the items at ``indices``."""
        for i in range(len(self)) if indices is None else indices:
            start, end = self.span(i)
            yield data[start:end]

    def keeping(self, data: bytes, kept: Container[int]) -> tuple[bytes, ItemSplit]:
        """``data`` with every item outside ``kept`` cut out, and the split of the result.

        Items next to each other (only whitespace between them) go as one cut, so
        cutting a million items copies a few pieces, not a million; whatever else
        lies between items (a channel element written among them) stays.

        >>> doc = b"<c><item>1</item> <item>2</item><x/><item>3</item></c>"
        >>> cut, split = split_items(doc).keeping(doc, range(2, 3))
        >>> cut, list(split.items(cut))
        (b'<c><x/><item>3</item></c>', [b'<item>3</item>'])
        """
        pieces: list[bytes] = []
        result = ItemSplit()
        offsets = self._offsets  # read directly: this loop may run a million times
        count = len(offsets) // 2
        pos = 0  # data[:pos] is handled
        removed = 0  # bytes cut out so far
        i = 0
        while i < count:
            start, end = offsets[2 * i], offsets[2 * i + 1]
            if i in kept:
                result.append(start - removed, end - removed)
                i += 1
                continue
            while i + 1 < count and i + 1 not in kept:  # a run of cut items
                after = offsets[2 * i + 2]
                if after != end and not data[end:after].isspace():
                    break
                end = offsets[2 * i + 3]
                i += 1
            pieces.append(data[pos:start])
            pos = end
            removed += end - start
            i += 1
        pieces.append(data[pos:])
        return b"".join(pieces), result


def split_items(data: bytes) -> ItemSplit | None:
    """Return the item spans of ``data``, or None when they cannot be cut out safely.

    >>> doc = b"<rss><channel><item>a</item> <item><![CDATA[</item>]]></item></channel></rss>"
    >>> split = split_items(doc)
    >>> [doc[s:e] for s, e in split.spans]
    [b'<item>a</item>', b'<item><![CDATA[</item>]]></item>']
    >>> split_items(b"<rss><channel><item><item></item></item></channel></rss>") is None
    True
    """
    spans = ItemSplit()
    item_names: set[bytes] = set()
    channels = 0
    depth = 0  # > 0 while inside an item
    start = 0
    pos = 0
    while (match := _TOKEN.search(data, pos)) is not None:
        skip = match.group("skip")
        if skip is not None:
            pos = _skip_past(data, match.end(), skip.lower())
            if pos < 0:
                return None
            continue
        name = match.group("name").lower()
        if match.group("prefix"):
            return None  # "<rss:item>" or "<atom:entry>": leave such documents whole
        tag_end = _TAG_REST.match(data, match.end())
        if tag_end is None:
            return None
        pos = tag_end.end()
        if name == b"channel":
            if match.group("close") is None:
                channels += 1
            if depth or channels > 1:
                return None
            continue
        item_names.add(name)
        if len(item_names) > 1:
            return None
        if match.group("close") is not None:
            depth -= 1
            if depth != 0:
                return None
            spans.append(start, pos)
        elif data[pos - 2 : pos] == b"/>":  # an empty <item/>
            if depth:
                return None
            spans.append(match.start(), pos)
        else:
            if depth:
                return None  # nested items
            depth = 1
            start = match.start()
    if depth:
        return None
    return spans


def _skip_past(data: bytes, pos: int, opener: bytes) -> int:
    """Offset just after the comment, CDATA, PI or DOCTYPE opened at ``pos``; -1 if
    it never ends."""
    if opener == b"!doctype":
        tag_end = _TAG_REST.match(data, pos)
        bracket = data.find(b"[", pos)
        if tag_end is not None and (bracket < 0 or bracket > tag_end.end()):
            return tag_end.end()
        subset_end = _DOCTYPE_SUBSET_END.search(data, pos)
        return -1 if subset_end is None else subset_end.end()
    end = data.find(_SKIP_END[opener], pos)
    return -1 if end < 0 else end + len(_SKIP_END[opener])


def without_spans(data: bytes, spans: Collection[tuple[int, int]]) -> bytes:
    """Return ``data`` with the given (sorted, non-overlapping) spans cut out.

    >>> without_spans(b"0123456789", [(1, 3), (5, 6)])
    b'0346789'
    """
    pieces: list[bytes] = []
    pos = 0
    for start, end in spans:
        pieces.append(data[pos:start])
        pos = end
    pieces.append(data[pos:])
    return b"".join(pieces)
