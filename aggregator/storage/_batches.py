"""Long lists of values cut into pieces, one ``IN (...)`` list a piece."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# Values per IN (...) list: far below SQLite's limit of 32,766 bound parameters, and
# few round trips.
IN_LIST_SIZE = 1000


def in_lists(values: Sequence[T], size: int = IN_LIST_SIZE) -> Iterator[Sequence[T]]:
    """``values`` in pieces of at most ``size``, in order.

    >>> [list(piece) for piece in in_lists([1, 2, 3, 4, 5], 2)]
    [[1, 2], [3, 4], [5]]
    """
    for start in range(0, len(values), size):
        yield values[start : start + size]
