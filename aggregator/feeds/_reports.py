"""What a poll did: ``PollReport`` for one feed, ``PollSummary`` over a batch.

The poller (``poller``, which re-exports both) makes them; the CLI, the API and the
log print them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aggregator.types import StoreCounts

__all__ = ["PollReport", "PollSummary"]


@dataclass(frozen=True, slots=True)
class PollReport:
    """What happened to one feed in one poll."""

    feed_id: int
    url: str
    outcome: str  # "new", "updated", "unchanged", "not-modified", "failed", "gone"
    counts: StoreCounts = field(default_factory=StoreCounts)
    error: str | None = None
    elapsed_seconds: float = 0.0
    error_kind: str | None = None  # the error's class name, for metrics
    reviews: int = 0  # reviews taken in from a reviews feed (its items are not episodes)
    left_out: int = 0  # items not read, over poll.max_items

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "gone")

    def line(self) -> str:
        """One log line for this poll."""
        c = self.counts
        head = f"poll {self.url}: {self.outcome}"
        if self.error:
            return f"{head}: {self.error}"
        left_out = (
            f", {self.left_out:,} items over poll.max_items left out" if self.left_out else ""
        )
        if self.reviews:
            return (
                f"{head} ({self.reviews} reviews{left_out}) in {self.elapsed_seconds * 1000:.0f} ms"
            )
        return (
            f"{head} (new {c.new}, updated {c.updated}, unchanged {c.unchanged}, "
            f"missing {c.missing}{left_out}) in {self.elapsed_seconds * 1000:.0f} ms"
        )


@dataclass(slots=True)
class PollSummary:
    """Totals over a batch of polls; ``line()`` is the summary a user sees."""

    polled: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    reviews: int = 0
    left_out: int = 0  # items over poll.max_items, in all
    reports: list[PollReport] = field(default_factory=list)

    def add(self, report: PollReport) -> None:
        self.polled += 1
        self.reports.append(report)
        if report.failed:
            self.failed += 1
        self.new += report.counts.new
        self.updated += report.counts.updated
        self.reviews += report.reviews
        self.left_out += report.left_out
        if report.outcome in ("unchanged", "not-modified"):
            self.unchanged += 1

    def line(self) -> str:
        def n(count: int, noun: str) -> str:
            return f"{count} {noun}{'' if count == 1 else 's'}"

        reviews = f", {n(self.reviews, 'review')} taken in" if self.reviews else ""
        left_out = (
            f" ({self.left_out:,} {'item' if self.left_out == 1 else 'items'} over "
            "poll.max_items left out)"
            if self.left_out
            else ""
        )
        return (
            f"polled {n(self.polled, 'feed')}: {n(self.new, 'new episode')}, "
            f"{self.updated} updated{reviews}, {n(self.unchanged, 'feed')} unchanged, "
            f"{self.failed} failed{left_out}"
        )
