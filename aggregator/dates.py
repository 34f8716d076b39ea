"""The dates we take in: from 1970 to 2100, aware UTC.

Episode and review dates come from feeds, pages and people, and some are absurd:
9999-12-31 (a "never" placeholder), 0001-01-01 (an unset field), a year typed with
one digit too many. No podcast, nor any review of one, was published before 1970 or
will be after 2100; and the code that reasons with dates adds and subtracts days
(slack around a review's date, the day before the earliest new episode), which
leaves the calendar at its ends (``OverflowError``). So a date outside these bounds
is refused where a person typed it (the API, the command line), and read as no date
where a feed or page gave it, with a note in the log. A date without an offset is
UTC, as everywhere else.

>>> bounded(datetime(9999, 12, 31, 23, 59, 59)) is None
True
>>> bounded(datetime(2018, 7, 1))
datetime.datetime(2018, 7, 1, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["EARLIEST", "LATEST", "RANGE", "bounded", "within"]

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)  # the first moment no longer taken
RANGE = "1970-01-01 to 2099-12-31"


def bounded(value: datetime | None) -> datetime | None:
    """``value`` as aware UTC when it lies within the bounds, else None."""
    if value is None:
        return None
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        return None
    return utc if EARLIEST <= utc < LATEST else None


def within(value: datetime) -> bool:
    """Whether ``value`` (aware, or naive and then UTC) lies within the bounds."""
    return bounded(value) is not None
