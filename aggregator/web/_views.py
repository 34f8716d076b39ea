"""What each page shows, read from storage into plain values for the templates.

No HTTP here and no HTML beyond the marked-up review text (``highlight``) and
sanitized descriptions: templates escape everything else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from aggregator.labels import series_labels
from aggregator.sanitize import sanitize_html
from aggregator.shapes import review_source_json
from aggregator.storage import EpisodeRow, Storage
from aggregator.types import (
    Enclosure,
    EpisodeRecord,
    LinkRecord,
    LinkStatus,
    ReviewRecord,
    SeriesRecord,
)
from aggregator.web._listings import SeriesFeeds, series_feeds
from aggregator.web._render import http_url
from aggregator.web.highlight import Span, excerpt, highlight

REVIEWS_PER_PAGE = 20
EPISODES_PER_PAGE = 100
# Series on the home page; the rest are a click away on /series.
HOME_SERIES = 12


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A review in a list: its links (rejected ones left out) and an excerpt."""

    review: ReviewRecord
    links: tuple[LinkRecord, ...]
    excerpt: Markup


@dataclass(frozen=True, slots=True)
class HomePage:
    reviews: tuple[ReviewItem, ...]
    labels: dict[int, str]  # series told apart from others of their title (series_labels)
    series: tuple[SeriesRecord, ...]  # the first few by title
    more_series: bool
    page: int
    more: bool


@dataclass(frozen=True, slots=True)
class SeriesPage:
    series: SeriesRecord
    feeds: SeriesFeeds  # the combined feeds of the series, to subscribe to
    description: Markup
    episodes: tuple[EpisodeRow, ...]
    # Reviews linked to the series as a whole (not to one of its episodes).
    series_reviews: tuple[ReviewItem, ...]
    labels: dict[int, str]
    page: int
    more: bool


@dataclass(frozen=True, slots=True)
class EpisodeReview:
    review: ReviewRecord
    link: LinkRecord
    excerpt: Markup


@dataclass(frozen=True, slots=True)
class Media:
    """An episode's enclosure, as the page's player plays it."""

    url: str
    type: str | None
    length: int | None
    video: bool  # a <video> player, else <audio>


@dataclass(frozen=True, slots=True)
class EpisodePage:
    episode: EpisodeRecord
    series: SeriesRecord
    media: Media | None  # None: nothing a browser could play
    description: Markup
    reviews: tuple[EpisodeReview, ...]


@dataclass(frozen=True, slots=True)
class ReviewPage:
    review: ReviewRecord
    text: Markup
    links: tuple[LinkRecord, ...]  # rejected ones included: a person may undo
    labels: dict[int, str]
    all_series: tuple[SeriesRecord, ...]
    chosen_series: SeriesRecord | None  # whose episodes the add-link form offers
    episodes: tuple[EpisodeRecord, ...]
    sources: tuple[dict[str, Any], ...] = ()  # the ways it arrived (shapes.review_source_json)


def link_target(link: LinkRecord) -> str:
    """What a link points at, in words: "Caliphate" or "Caliphate: Chapter One"."""
    if link.episode_id is None:
        return link.series_title
    return f"{link.series_title}: {link.episode_title or link.episode_guid or link.episode_id}"


def evidence_spans(links: Iterable[LinkRecord]) -> list[Span]:
    """The evidence of the links a person has not rejected, as spans of the text."""
    spans = []
    for link in links:
        if link.status is LinkStatus.REJECTED:
            continue
        target = link_target(link)
        for item in link.evidence:
            label = f"{item.kind}: {item.detail} → {target}"
            spans.append(Span(item.start, item.end, label))
    return spans


def _review_item(review: ReviewRecord, links: Sequence[LinkRecord]) -> ReviewItem:
    return ReviewItem(review, tuple(links), excerpt(review.text, evidence_spans(links)))


def home(storage: Storage, page: int) -> HomePage:
    summaries = storage.reviews_page(
        limit=REVIEWS_PER_PAGE + 1, offset=(page - 1) * REVIEWS_PER_PAGE
    )
    shown = storage.get_reviews([summary.id for summary in summaries[:REVIEWS_PER_PAGE]])
    links = storage.links_of_reviews([review.id for review in shown])
    items = tuple(_review_item(review, links.get(review.id, ())) for review in shown)
    shows = storage.series_page(limit=HOME_SERIES + 1)
    return HomePage(
        items,
        series_labels(storage, (link for item in items for link in item.links)),
        tuple(row.series for row in shows[:HOME_SERIES]),
        len(shows) > HOME_SERIES,
        page,
        len(summaries) > REVIEWS_PER_PAGE,
    )


