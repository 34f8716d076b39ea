"""Combined feeds' rows and versions; pages and searches for the HTTP API."""

from __future__ import annotations

from aggregator.storage import (
    _browse,
    _feed_queries,
    _queries,
    _review_queries,
)
from aggregator.storage._base import StorageBase
from aggregator.storage._browse import AuthorCount
from aggregator.storage._feed_queries import FeedVersion, ReviewsForFeed, SeriesFeedRows
from aggregator.storage._queries import ReviewSummary, StoreStats
from aggregator.types import (
    LinkRecord,
)


class QueryStore(StorageBase):
    """Combined feeds' rows and versions; pages and searches for the HTTP API."""

    # --- combined feeds (aggregator.syndicate) -------------------------------------

    def feed_version(self, *, series_id: int | None = None, reviews: bool = False) -> FeedVersion:
        """The version of a series feed (``reviews`` False), or of the reviews feed
        (of one series, or of all): cheap, to answer a conditional request.
        NotFoundError for an unknown series."""
        with self._read("reading a feed version") as session:
            connection = session.connection()
            if reviews:
                return _feed_queries.reviews_version(connection, series_id)
            if series_id is None:
                raise ValueError("a series feed needs a series id")
            return _feed_queries.series_version(connection, series_id)

    def series_feed_rows(self, series_id: int, *, limit: int, offset: int = 0) -> SeriesFeedRows:
        """A page of the series' episodes still in its feed, newest first, with their
        authors, its owner (which the records leave out), and the links and reviews
        the page shows. NotFoundError for no series."""
        with self._read(f"reading the feed of series {series_id}") as session:
            return _feed_queries.series_feed_rows(session.connection(), series_id, limit, offset)

    def reviews_for_feed(
        self, *, series_id: int | None, limit: int, offset: int = 0
    ) -> ReviewsForFeed:
        """A page of the reviews with a link (not rejected), to the series if given,
        newest first: ``limit`` of them from ``offset`` on, with those links and the
        episodes they name, and whether more follow."""
        with self._read("reading reviews for a feed") as session:
            return _feed_queries.reviews_for_feed(session.connection(), series_id, limit, offset)

    # --- pages and searches for the HTTP API (see _queries and _search) --------------

    def stats(self) -> StoreStats:
        """Feeds per status, series, episodes, reviews, links per relation."""
        with self._read("counting the store") as session:
            return _queries.stats(session.connection())

    def reviews_page(
        self,
        *,
        series_id: int | None = None,
        episode_id: int | None = None,
        person: str | None = None,
        author: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ReviewSummary]:
        """Review summaries newest first; filters as in ``_review_queries.reviews_page``.

        InputError when ``person`` has no words.
        """
        with self._read("listing reviews") as session:
            return _review_queries.reviews_page(
                session.connection(),
                series_id=series_id,
                episode_id=episode_id,
                person=person,
                author=author,
                limit=limit,
                offset=offset,
            )

    def search_reviews(
        self, query: str, *, limit: int | None = None, offset: int = 0
    ) -> list[ReviewSummary]:
        """Reviews having every word of ``query``, best first (see ``_search``)."""
        with self._read("searching reviews") as session:
            return _review_queries.search_reviews(
                session.connection(), query, limit=limit, offset=offset
            )

    # --- browsing, for the web pages (see _browse) ---------------------------------------

    def review_authors(self, *, limit: int | None = None, offset: int = 0) -> list[AuthorCount]:
        """Who wrote the reviews (as they name their authors), most reviews first."""
        with self._read("listing review authors") as session:
            return _browse.review_authors(session.connection(), limit=limit, offset=offset)

    def get_link(self, link_id: int) -> LinkRecord:
        with self._read(f"reading link {link_id}") as session:
            return _queries.get_link(session.connection(), link_id)
