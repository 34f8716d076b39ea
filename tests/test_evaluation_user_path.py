"""`aggregator eval` measures what a user gets: the dev set through the service.

The owners measure the linker as a user would: feeds stored by a poll, each review
added through the reviews service (as `aggregator reviews add FILE --url --title
--published` does), the links read back from the database. `aggregator eval` links
the same files in memory. Had the two paths parted (a field lost on the way into the
database, a catalog built from stored values that differ from the parsed ones, one
review's arrival changing another's links), our figures would not be the figures
the owners see. Here both run on the development set and must agree link for link.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.evaluation.dataset import Dataset, load_dataset
from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.parse import parse_feed
from aggregator.linking import Catalog, Linker
from aggregator.reviews.service import Reviews
from aggregator.settings import FetchSettings
from aggregator.storage import Storage
from aggregator.types import FeedKind, Relation
from tests.fakes import ok_update
from tests.stored import episode_records

DEV = Path(__file__).resolve().parent / "data" / "linking"
NOW = datetime(2026, 12, 1, tzinfo=UTC)

# A link as both paths can name it: the catalog file, the episode's guid.
Named = tuple[str, str | None, Relation]


BLIND = Path(__file__).resolve().parent / "data" / "blind"
# Three batches of shows new to the catalog, tune part only (a failure names reviews
# and links): feeds written by other hands, HTML pages, German texts.
_NEWEST = ("g26-", "g27-", "g28-")


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_dataset(DEV)


@pytest.fixture(scope="module")
def newest() -> Dataset:
    tune, _ = load_dataset(BLIND).parts()
    return tune.subset(r.id for r in tune.reviews if r.id.startswith(_NEWEST))


@pytest.fixture
def service(storage: Storage) -> Iterator[Reviews]:
    with Fetcher(FetchSettings(), allow_file=False) as fetcher:
        yield Reviews(storage, fetcher, clock=lambda: NOW)


def _library(dataset: Dataset) -> dict[str, set[Named]]:
    linker = Linker(Catalog.build(dataset.series))
    return {
        r.id: {
            (
                dataset.files[p.series_id],
                dataset.guids[p.episode_id] if p.episode_id is not None else None,
                p.relation,
            )
            for p in linker.link(r.review)
        }
        for r in dataset.reviews
    }


def test_the_service_links_the_dev_set_as_eval_does(
    dataset: Dataset, storage: Storage, service: Reviews
) -> None:
    _compare(DEV, dataset, storage, service)


def test_the_service_links_new_blind_reviews_as_eval_does(
    newest: Dataset, storage: Storage, service: Reviews
) -> None:
    assert len(newest.reviews) >= 40
    _compare(BLIND, newest, storage, service)


def _compare(root: Path, dataset: Dataset, storage: Storage, service: Reviews) -> None:
    files: dict[int, str] = {}
    for path in sorted((root / "catalog").glob("*.xml")):
        feed = storage.add_feed(path.resolve().as_uri(), FeedKind.PODCAST, NOW)
        parsed = parse_feed(path.read_bytes(), url=feed.url)
        counts = storage.apply_poll(ok_update(feed.id, NOW), parsed, NOW)
        assert counts.series_id is not None
        files[counts.series_id] = path.name
    guids = {e.id: e.guid for sid in files for e in episode_records(storage, sid)}

    wanted = {r.id for r in dataset.reviews}
    labels = [
        item
        for item in json.loads((root / "labels.json").read_text(encoding="utf-8"))["reviews"]
        if item["id"] in wanted
    ]
    stored: dict[str, int] = {}
    for item in labels:
        path = root / "reviews" / item["file"]
        published = item.get("published")
        added = service.add(
            path.read_bytes(),
            source="file",
            filename=path.name,
            origin=str(path),
            url=item.get("url"),
            title=item.get("title"),
            author=item.get("author"),
            published=(
                datetime.strptime(published, "%Y-%m-%d").replace(tzinfo=UTC) if published else None
            ),
        )
        assert added.review.id is not None
        stored[item["id"]] = added.review.id
    # One review each: no two labelled reviews were taken for copies of one another.
    assert len(set(stored.values())) == len(labels)

    # Read back at the end, once every review is in: what a user's `links` shows.
    library = _library(dataset)
    for review_id, number in stored.items():
        got = {
            (
                files[x.series_id],
                guids[x.episode_id] if x.episode_id is not None else None,
                x.relation,
            )
            for x in storage.list_links(review_id=number)
        }
        assert got == library[review_id], review_id
