"""One review however it arrives: copies of a review in storage, on SQLite and PostgreSQL.

The copies are the hand-made ones of tests/data/copies (the founding review as its
blog page with headline and comment form, as a feed's item without them, and
re-published with another footer), through the real intake and fingerprints.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from aggregator import fingerprint
from aggregator.exceptions import NotFoundError
from aggregator.reviews.extract import extract_document, extract_html
from aggregator.storage import Storage, open_storage
from aggregator.types import FeedKind, Match, ReviewDocument, SavedReview
from tests.fakes import T0

DATA = Path(__file__).resolve().parent / "data"
COPIES = DATA / "copies"
LINKING = DATA / "linking" / "reviews"
ITEM_URL = "https://reviews.example.org/behind-the-scenes-of-the-islamic-state"
NINE_AM = T0.replace(hour=9)


def feed_item() -> ReviewDocument:
    html = (COPIES / "feed-item.html").read_text(encoding="utf-8")
    return extract_html(
        html, url=ITEM_URL, title="Behind the scenes of the Islamic State", published=NINE_AM
    )


def from_file(path: Path, **fields: Any) -> ReviewDocument:
    return replace(extract_document(path.read_bytes(), filename=path.name), **fields)


def save(
    storage: Storage,
    document: ReviewDocument,
    source: str,
    *,
    origin: str | None = None,
    feed_id: int | None = None,
    now: datetime = T0,
) -> SavedReview:
    return storage.save_review(
        document,
        content_hash=fingerprint.content_hash(document.text),
        sketch=fingerprint.sketch(document.text),
        source=source,
        origin=origin,
        feed_id=feed_id,
        now=now,
    )


def test_the_page_after_its_feed_item_is_one_review_with_the_richer_copy(
    storage: Storage,
) -> None:
    blog = storage.add_feed("https://reviews.example.org/feed", FeedKind.REVIEWS, T0).id
    item = save(storage, feed_item(), "feed", feed_id=blog)
    assert item.created
    page = from_file(COPIES / "page.html", published=T0.replace(hour=0))
    saved = save(storage, page, "file", origin="/home/me/page.html", now=T0 + timedelta(hours=1))

    assert saved.review.id == item.review.id
    assert (saved.match, saved.source_added, saved.took_text) == (Match.NEAR_TEXT, True, True)
    kept = storage.get_review(item.review.id)
    assert kept.text == page.text  # the longer copy: with its headline
    assert kept.text.startswith("Behind the scenes of the Islamic State")
    assert kept.published == T0.replace(hour=0)  # the earlier date
    assert kept.url == ITEM_URL  # the page file had none; the item's stays
    assert (kept.feed_id, kept.source) == (blog, "feed")
    assert storage.review_count() == 1
    sources = [(s.kind, s.location, s.feed_id) for s in storage.review_sources(kept.id)]
    assert sources == [("feed", ITEM_URL, blog), ("file", "/home/me/page.html", None)]


def test_a_shorter_copy_changes_nothing_the_linker_reads(storage: Storage) -> None:
    page = from_file(COPIES / "page.html", published=T0)
    first = save(storage, page, "file", origin="/home/me/page.html").review
    storage.replace_links(first.id, [], linker_version="v1", now=T0)
    bare = replace(feed_item(), url=None, published=None, title=None)
    saved = save(storage, bare, "stdin")
    assert (saved.match, saved.source_added, saved.took_text) == (Match.NEAR_TEXT, True, False)
    assert saved.changed is False
    kept = storage.get_review(first.id)
    assert kept.text == page.text
    assert kept.linker_version == "v1"  # not due for linking again
    assert storage.reviews_needing_link("v1", limit=10) == []


def test_a_republished_copy_with_another_footer_is_the_same_review(storage: Storage) -> None:
    original = from_file(COPIES / "with-author-note.txt", url="https://blog.example/r")
    copy = from_file(COPIES / "republished.txt", url="https://weekly.example/r")
    first = save(storage, original, "url").review
    saved = save(storage, copy, "url")
    assert (saved.review.id, saved.match, saved.source_added) == (first.id, Match.NEAR_TEXT, True)
    assert storage.review_count() == 1
    # Each address finds the one review.
    assert storage.find_review("https://weekly.example/r").id == first.id
    assert storage.find_review("https://blog.example/r").id == first.id


def test_the_same_long_text_at_two_addresses_is_one_review(storage: Storage) -> None:
    seed = from_file(LINKING / "seed.txt")
    a = save(storage, replace(seed, url="https://a.example/r"), "url")
    b = save(storage, replace(seed, url="https://b.example/r"), "url")
    assert (b.review.id, b.match, b.source_added) == (a.review.id, Match.TEXT, True)
    assert b.review.url == "https://a.example/r"
    assert storage.find_review("https://b.example/r").id == a.review.id


def test_two_reviews_of_one_show_stay_two(storage: Storage) -> None:
    ids = {
        save(storage, from_file(LINKING / name), "file", origin=name).review.id
        for name in ("seed.txt", "cal-vs-serial.txt", "a-cal-longread.html", "cal-sixth.txt")
    }
    assert len(ids) == 4
    assert storage.review_count() == 4


def test_a_copy_again_from_its_own_source_changes_nothing(storage: Storage) -> None:
    page = from_file(COPIES / "page.html")
    first = save(storage, page, "file", origin="/home/me/page.html")
    again = save(storage, page, "file", origin="/home/me/page.html", now=T0 + timedelta(days=1))
    assert (again.match, again.source_added, again.changed) == (Match.TEXT, False, False)
    assert again.review.updated_at == first.review.updated_at
    assert len(storage.review_sources(first.review.id)) == 1


def test_a_source_known_by_the_text_it_brought(storage: Storage) -> None:
    """The item's text is no longer the review's (the page's longer one is), yet the
    item sent again is known: the same text as that source brought."""
    save(storage, feed_item(), "feed")
    save(storage, from_file(COPIES / "page.html"), "file", origin="/home/me/page.html")
    again = save(storage, replace(feed_item(), url=None), "stdin")
    assert (again.match, again.source_added, again.changed) == (Match.TEXT, True, False)


def test_the_source_whose_copy_is_held_may_edit_it(storage: Storage) -> None:
    page = from_file(COPIES / "page.html")
    save(storage, feed_item(), "feed")
    taken = save(storage, page, "file", origin="/home/me/page.html")
    assert taken.took_text
    # The same file, edited: a sentence cut. Shorter, but the review's own copy.
    cut = page.text.replace(" Don’t expect any clear-cut answers;", "")
    assert cut != page.text
    edited = save(storage, replace(page, text=cut), "file", origin="/home/me/page.html")
    assert (edited.match, edited.source_added, edited.changed) == (Match.NEAR_TEXT, False, True)
    assert storage.get_review(taken.review.id).text == cut


def test_deleting_a_review_takes_its_sources_and_bands(storage: Storage) -> None:
    first = save(storage, feed_item(), "feed").review
    save(storage, from_file(COPIES / "page.html"), "file", origin="/p.html")
    storage.delete_review(first.id)
    with pytest.raises(NotFoundError):
        storage.review_sources(first.id)
    engine = create_engine(storage.url)
    try:
        with engine.connect() as connection:
            for table in ("review_source", "review_band"):
                assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0
    finally:
        engine.dispose()
    # ... and the same text afterwards is a new review.
    assert save(storage, feed_item(), "feed").created


def test_copies_saved_at_once_by_several_instances_are_one_review(storage: Storage) -> None:
    """Each instance its own Storage on the one database: the band hashes are in the
    database, and saves take turns, so no two copies become two reviews."""
    copies = [
        (feed_item(), "feed", None),
        (from_file(COPIES / "page.html"), "file", "/a/page.html"),
        (from_file(COPIES / "republished.txt"), "file", "/a/republished.txt"),
        (from_file(COPIES / "with-author-note.txt"), "file", "/a/note.txt"),
        (from_file(LINKING / "seed.txt"), "stdin", None),
    ]
    stores = [open_storage(storage.url) for _ in copies]
    start = threading.Barrier(len(copies))
    results: list[SavedReview] = []
    errors: list[BaseException] = []

    def add(index: int) -> None:
        document, source, origin = copies[index]
        try:
            start.wait()
            results.append(save(stores[index], document, source, origin=origin))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(len(copies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert storage.review_count() == 1
    assert sum(r.created for r in results) == 1
    assert len(storage.review_sources(results[0].review.id)) == len(copies)


THREAD = "https://forum.example.org/t/caliphate-podcast-thoughts"


def test_different_posts_at_one_address_are_different_reviews(storage: Storage) -> None:
    """A forum thread's posts, a directory page's listener reviews: one address, each
    post its own review (before, the second post replaced the first's text)."""
    first = ReviewDocument(
        text="Finished Caliphate last night. Callimachi's reporting from Mosul is the best "
        "part, and the last chapter is hard to shake.",
        url=THREAD,
    )
    second = ReviewDocument(
        text="I gave up after three episodes: too much music, too little news, and the "
        "producer asks the same question over and over.",
        url=THREAD,
    )
    a = save(storage, first, "file", origin="/home/me/post1.txt")
    b = save(storage, second, "file", origin="/home/me/post2.txt")
    assert a.created and b.created
    assert a.review.id != b.review.id
    assert {storage.get_review(a.review.id).text, storage.get_review(b.review.id).text} == {
        first.text,
        second.text,
    }
    assert storage.get_review(b.review.id).url == THREAD
    # The first post sent again is still the first review.
    again = save(storage, first, "url")
    assert (again.review.id, again.match) == (a.review.id, Match.ADDRESS)


def test_an_excerpt_or_an_edit_at_one_address_is_the_same_review(storage: Storage) -> None:
    page = replace(from_file(COPIES / "page.html"), url=ITEM_URL)
    stored = save(storage, page, "url")
    # A feed's excerpt of the page: its first sentences, from another source.
    excerpt = replace(page, text=" ".join(page.text.split()[:40]))
    assert fingerprint.sketch(excerpt.text) is None  # too short for MinHash: by address
    seen = save(storage, excerpt, "feed")
    assert (seen.review.id, seen.match) == (stored.review.id, Match.ADDRESS)
    # The page rewritten by its author, fetched again: the same source, an update.
    rewritten = replace(page, text="Updated: I was wrong about the ending. " + page.text[200:])
    updated = save(storage, rewritten, "url")
    assert (updated.review.id, updated.changed) == (stored.review.id, True)
    assert storage.review_count() == 1
