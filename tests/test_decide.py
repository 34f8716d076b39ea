"""The update decision: when to poll next, and what a poll's outcome writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.exceptions import (
    FeedGone,
    FetchConnectionError,
    HTTPStatusError,
    ParseError,
)
from aggregator.feeds import decide
from aggregator.settings import PollSettings
from aggregator.types import (
    FeedKind,
    FeedRecord,
    FeedStatus,
    FetchResult,
    ParsedFeed,
    ParsedSeries,
    Validators,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLL = PollSettings(interval_minutes=60, min_interval_minutes=15, max_interval_minutes=1440)
NO_JITTER = 0.5  # backoff's random() value that adds nothing


def feed(**changes: object) -> FeedRecord:
    base: dict[str, object] = {
        "id": 7,
        "url": "https://example.com/feed.xml",
        "added_url": "https://example.com/feed.xml",
        "kind": FeedKind.PODCAST,
        "status": FeedStatus.ACTIVE,
    }
    base.update(changes)
    return FeedRecord(**base)  # type: ignore[arg-type]


def result(**changes: object) -> FetchResult:
    base: dict[str, object] = {
        "url": "https://example.com/feed.xml",
        "final_url": "https://example.com/feed.xml",
        "status": 200,
        "content": b"<rss/>",
        "headers": {},
        "validators": Validators(etag='"v2"'),
    }
    base.update(changes)
    return FetchResult(**base)  # type: ignore[arg-type]


def parsed(**series: object) -> ParsedFeed:
    return ParsedFeed(series=ParsedSeries(title="Show", **series), episodes=())  # type: ignore[arg-type]


def days_ago(*days: float) -> list[datetime]:
    return [NOW - timedelta(days=d) for d in days]


def interval(published: list[datetime], **kwargs: int) -> timedelta:
    """poll_interval for a feed whose episodes came out on ``published``."""
    gap, newest = decide.publishing_rhythm(published, NOW)
    return decide.poll_interval(
        POLL, typical_gap_minutes=gap, newest_published=newest, now=NOW, **kwargs
    )


class TestPollInterval:
    def test_configured_interval_without_rhythm(self) -> None:
        assert interval([]) == timedelta(minutes=60)

    def test_too_few_dates_is_no_rhythm(self) -> None:
        assert decide.publishing_rhythm(days_ago(1, 2, 3), NOW) == (None, NOW - timedelta(days=1))
        assert interval(days_ago(1, 2, 3)) == timedelta(minutes=60)

    def test_daily_show_polled_about_every_two_and_a_half_hours(self) -> None:
        # median gap one day = 1440 min; a tenth of it is 144 min
        assert interval(days_ago(0.5, 1.5, 2.5, 3.5, 4.5)) == timedelta(minutes=144)

    def test_rhythm_is_the_median_gap_of_recent_episodes(self) -> None:
        # gaps of 1, 1, 1 and 30 days: one long summer break does not set the rhythm
        gap, newest = decide.publishing_rhythm(days_ago(1, 2, 3, 4, 34), NOW)
        assert gap == 1440
        assert newest == NOW - timedelta(days=1)

    def test_hourly_show_is_clamped_to_min_interval(self) -> None:
        dates = [NOW - timedelta(hours=h) for h in range(1, 10)]
        assert interval(dates) == timedelta(minutes=15)

    def test_quiet_feed_goes_to_max_interval(self) -> None:
        # weekly, but silent for two months
        assert interval(days_ago(60, 67, 74, 81, 88)) == timedelta(minutes=1440)

    def test_future_dates_are_ignored(self) -> None:
        dates = [NOW + timedelta(days=d) for d in (1, 2, 3, 4, 5)]
        assert decide.publishing_rhythm(dates, NOW) == (None, None)

    def test_ttl_and_max_age_lengthen_but_never_past_max(self) -> None:
        assert interval([], ttl_minutes=120) == timedelta(minutes=120)
        assert interval([], max_age_seconds=7200) == timedelta(minutes=120)
        assert interval([], ttl_minutes=10_000) == timedelta(minutes=1440)


class TestBackoff:
    def test_doubles_from_min_interval(self) -> None:
        got = [decide.backoff(n, POLL, lambda: NO_JITTER) for n in range(1, 6)]
        assert got == [timedelta(minutes=m) for m in (15, 30, 60, 120, 240)]

    def test_jitter_is_within_a_quarter(self) -> None:
        low = decide.backoff(3, POLL, lambda: 0.0)
        high = decide.backoff(3, POLL, lambda: 1.0)
        assert low == timedelta(minutes=45)
        assert high == timedelta(minutes=75)

    def test_capped_and_never_overflows(self) -> None:
        assert decide.backoff(10_000, POLL, lambda: 1.0) == timedelta(minutes=1440)


class TestSuccess:
    def test_keeps_validators_and_resets_errors(self) -> None:
        update = decide.success_update(
            feed(error_count=3, status=FeedStatus.FAILING, last_error="HTTP 500"),
            result(),
            None,
            content_hash="abc",
            published=[],
            now=NOW,
            poll=POLL,
        )
        assert update.status is FeedStatus.ACTIVE
        assert update.error_count == 0
        assert update.last_error is None
        assert update.validators == Validators(etag='"v2"')
        assert update.content_hash == "abc"
        # 60 minutes plus the feed's fixed jitter of at most 10 %
        assert timedelta(minutes=60) <= update.next_poll_at - NOW <= timedelta(minutes=66)

    def test_jitter_is_stable_per_feed(self) -> None:
        a = decide.success_update(
            feed(), result(), None, content_hash=None, published=[], now=NOW, poll=POLL
        )
        b = decide.success_update(
            feed(), result(), None, content_hash=None, published=[], now=NOW, poll=POLL
        )
        assert a.next_poll_at == b.next_poll_at

    def test_permanent_redirect_moves_the_feed_with_a_note(self) -> None:
        update = decide.success_update(
            feed(),
            result(moved_to="https://new.example.com/feed.xml", status=200),
            None,
            content_hash=None,
            published=[],
            now=NOW,
            poll=POLL,
        )
        assert update.url == "https://new.example.com/feed.xml"
        assert update.note is not None
        assert "https://example.com/feed.xml" in update.note
        assert "2026-03-01" in update.note

    def test_new_feed_url_is_a_candidate_for_http_feeds(self) -> None:
        doc = parsed(new_feed_url="https://moved.example.org/rss")
        assert (
            decide.new_feed_url_candidate(feed(), result(), doc) == "https://moved.example.org/rss"
        )

    def test_new_feed_url_naming_where_we_are_is_no_move(self) -> None:
        doc = parsed(new_feed_url="https://example.com/feed.xml")
        assert decide.new_feed_url_candidate(feed(), result(), doc) is None
        via_redirect = result(final_url="https://cdn.example.com/feed.xml")
        doc = parsed(new_feed_url="https://cdn.example.com/feed.xml")
        assert decide.new_feed_url_candidate(feed(), via_redirect, doc) is None

    def test_new_feed_url_does_not_move_a_local_copy(self) -> None:
        local = feed(url="file:///srv/feeds/serial.xml")
        doc = parsed(new_feed_url="https://feeds.example.com/serial")
        assert decide.new_feed_url_candidate(local, result(url=local.url), doc) is None

    def test_checked_new_feed_url_moves_the_feed(self) -> None:
        update = decide.success_update(
            feed(),
            result(),
            parsed(new_feed_url="https://moved.example.org/rss"),
            content_hash=None,
            published=[],
            now=NOW,
            poll=POLL,
            new_feed_url=decide.NewFeedUrlCheck("https://moved.example.org/rss"),
        )
        assert update.url == "https://moved.example.org/rss"
        assert update.note is not None and "itunes:new-feed-url" in update.note

    def test_unreachable_new_feed_url_is_noted_not_followed(self) -> None:
        update = decide.success_update(
            feed(),
            result(),
            parsed(new_feed_url="https://moved.example.org/rss"),
            content_hash=None,
            published=[],
            now=NOW,
            poll=POLL,
            new_feed_url=decide.NewFeedUrlCheck(
                "https://moved.example.org/rss", problem=decide.NewFeedUrlProblem.UNREACHABLE
            ),
        )
        assert update.url is None
        assert update.note == (
            "itunes:new-feed-url https://moved.example.org/rss not followed on "
            f"{NOW:%Y-%m-%d}: it could not be fetched"
        )

    def test_a_refused_new_feed_url_is_not_named_in_the_note(self) -> None:
        # The note is published; the refused URL's host may be an internal name.
        update = decide.success_update(
            feed(),
            result(),
            parsed(new_feed_url="http://db.internal:5432/"),
            content_hash=None,
            published=[],
            now=NOW,
            poll=POLL,
            new_feed_url=decide.NewFeedUrlCheck(
                "http://db.internal:5432/", problem=decide.NewFeedUrlProblem.REFUSED
            ),
        )
        assert update.url is None
        assert update.note == (
            f"itunes:new-feed-url not followed on {NOW:%Y-%m-%d}: its address is not one we fetch"
        )

    def test_retry_after_on_success_delays_the_next_poll(self) -> None:
        later = NOW + timedelta(hours=5)
        update = decide.success_update(
            feed(),
            result(retry_after=later),
            None,
            content_hash=None,
            published=[],
            now=NOW,
            poll=POLL,
        )
        assert update.next_poll_at == later

    def test_rhythm_is_kept_from_the_last_parse_for_a_304(self) -> None:
        weekly = days_ago(1, 8, 15, 22, 29)
        parsed_update = decide.success_update(
            feed(),
            result(),
            parsed(ttl_minutes=90),
            content_hash="h",
            published=weekly,
            now=NOW,
            poll=POLL,
        )
        assert parsed_update.typical_gap_minutes == 7 * 24 * 60
        assert parsed_update.newest_published_at == NOW - timedelta(days=1)
        assert parsed_update.ttl_minutes == 90
        known = feed(
            typical_gap_minutes=parsed_update.typical_gap_minutes,
            newest_published_at=parsed_update.newest_published_at,
            ttl_minutes=90,
        )
        later = NOW + timedelta(hours=3)
        not_modified = decide.success_update(
            known,
            result(content=None, status=304),
            None,
            content_hash=None,
            published=[],
            now=later,
            poll=POLL,
        )
        wait = not_modified.next_poll_at - later
        # a tenth of a week (1008 min), plus at most 10 % fixed jitter
        assert timedelta(minutes=1008) <= wait <= timedelta(minutes=1109)
        # and nothing about the rhythm is rewritten
        assert not_modified.typical_gap_minutes is None
        assert not_modified.newest_published_at is None

        # the same feed two months later, still answering 304: it has gone quiet
        much_later = NOW + timedelta(days=60)
        quiet = decide.success_update(
            known,
            result(content=None, status=304),
            None,
            content_hash=None,
            published=[],
            now=much_later,
            poll=POLL,
        )
        assert quiet.next_poll_at - much_later >= timedelta(minutes=1440)

    def test_parse_warning_is_kept(self) -> None:
        doc = ParsedFeed(series=ParsedSeries(title="x"), episodes=(), warning="recovered")
        update = decide.success_update(
            feed(), result(), doc, content_hash=None, published=[], now=NOW, poll=POLL
        )
        assert update.warning == "recovered"


class TestFailure:
    def test_error_is_data_with_backoff(self) -> None:
        error = FetchConnectionError("https://example.com/feed.xml", "connection refused")
        update = decide.failure_update(
            feed(error_count=1), error, now=NOW, poll=POLL, random=lambda: NO_JITTER
        )
        assert update.status is FeedStatus.FAILING
        assert update.error_count == 2
        assert update.last_error == "https://example.com/feed.xml: connection refused"
        assert update.next_poll_at == NOW + timedelta(minutes=30)
        # a failure keeps what we knew: validators and content hash stay as stored
        assert update.validators is None
        assert update.content_hash is None

    def test_retry_after_wins_over_backoff(self) -> None:
        later = NOW + timedelta(hours=3)
        error = HTTPStatusError("u", 429, "HTTP 429 Too Many Requests", retry_after=later)
        update = decide.failure_update(feed(), error, now=NOW, poll=POLL, random=lambda: 0.5)
        assert update.next_poll_at == later

    def test_absurd_retry_after_is_capped(self) -> None:
        error = HTTPStatusError("u", 503, "HTTP 503", retry_after=NOW + timedelta(days=400))
        update = decide.failure_update(feed(), error, now=NOW, poll=POLL, random=lambda: 0.5)
        assert update.next_poll_at == NOW + timedelta(minutes=1440)

    def test_gone_marks_the_feed(self) -> None:
        error = FeedGone("u", 410, "HTTP 410 Gone")
        update = decide.failure_update(feed(), error, now=NOW, poll=POLL, random=lambda: 0.5)
        assert update.status is FeedStatus.GONE
        assert update.note is not None and "410" in update.note

    @pytest.mark.parametrize("errors", [1, 5, 50])
    def test_parse_errors_back_off_too(self, errors: int) -> None:
        error = ParseError("u", "not a feed: looks like an HTML page")
        update = decide.failure_update(
            feed(error_count=errors - 1), error, now=NOW, poll=POLL, random=lambda: 0.5
        )
        assert update.status is FeedStatus.FAILING
        assert NOW < update.next_poll_at <= NOW + timedelta(minutes=1440)
