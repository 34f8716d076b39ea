"""Reviews that review nothing the linker could know: a clear abstention, no crash."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.evaluation.dataset import load_dataset
from aggregator.linking import Catalog, Linker
from aggregator.reviews.extract import extract_document
from aggregator.types import Relation

DEV = Path(__file__).resolve().parent / "data" / "linking"


@pytest.fixture(scope="module")
def linker() -> Linker:
    return Linker(Catalog.build(load_dataset(DEV).series))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("twenty-words.txt", b"I tried it on the train this morning and honestly it was fine, "
         b"nothing more to say, maybe later."),
        ("long.txt", ("a quiet afternoon walk by the river " * 28_000).encode()),
        ("cyrillic.txt", "Очень интересный выпуск, слушал всю дорогу до работы. " .encode() * 40),
        ("cjk.txt", "今日は長い散歩をして、川のそばで本を読みました。".encode() * 60),
        ("empty-page.html", b"<html><head><title></title></head><body><nav><a href='/'>Home"
         b"</a></nav><div></div><footer>&copy;</footer></body></html>"),
    ],
)  # fmt: skip
def test_text_about_nothing_known_gets_no_link(linker: Linker, name: str, data: bytes) -> None:
    review = extract_document(data, filename=name, published=datetime(2019, 5, 1, tzinfo=UTC))
    proposals = linker.link(review)
    assert not [p for p in proposals if p.relation is Relation.REVIEWS]


def test_a_name_alone_in_two_hundred_thousand_characters_is_read(linker: Linker) -> None:
    # The linker reads a bounded prefix of a huge review; a review of the show at the
    # start is still linked, and the rest costs nothing.
    head = "Caliphate, the New York Times podcast by Rukmini Callimachi, is gripping. "
    review = extract_document(
        (head * 3 + "filler words about nothing " * 8_000).encode(),
        filename="big.txt",
        published=datetime(2018, 7, 1, tzinfo=UTC),
    )
    assert len(review.text) >= 200_000
    reviewed = [p for p in linker.link(review) if p.relation is Relation.REVIEWS]
    assert reviewed and reviewed[0].episode_id is None


@pytest.mark.parametrize(
    "published",
    [
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59),  # naive, as a sloppy feed may give it
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_a_date_at_the_ends_of_the_calendar_still_links(
    linker: Linker, published: datetime
) -> None:
    # A review "dated" 9999-12-31 by a broken feed overflowed the linker's date slack
    # and failed its whole batch; it is read as dated as late as the calendar allows.
    text = "Caliphate, the New York Times podcast by Rukmini Callimachi, is gripping. " * 3
    review = extract_document(text.encode(), filename="r.txt", published=published)
    proposals = linker.link(review)
    reviewed = {p.series_id for p in proposals if p.relation is Relation.REVIEWS}
    assert reviewed or published.year == 1  # before the show began it cannot review it
