"""Episode durations as feeds write them (``itunes:duration``) -> whole seconds.

The 22 real feeds in ``shared/data/feeds/real`` use plain seconds (``3127``),
``MM:SS`` where the minutes may exceed 59 (``84:08``), and ``H:MM:SS`` /
``HH:MM:SS``; podcastparser's corpus adds fractional seconds (``01:02:03.500``),
which are truncated. Anything else is junk and gives None rather than a guess.
"""

from __future__ import annotations

import re

__all__ = ["parse_duration"]

# One to three colon-separated groups of digits; only the last may carry a fraction.
# Ten digits a group at most: more is junk, and int() refuses 4,300+ digits outright.
_DURATION = re.compile(r"(\d{1,10})(?::(\d{1,10}))?(?::(\d{1,10}))?(?:[.,]\d*)?")

# Storage keeps durations in a 32-bit column (PostgreSQL); 68 years is no episode.
_MAX_SECONDS = 2**31 - 1


def parse_duration(text: str | None) -> int | None:
    """Return the duration in whole seconds, or None when ``text`` is not one.

    >>> parse_duration("3127")
    3127
    >>> parse_duration("84:08")  # MM:SS with more than 59 minutes
    5048
    >>> parse_duration("1:02:03")
    3723
    >>> parse_duration("01:02:03.500")  # fractions are truncated
    3723
    >>> parse_duration(" 3600.9 ")
    3600
    >>> parse_duration("0")
    0
    >>> parse_duration("1:60:00") is None  # seconds/minutes past 59 under an hour field
    True
    >>> parse_duration("") is None, parse_duration(None) is None
    (True, True)
    >>> parse_duration("45 min") is None, parse_duration("-5") is None
    (True, True)
    >>> parse_duration("1:2:3:4") is None
    True
    >>> parse_duration("99999999999") is None, parse_duration("9" * 5000) is None
    (True, True)
    """
    seconds = _seconds(text)
    return seconds if seconds is not None and seconds <= _MAX_SECONDS else None


def _seconds(text: str | None) -> int | None:
    if text is None:
        return None
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return None
    groups = [int(g) for g in match.groups() if g is not None]
    if len(groups) == 1:
        return groups[0]
    if len(groups) == 2:
        minutes, seconds = groups
        # Minutes may run past 59 (se-radio writes "84:08"); seconds may not.
        return minutes * 60 + seconds if seconds < 60 else None
    hours, minutes, seconds = groups
    if minutes >= 60 or seconds >= 60:
        return None
    return hours * 3600 + minutes * 60 + seconds
