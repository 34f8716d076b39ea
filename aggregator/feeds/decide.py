"""The update decision: pure code, no I/O.

Given what we knew about a feed and what one poll brought back, decide what to write:
new validators, status, error count, the feed's new URL when it moved, and when to
poll it next. Scheduling state lives in the database (``next_poll_at``); this module
is the only place that computes it, from

- the configured interval, or the feed's own publishing rhythm, within [min, max];
- what the publisher asked for: ``<ttl>``, ``Cache-Control: max-age``, ``Retry-After``;
- exponential backoff with jitter after errors — capped at the max interval, never a
  permanent give-up, except 410 Gone.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from itertools import pairwise

from aggregator.exceptions import AggregatorError, FeedGone, FetchError, HTTPStatusError
from aggregator.settings import PollSettings
from aggregator.types import FeedRecord, FeedStatus, FeedUpdate, FetchResult, ParsedFeed

__all__ = [
    "BACKOFF_JITTER",
    "JITTER_FRACTION",
    "MIN_DATES_FOR_RHYTHM",
    "POLLS_PER_PUBLISHING_GAP",
    "QUIET_AFTER_GAPS",
    "RHYTHM_WINDOW",
    "NewFeedUrlCheck",
    "NewFeedUrlProblem",
    "backoff",
    "failure_update",
    "new_feed_url_candidate",
    "poll_interval",
    "publishing_rhythm",
    "success_update",
]

# A feed is polled this many times per typical gap between its episodes: a weekly show
# is looked at about every 17 hours, a daily one about every 2.4 hours (then clamped
# to [min, max]). Ten looks per gap keeps the delay to a new episode near a tenth of
# the gap while costing a weekly feed only ~10 conditional requests a week.
POLLS_PER_PUBLISHING_GAP = 10
# Publishing rhythm needs a few gaps to mean anything.
MIN_DATES_FOR_RHYTHM = 4
# The gaps between the most recent episodes say most about the current rhythm.
RHYTHM_WINDOW = 12
# A feed whose newest episode is older than this many typical gaps has gone quiet;
# it is polled at the max interval until it publishes again.
QUIET_AFTER_GAPS = 4
# Spread polls of feeds with the same interval, so they do not all fall due together.
JITTER_FRACTION = 0.1
# After an error the next attempt comes after min_interval * 2**(errors - 1), +-25 %.
BACKOFF_JITTER = 0.25


class NewFeedUrlProblem(Enum):
    """Why an announced new URL was not followed, in words fit to publish."""

    REFUSED = "its address is not one we fetch"
    UNREACHABLE = "it could not be fetched"
    NOT_A_FEED = "it is not a feed we can read"


@dataclass(frozen=True, slots=True)
class NewFeedUrlCheck:
    """The poller's check of an itunes:new-feed-url: ``problem`` is None when it works.

    The problem is one of a few fixed phrases, never the fetch's own error: the note
    made of it is published, and an error text names addresses, ports and what a
    server behind them answered.
    """

    url: str
    problem: NewFeedUrlProblem | None = None


def success_update(
    feed: FeedRecord,
    result: FetchResult,
    parsed: ParsedFeed | None,
    *,
    content_hash: str | None,
    published: Sequence[datetime],
    now: datetime,
    poll: PollSettings,
    new_feed_url: NewFeedUrlCheck | None = None,
) -> FeedUpdate:
    """The update after a fetch that worked (a 200 or a 304).

    ``parsed`` is None when nothing needed parsing (a 304, or an unchanged body).
    ``published`` holds the publication dates of the feed's recent episodes.
    ``new_feed_url`` is the outcome of checking the document's itunes:new-feed-url.
    """
    url, note = _new_location(feed, result, new_feed_url, now)
    if parsed is not None:
        gap, newest = publishing_rhythm(published, now)
        ttl = parsed.series.ttl_minutes
    else:
        # Nothing changed since the last parse: its rhythm and <ttl> still hold.
        gap, newest, ttl = feed.typical_gap_minutes, feed.newest_published_at, feed.ttl_minutes
    interval = poll_interval(
        poll,
        typical_gap_minutes=gap,
        newest_published=newest,
        now=now,
        ttl_minutes=ttl,
        max_age_seconds=result.max_age_seconds,
    )
    next_at = now + _jittered(interval, feed.id, JITTER_FRACTION)
    if result.retry_after is not None and result.retry_after > next_at:
        next_at = min(result.retry_after, now + timedelta(minutes=poll.max_interval_minutes))
    return FeedUpdate(
        feed_id=feed.id,
        polled_at=now,
        next_poll_at=next_at,
        status=FeedStatus.ACTIVE,
        url=url,
        validators=result.validators,
        content_hash=content_hash,
        error_count=0,
        last_error=None,
        warning=parsed.warning if parsed else feed.warning,
        note=note,
        typical_gap_minutes=gap if parsed is not None else None,
        newest_published_at=newest if parsed is not None else None,
        ttl_minutes=ttl if parsed is not None else None,
    )


def failure_update(
    feed: FeedRecord,
    error: AggregatorError,
    *,
    now: datetime,
    poll: PollSettings,
    random: Callable[[], float],
) -> FeedUpdate:
    """The update after a poll that failed: the error is data, kept on the feed."""
    errors = feed.error_count + 1
    if isinstance(error, FeedGone):
        return FeedUpdate(
            feed_id=feed.id,
            polled_at=now,
            next_poll_at=now + timedelta(minutes=poll.max_interval_minutes),
            status=FeedStatus.GONE,
            error_count=errors,
            last_error=str(error),
            warning=feed.warning,
            note=f"gone: the server answered 410 Gone on {now:%Y-%m-%d}",
        )
    next_at = now + backoff(errors, poll, random)
    retry_after = error.retry_after if isinstance(error, HTTPStatusError) else None
    if retry_after is not None and retry_after > now:
        # The server said when to come back: that wins over our own backoff, within
        # reason (a year-long Retry-After would be a give-up in disguise).
        next_at = min(retry_after, now + timedelta(minutes=poll.max_interval_minutes))
    return FeedUpdate(
        feed_id=feed.id,
        polled_at=now,
        next_poll_at=next_at,
        status=FeedStatus.FAILING,
        error_count=errors,
        last_error=_one_line(error),
        warning=feed.warning,
    )


def poll_interval(
    poll: PollSettings,
    *,
    typical_gap_minutes: float | None,
    newest_published: datetime | None,
    now: datetime,
    ttl_minutes: int | None = None,
    max_age_seconds: int | None = None,
) -> timedelta:
    """How long to wait before the next poll of a healthy feed.

    >>> from datetime import datetime, timezone
    >>> p = PollSettings(interval_minutes=60, min_interval_minutes=15, max_interval_minutes=1440)
    >>> now = datetime(2026, 1, 29, tzinfo=timezone.utc)
    >>> week = 7 * 24 * 60
    >>> poll_interval(p, typical_gap_minutes=week, newest_published=now, now=now).seconds
    60480
    >>> poll_interval(p, typical_gap_minutes=None, newest_published=None, now=now).seconds
    3600
    >>> poll_interval(p, typical_gap_minutes=None, newest_published=None, now=now,
    ...               ttl_minutes=180).seconds  # the publisher's <ttl>
    10800
    """
    if typical_gap_minutes is None or newest_published is None:
        minutes = poll.interval_minutes
    elif (now - newest_published).total_seconds() / 60 > QUIET_AFTER_GAPS * typical_gap_minutes:
        # A feed that has gone quiet is looked at rarely until it publishes again.
        minutes = poll.max_interval_minutes
    else:
        minutes = typical_gap_minutes / POLLS_PER_PUBLISHING_GAP
    if ttl_minutes:
        minutes = max(minutes, float(ttl_minutes))
    if max_age_seconds:
        minutes = max(minutes, max_age_seconds / 60)
    minutes = min(max(minutes, poll.min_interval_minutes), poll.max_interval_minutes)
    return timedelta(minutes=minutes)


def publishing_rhythm(
    published: Sequence[datetime], now: datetime
) -> tuple[float | None, datetime | None]:
    """The typical gap (minutes) between recent episodes, and the newest date.

    >>> from datetime import datetime, timezone
    >>> days = [datetime(2026, 1, d, tzinfo=timezone.utc) for d in (1, 8, 15, 22)]
    >>> publishing_rhythm(days, datetime(2026, 2, 1, tzinfo=timezone.utc))
    (10080.0, datetime.datetime(2026, 1, 22, 0, 0, tzinfo=datetime.timezone.utc))
    """
    dates = sorted({d for d in published if d <= now}, reverse=True)[:RHYTHM_WINDOW]
    newest = dates[0] if dates else None
    if len(dates) < MIN_DATES_FOR_RHYTHM:
        return None, newest
    typical = statistics.median((a - b).total_seconds() / 60 for a, b in pairwise(dates))
    return (typical if typical > 0 else None), newest


def backoff(errors: int, poll: PollSettings, random: Callable[[], float]) -> timedelta:
    """Exponential backoff after ``errors`` consecutive failures, with jitter.

    >>> p = PollSettings(min_interval_minutes=15, max_interval_minutes=1440)
    >>> [backoff(n, p, lambda: 0.5).seconds for n in (1, 2, 3)]  # 0.5 is "no jitter"
    [900, 1800, 3600]
    >>> backoff(30, p, lambda: 0.5)  # capped, and still polled: never a permanent give-up
    datetime.timedelta(days=1)
    """
    exponent = min(errors - 1, 32)
    minutes = min(poll.min_interval_minutes * 2.0**exponent, poll.max_interval_minutes)
    factor = 1 + BACKOFF_JITTER * (2 * random() - 1)
    return timedelta(minutes=min(minutes * factor, poll.max_interval_minutes))


def _jittered(interval: timedelta, feed_id: int, fraction: float) -> timedelta:
    """Add up to ``fraction`` of the interval, fixed per feed (no randomness needed)."""
    digest = hashlib.blake2b(str(feed_id).encode(), digest_size=2).digest()
    share = int.from_bytes(digest, "big") / 0xFFFF
    return interval * (1 + fraction * share)


def new_feed_url_candidate(feed: FeedRecord, result: FetchResult, parsed: ParsedFeed) -> str | None:
    """The ``itunes:new-feed-url`` worth checking, if the document names one.

    The poller fetches it before we follow it: a feed copied or mirrored somewhere
    still names its original URL, and following that blindly would swap a working feed
    for an unreachable one. A local copy is never moved: the user chose the copy.
    """
    new_url = parsed.series.new_feed_url
    if (
        new_url
        and feed.url.startswith(("http://", "https://"))
        and new_url.startswith(("http://", "https://"))
        and new_url not in (feed.url, result.final_url)
    ):
        return new_url
    return None


def _new_location(
    feed: FeedRecord,
    result: FetchResult,
    new_feed_url: NewFeedUrlCheck | None,
    now: datetime,
) -> tuple[str | None, str | None]:
    """The feed's new URL and a note saying why, if the publisher moved it."""
    if result.moved_to and result.moved_to != feed.url:
        return result.moved_to, (
            f"moved from {feed.url} to {result.moved_to} "
            f"(permanent redirect, HTTP {result.status} chain) on {now:%Y-%m-%d}"
        )
    if new_feed_url is None:
        return None, None
    problem = new_feed_url.problem
    if problem is None:
        return new_feed_url.url, (
            f"moved from {feed.url} to {new_feed_url.url} (itunes:new-feed-url) on {now:%Y-%m-%d}"
        )
    # A refused URL is left out: its host may be an internal name.
    named = "" if problem is NewFeedUrlProblem.REFUSED else f" {new_feed_url.url}"
    return None, f"itunes:new-feed-url{named} not followed on {now:%Y-%m-%d}: {problem.value}"


def _one_line(error: AggregatorError) -> str:
    text = " ".join(str(error).split())
    if isinstance(error, FetchError) and not text:
        text = type(error).__name__
    return text[:500]
