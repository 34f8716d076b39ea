"""SQL helpers every domain module shares: IN lists, a row that must exist, records
made of rows, pages.

Every list storage gives is one page (``limit``/``offset``) in a stable order, and
what it counts per row is counted for the rows of that page only, so a page costs
the same with 100 or 100,000 rows in the store (``bench/api.py``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Row, func, select

from aggregator.exceptions import NotFoundError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
R = TypeVar("R", bound="DataclassInstance")

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


def in_order(ids: Sequence[int], rows: dict[int, T]) -> list[T]:
    """The rows of these ids, in the order of ``ids``; ids without a row left out."""
    return [rows[i] for i in ids if i in rows]


def by_id(
    connection: Connection,
    table: Any,
    row_id: int,
    missing: type[NotFoundError],
    *,
    columns: Sequence[Any] = (),
    for_update: bool = False,
) -> Row[Any]:
    """The row of ``table`` with that id (only ``columns`` of it, when given);
    ``missing`` ("no feed with id 7") if there is none. ``for_update`` locks the row
    until the transaction ends (on PostgreSQL; SQLite's writers take turns anyway)."""
    query = select(*(columns or [table])).where(table.c.id == row_id)
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise missing(f"no {missing.noun} with id {row_id}")
    return row


def by_id_or_url(
    connection: Connection,
    table: Any,
    id_or_url: str,
    missing: type[NotFoundError],
    at_url: Callable[[Connection, str], Row[Any] | None],
) -> Row[Any]:
    """The row of ``table`` by id (all digits), else the one ``at_url`` finds by URL;
    ``missing`` if neither."""
    key = id_or_url.strip()
    if key.isdigit():
        return by_id(connection, table, int(key), missing)
    row = at_url(connection, key)
    if row is None:
        raise missing(f"no {missing.noun} with id or URL {id_or_url!r}")
    return row


def require(connection: Connection, table: Any, row_id: int, missing: type[NotFoundError]) -> None:
    """``missing`` unless ``table`` has a row of that id: a filter naming nothing is a
    typo to report, not an empty list."""
    by_id(connection, table, row_id, missing, columns=[table.c.id])


def record(cls: type[R], row: Row[Any], **computed: Any) -> R:
    """The record ``cls`` (a dataclass) of ``row``: each field the column of its name,
    but those ``computed`` from the row otherwise (JSON as tuples, strings as enums,
    columns of another name)."""
    columns = row._mapping
    return cls(**{n: computed[n] if n in computed else columns[n] for n in _field_names(cls)})


@functools.cache
def _field_names(cls: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls))


def page(query: Any, limit: int | None, offset: int) -> Any:
    """``query`` cut to one page; no limit is every row from ``offset`` on."""
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return query


def newest_first(
    connection: Connection,
    query: Any,
    published: Any,
    tiebreak: Sequence[Any],
    limit: int | None,
    offset: int,
) -> list[Any]:
    """One page of ``query``: newest ``published`` first, undated last, then ``tiebreak``.

    Read as two runs, dated rows by a plain ``ORDER BY published DESC`` and then the
    undated ones, rather than one ``ORDER BY published DESC NULLS LAST``: PostgreSQL
    cannot serve that from an ascending index, and sorted the whole table for it
    (bench/api.py); a backward scan serves the plain order on both backends.
    """
    dated = query.where(published.is_not(None))
    rows = list(
        connection.execute(page(dated.order_by(published.desc(), *tiebreak), limit, offset))
    )
    if limit is not None and len(rows) == limit:
        return rows
    if rows or offset == 0:
        n_dated = offset + len(rows)
    else:  # the page starts past the dated rows: how far past?
        n_dated = connection.execute(
            select(func.count()).select_from(dated.order_by(None).subquery())
        ).scalar_one()
    undated = query.where(published.is_(None)).order_by(*tiebreak)
    rest = None if limit is None else limit - len(rows)
    rows.extend(connection.execute(page(undated, rest, max(0, offset - n_dated))))
    return rows


def counts(
    connection: Connection,
    key: Any,
    values: Collection[int],
    *where: Any,
    counted: Any = None,
) -> dict[int, int]:
    """How many rows (or ``counted``) have each of ``values`` as ``key``, among those
    ``where`` keeps; values without any are left out. One grouped query per IN list."""
    found: dict[int, int] = {}
    for chunk in in_lists(sorted(set(values))):
        query = (
            select(key, func.count() if counted is None else counted)
            .where(key.in_(chunk), *where)
            .group_by(key)
        )
        found.update((int(k), int(n)) for k, n in connection.execute(query))
    return found