def media(enclosure: Enclosure | None) -> Media | None:
    """The enclosure as a player's source, when it is an http(s) URL of audio or video
    (or of no stated type: most podcasts are audio, and the player says if it is not).

    >>> media(Enclosure("https://cdn.example/1.mp3", "audio/mpeg", 10)).video
    False
    >>> media(Enclosure("https://cdn.example/1.mp4", "video/mp4")).video
    True
    >>> media(Enclosure("javascript:alert(1)", "audio/mpeg")), media(None)
    (None, None)
    >>> media(Enclosure("https://cdn.example/1.pdf", "application/pdf"))
    """
    if enclosure is None or http_url(enclosure.url) is None:
        return None
    kind = (enclosure.type or "").split(";")[0].strip().lower()
    if kind and not kind.startswith(("audio/", "video/")):
        return None
    url = enclosure.url.strip()
    return Media(url, enclosure.type, enclosure.length, kind.startswith("video/"))


def series(storage: Storage, series_id: int, page: int, base_url: str) -> SeriesPage:
    row = storage.series_row(series_id)
    record = row.series
    episodes = storage.episodes_page(
        series_id=series_id, limit=EPISODES_PER_PAGE + 1, offset=(page - 1) * EPISODES_PER_PAGE
    )
    # Reviews of the series as a whole: its links that name no episode.
    series_links: dict[int, list[LinkRecord]] = defaultdict(list)
    for link in storage.list_links(series_id=series_id):
        if link.episode_id is None:
            series_links[link.review_id].append(link)
    # One query for the reviews, not one per review; newest first, as the links are.
    series_reviews = tuple(
        _review_item(review, series_links[review.id])
        for review in storage.get_reviews(list(series_links))
    )
    return SeriesPage(
        series=record,
        feeds=series_feeds(row, base_url),
        description=Markup(sanitize_html(record.description_html)),
        episodes=tuple(episodes[:EPISODES_PER_PAGE]),
        series_reviews=series_reviews,
        labels=series_labels(storage, (link for item in series_reviews for link in item.links)),
        page=page,
        more=len(episodes) > EPISODES_PER_PAGE,
    )


def episode(storage: Storage, episode_id: int) -> EpisodePage:
    record = storage.episode_row(episode_id).episode
    reviews = []
    for link in storage.list_links(episode_id=episode_id):
        review = storage.get_review(link.review_id)
        reviews.append(EpisodeReview(review, link, excerpt(review.text, evidence_spans([link]))))
    return EpisodePage(
        episode=record,
        series=storage.series_row(record.series_id).series,
        media=media(record.enclosure),
        description=Markup(sanitize_html(record.description_html)),
        reviews=tuple(reviews),
    )


def review(
    storage: Storage, review_id: int, *, with_forms: bool, series_id: int | None
) -> ReviewPage:
    """The review page; ``with_forms`` reads what the add-link form needs too.

    The form offers the episodes of ``series_id``, else of the review's first linked
    series, else of the first series.
    """
    record = storage.get_review(review_id)
    links = tuple(storage.list_links(review_id=review_id, include_rejected=True))
    text = highlight(record.text, evidence_spans(links))
    labels = series_labels(storage, links)
    sources = tuple(review_source_json(s) for s in storage.review_sources(review_id))
    if not with_forms:
        return ReviewPage(record, text, links, labels, (), None, (), sources)
    all_series = tuple(row.series for row in storage.series_page())
    by_id = {s.id: s for s in all_series}
    wanted = [series_id] if series_id is not None else [link.series_id for link in links]
    chosen = next((by_id[i] for i in wanted if i in by_id), all_series[0] if all_series else None)
    episodes = (
        tuple(row.episode for row in storage.episodes_page(series_id=chosen.id)) if chosen else ()
    )
    return ReviewPage(record, text, links, labels, all_series, chosen, episodes, sources)
