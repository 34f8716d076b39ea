"""Numbers from a page's address: ids and page numbers, or None for anything else."""

from __future__ import annotations

from aggregator.exceptions import NotFoundError

# Largest id a database row can have (SQLite and PostgreSQL BIGINT); anything larger
# is not found rather than an overflow inside the driver.
MAX_ID = 2**63 - 1
MAX_PAGE = 100_000


def number(raw: str, maximum: int = MAX_ID) -> int | None:
    """A positive decimal number, or None (ASCII digits only: int() takes others).

    >>> number("12"), number("0"), number("١"), number("1e3"), number("100001", MAX_PAGE)
    (12, None, None, None, None)
    """
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if 1 <= value <= maximum else None


def page_number(raw: str) -> int | None:
    return number(raw, MAX_PAGE)


def row_id(raw: str, missing: type[NotFoundError]) -> int:
    """The id of a row in an address; ``missing`` (raised) when it is none."""
    found = number(raw)
    if found is None:
        raise missing(raw)
    return found
