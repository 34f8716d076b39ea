"""Which items of an over-long feed a poll reads: the newest ``max_items``.

feedparser takes about 0.3 ms and 3 KB per item, all of it held until the end of the
document: a 30 MB feed of a million tiny items took minutes and 3 GB to poll. So
``parse`` cuts the document down before feedparser reads it (``cut``), or, when the
item splitter cannot cut it, keeps the entries at both ends while feedparser reads
it and picks the newer end afterwards (``newest``).

Which end is the newer is read from the dates of the first and the last item: feeds
list their items newest first or oldest first, and a feed in no order keeps its
first items. Pure: bytes and entry dicts in, no feedparser here (``parse`` runs it).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aggregator.feeds._itemsplit import ItemSplit

Entries = Sequence[Mapping[str, Any]]


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
