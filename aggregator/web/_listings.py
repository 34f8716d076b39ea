"""What the browsing pages show: lists of series, episodes, reviews and authors, search
results, and the pages beside the combined feeds -- read from storage into plain
values for the templates, a page at a time.

Every list reads one row more than it shows, to know whether a next page exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aggregator.labels import series_labels
from aggregator.storage import AuthorCount, EpisodeRow, ReviewSummary, SeriesRow, Storage
from aggregator.types import LinkRecord, ReviewRecord

SERIES_PER_PAGE = 48
EPISODES_PER_PAGE = 50
REVIEWS_PER_PAGE = 20
AUTHORS_PER_PAGE = 100
# The search page shows this many hits of each kind, with a link to all of that kind.
SEARCH_PREVIEW = 5
SEARCH_PER_PAGE = 20
# Items shown on the page beside a combined feed: a preview, not the feed.
FEED_PREVIEW = 20
# Characters of a review's text shown in a list (as much as a storage summary holds).
EXCERPT_CHARS = 300

SEARCH_KINDS = ("series", "episodes", "reviews")


@dataclass(frozen=True, slots=True)
class Paged:
    """Where a list page is: its number and whether another follows."""

    page: int
    more: bool


@dataclass(frozen=True, slots=True)
class ReviewEntry:
    """A review in a list: its summary, the start of its text, and its links
    (rejected ones left out)."""

    review: ReviewSummary | ReviewRecord
    excerpt: str
    links: tuple[LinkRecord, ...]


@dataclass(frozen=True, slots=True)
class SeriesList:
    rows: tuple[SeriesRow, ...]
    paged: Paged


@dataclass(frozen=True, slots=True)
class EpisodeList:
    rows: tuple[EpisodeRow, ...]
    series: dict[int, SeriesRow]  # the series of the episodes shown, by id
    paged: Paged


@dataclass(frozen=True, slots=True)
class ReviewList:
    entries: tuple[ReviewEntry, ...]
    paged: Paged
    labels: dict[int, str]  # see series_labels


@dataclass(frozen=True, slots=True)
class AuthorList:
    authors: tuple[AuthorCount, ...]
    paged: Paged


@dataclass(frozen=True, slots=True)
class SearchResults:
    """Hits of each kind; ``kind`` set when the page lists one kind, page by page."""

    query: str
    kind: str | None
    series: SeriesList
    episodes: EpisodeList
    reviews: ReviewList


def _offset(page: int, per_page: int) -> int:
    return (page - 1) * per_page


def _episode_list(
    storage: Storage, rows: list[EpisodeRow], per_page: int, page: int
) -> EpisodeList:
    shown = tuple(rows[:per_page])
    series = storage.series_by_ids({row.episode.series_id for row in shown})
    return EpisodeList(shown, series, Paged(page, len(rows) > per_page))


def _review_list(
    storage: Storage, summaries: Iterable[ReviewSummary], per_page: int, page: int
) -> ReviewList:
    found = list(summaries)
    shown = found[:per_page]
    links = storage.links_of_reviews([summary.id for summary in shown])
    entries = tuple(
        ReviewEntry(summary, summary.excerpt, tuple(links.get(summary.id, ()))) for summary in shown
    )
    labels = series_labels(storage, [link for entry in entries for link in entry.links])
    return ReviewList(entries, Paged(page, len(found) > per_page), labels)


def series_list(storage: Storage, page: int) -> SeriesList:
    per = SERIES_PER_PAGE
    rows = storage.series_page(limit=per + 1, offset=_offset(page, per))
    return SeriesList(tuple(rows[:per]), Paged(page, len(rows) > per))


def episode_list(storage: Storage, page: int, *, reviewed: bool | None) -> EpisodeList:
    per = EPISODES_PER_PAGE
    rows = storage.episodes_page(reviewed=reviewed, limit=per + 1, offset=_offset(page, per))
    return _episode_list(storage, rows, per, page)


def review_list(storage: Storage, page: int, *, author: str | None) -> ReviewList:
    per = REVIEWS_PER_PAGE
    rows = storage.reviews_page(author=author, limit=per + 1, offset=_offset(page, per))
    return _review_list(storage, rows, per, page)


def author_list(storage: Storage, page: int) -> AuthorList:
    per = AUTHORS_PER_PAGE
    rows = storage.review_authors(limit=per + 1, offset=_offset(page, per))
    return AuthorList(tuple(rows[:per]), Paged(page, len(rows) > per))


def search(storage: Storage, query: str, kind: str | None, page: int) -> SearchResults:
    """Series, episodes and reviews for ``query``: a few of each, or with ``kind`` one
    kind a page at a time. InputError when the query has no words (or too many)."""
    per = SEARCH_PER_PAGE if kind else SEARCH_PREVIEW
    offset = _offset(page, per)
    nothing = Paged(page, False)
    series = SeriesList((), nothing)
    episodes = EpisodeList((), {}, nothing)
    reviews = ReviewList((), nothing, {})
    if kind in (None, "series"):
        rows = storage.search_series(query, limit=per + 1, offset=offset)
        series = SeriesList(tuple(rows[:per]), Paged(page, len(rows) > per))
    if kind in (None, "episodes"):
        hits = storage.search_episodes(query, limit=per + 1, offset=offset)
        episodes = _episode_list(storage, hits, per, page)
    if kind in (None, "reviews"):
        found = storage.search_reviews(query, limit=per + 1, offset=offset)
        reviews = _review_list(storage, found, per, page)
    return SearchResults(query, kind, series, episodes, reviews)


# --- the pages beside the combined feeds ---------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedAddress:
    """A combined feed: its address (to copy into a podcast app), the same as a path
    on this site (for the page's own links), and the page about it here."""

    title: str
    url: str
    path: str
    page: str


@dataclass(frozen=True, slots=True)
class SeriesFeeds:
    series: SeriesRow
    episodes: FeedAddress  # the series' episodes, each with its reviews
    reviews: FeedAddress  # the reviews of the series, each playing its episode


@dataclass(frozen=True, slots=True)
class FeedIndex:
    all_reviews: FeedAddress
    series: tuple[SeriesFeeds, ...]
    paged: Paged


@dataclass(frozen=True, slots=True)
class SeriesFeedPage:
    feeds: SeriesFeeds
    episodes: tuple[EpisodeRow, ...]  # the newest, as a preview


@dataclass(frozen=True, slots=True)
class ReviewsFeedPage:
    feed: FeedAddress
    series: SeriesFeeds | None  # None: the feed of every review
    reviews: ReviewList  # the newest, as a preview


def series_feeds(row: SeriesRow, base_url: str) -> SeriesFeeds:
    sid = row.series.id
    return SeriesFeeds(
        row,
        _feed(f"{row.series.title}, with reviews", base_url, f"/feeds/series/{sid}"),
        _feed(f"Reviews of {row.series.title}", base_url, "/feeds/reviews", f"?series={sid}"),
    )


def _feed(title: str, base_url: str, page: str, query: str = "") -> FeedAddress:
    path = f"{page}.xml{query}"
    return FeedAddress(title, base_url + path, path, page + query)


def all_reviews_feed(base_url: str) -> FeedAddress:
    return _feed("All reviews", base_url, "/feeds/reviews")


def feed_index(storage: Storage, page: int, base_url: str) -> FeedIndex:
    listed = series_list(storage, page)
    return FeedIndex(
        all_reviews_feed(base_url),
        tuple(series_feeds(row, base_url) for row in listed.rows),
        listed.paged,
    )


def series_feed_page(storage: Storage, series_id: int, base_url: str) -> SeriesFeedPage:
    """NotFoundError for an unknown series."""
    row = storage.series_row(series_id)
    episodes = storage.episodes_page(series_id=series_id, limit=FEED_PREVIEW)
    return SeriesFeedPage(series_feeds(row, base_url), tuple(episodes))


def reviews_feed_page(storage: Storage, series_id: int | None, base_url: str) -> ReviewsFeedPage:
    """NotFoundError for an unknown series."""
    # What the feed itself shows first: the newest reviews with a link.
    rows = storage.reviews_for_feed(series_id=series_id, limit=FEED_PREVIEW)
    entries = tuple(
        ReviewEntry(
            review,
            review.text[:EXCERPT_CHARS],
            tuple(link for link in rows.links if link.review_id == review.id),
        )
        for review in rows.reviews
    )
    labels = series_labels(storage, rows.links)
    reviews = ReviewList(entries, Paged(1, False), labels)
    if series_id is None:
        return ReviewsFeedPage(all_reviews_feed(base_url), None, reviews)
    feeds = series_feeds(storage.series_row(series_id), base_url)
    return ReviewsFeedPage(feeds.reviews, feeds, reviews)
