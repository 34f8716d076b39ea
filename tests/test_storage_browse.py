"""What the web pages browse by: series by name, reviews by author, authors, series by
id -- on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from aggregator.exceptions import InputError
from aggregator.storage import AuthorCount, Storage
from aggregator.types import FeedKind, Relation
from tests.fakes import T0, episode, feed, ok_update, review, series, text_hash
from tests.stored import series_records


def add_series(storage: Storage, host: str, title: str, author: str | None = None) -> int:
    feed_id = storage.add_feed(f"https://{host}/feed.xml", FeedKind.PODCAST, T0).id
    parsed = feed(episode(1, guid=f"urn:{host}:1"), show=series(title, author=author))
    storage.apply_poll(ok_update(feed_id, T0), parsed, T0)
    return next(s.id for s in series_records(storage) if s.feed_id == feed_id)


def save_review(storage: Storage, n: int, author: str | None) -> int:
    document = review(n, author=author)
    saved = storage.save_review(document, content_hash=text_hash(document), source="url", now=T0)
    return saved.review.id


@pytest.fixture
def shows(storage: Storage) -> dict[str, int]:
    return {
        "serial": add_series(storage, "serial.example", "Serial", "Serial Productions"),
        "serial2": add_series(storage, "other.example", "Serial", "Cereal Killers Club"),
        "tal": add_series(storage, "tal.example", "This American Life", "WBEZ Chicago"),
        "caliphate": add_series(storage, "nyt.example", "Caliphate", "The New York Times"),
        "strike": add_series(storage, "strike.example", "Ström & Öl", None),
    }


def titles(storage: Storage, query: str, **page: int) -> list[tuple[str, str | None]]:
    return [(r.series.title, r.series.author) for r in storage.search_series(query, **page)]


def test_series_are_found_by_word_starts_of_title_or_author(
    storage: Storage, shows: dict[str, int]
) -> None:
    # Both series titled "Serial", by title, then id (the order they were added).
    assert titles(storage, "serial") == [
        ("Serial", "Serial Productions"),
        ("Serial", "Cereal Killers Club"),
    ]
    assert titles(storage, "SER prod") == [("Serial", "Serial Productions")]
    assert titles(storage, "this am") == [("This American Life", "WBEZ Chicago")]
    assert titles(storage, "chicago") == [("This American Life", "WBEZ Chicago")]
    assert titles(storage, "york caliph") == [("Caliphate", "The New York Times")]
    # Any case, beyond ASCII too (SQLite's lower() folds ASCII only).
    assert titles(storage, "ÖL STRÖM") == [("Ström & Öl", None)]
    # A word inside another word is no match; every word must match.
    assert titles(storage, "rial") == []
    assert titles(storage, "serial chicago") == []


def test_series_search_pages_and_counts(storage: Storage, shows: dict[str, int]) -> None:
    assert titles(storage, "serial", limit=1) == [("Serial", "Serial Productions")]
    assert titles(storage, "serial", limit=1, offset=1) == [("Serial", "Cereal Killers Club")]
    assert titles(storage, "serial", limit=5, offset=2) == []
    (row,) = storage.search_series("caliphate")
    assert row.series.id == shows["caliphate"]
    assert row.series.episode_count == 1
    assert row.series.feed_url == "https://nyt.example/feed.xml"
    assert row.review_count == 0


def test_series_search_without_words_is_an_input_error(storage: Storage) -> None:
    with pytest.raises(InputError, match="no words"):
        storage.search_series(" !? ")


def test_shared_titles(storage: Storage, shows: dict[str, int]) -> None:
    assert storage.shared_series_titles() == {"Serial"}
    storage.remove_feed(storage.series_row(shows["serial2"]).series.feed_id)
    assert storage.shared_series_titles() == set()


def test_series_by_ids_skips_unknown_ids(storage: Storage, shows: dict[str, int]) -> None:
    found = storage.series_by_ids([shows["tal"], shows["serial"], 999_999, shows["tal"]])
    assert sorted(found) == sorted([shows["tal"], shows["serial"]])
    assert found[shows["tal"]].series.title == "This American Life"
    assert storage.series_by_ids([]) == {}


def test_reviews_by_author_and_the_authors(storage: Storage, shows: dict[str, int]) -> None:
    first = save_review(storage, 1, "Ann Critic")
    second = save_review(storage, 2, "Bo Writer")
    third = save_review(storage, 3, "Ann Critic")
    save_review(storage, 4, None)
    save_review(storage, 5, "")
    storage.add_link(first, shows["serial"], None, Relation.REVIEWS, T0)
    # Newest published first (review n is published T0 + n days).
    assert [r.id for r in storage.reviews_page(author="Ann Critic")] == [third, first]
    assert [r.id for r in storage.reviews_page(author="Ann Critic", limit=1, offset=1)] == [first]
    assert [r.id for r in storage.reviews_page(author="Bo Writer")] == [second]
    # The name exactly as the reviews give it.
    assert storage.reviews_page(author="ann critic") == []
    assert storage.reviews_page(author="Ann") == []
    # Most reviews first, then by name; reviews without an author are nobody's.
    assert storage.review_authors() == [AuthorCount("Ann Critic", 2), AuthorCount("Bo Writer", 1)]
    assert storage.review_authors(limit=1, offset=1) == [AuthorCount("Bo Writer", 1)]
