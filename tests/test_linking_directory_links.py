"""Links to a show's or an episode's page in a podcast directory (Apple Podcasts,
Google Podcasts, ...) link the review to that show or episode."""

from __future__ import annotations

import base64

import pytest

from aggregator.linking import Catalog, Linker
from aggregator.types import HyperLink, LinkProposal, Relation
from tests.test_linking_linker import (
    assert_evidence_spans,
    caliphate,
    connected,
    episodes,
    review,
    reviewed,
    serial,
)


@pytest.fixture(scope="module")
def linker() -> Linker:
    return Linker(Catalog.build([caliphate(), serial(), connected()]))


def anchored(text: str, anchor: str, href: str) -> HyperLink:
    start = text.index(anchor)
    return HyperLink(href, anchor, start, start + len(anchor))


def directory_evidence(proposals: list[LinkProposal], series_id: int) -> list[str]:
    return [
        e.detail
        for p in proposals
        if p.series_id == series_id
        for e in p.evidence
        if e.kind == "hyperlink"
    ]


APPLE_SHOW = "https://podcasts.apple.com/us/podcast/caliphate/id1379959217"
# An episode page: the slug is the episode's title, the show is only an Apple id.
APPLE_EPISODE = (
    "https://podcasts.apple.com/us/podcast/chapter-two-recruitment/id1379959217?i=1000409811"
)


def test_a_link_to_the_shows_directory_page_names_the_show(linker: Linker) -> None:
    # Nothing in the words says which show: "the Times' new series" fits several.
    text = (
        "My pick this week is the Times' new audio series about the men who joined the "
        "group, reported over many months. Subscribe on Apple Podcasts and start at the "
        "beginning; it rewards patience."
    )
    link = anchored(text, "Apple Podcasts", APPLE_SHOW)
    proposals = linker.link(review(text, "2018-05-20", links=(link,)))
    assert reviewed(proposals) == {1}
    assert any("Apple Podcasts page of the series" in d for d in directory_evidence(proposals, 1))
    assert_evidence_spans(text, proposals)
    # Without the link the same words link nothing to Caliphate.
    assert 1 not in reviewed(linker.link(review(text, "2018-05-20")))


def test_an_episode_page_names_the_episode_of_a_show_the_review_names(linker: Linker) -> None:
    text = (
        "Caliphate by Rukmini Callimachi keeps getting better. The recruitment chapter is "
        "the one to hear (link below).\n\nListen here"
    )
    link = anchored(text, "Listen here", APPLE_EPISODE)
    proposals = linker.link(review(text, "2018-05-20", links=(link,)))
    assert reviewed(proposals) == {1}
    assert episodes(proposals) == {102}  # "Chapter Two: Recruitment"
    episode = next(p for p in proposals if p.episode_id == 102)
    assert any(e.kind == "hyperlink" and "Apple Podcasts" in e.detail for e in episode.evidence)


def test_a_google_podcasts_page_names_the_feed(linker: Linker) -> None:
    feed = base64.urlsafe_b64encode(b"https://feeds.example.com/serial.xml").decode().rstrip("=")
    text = "Week by week, the case comes apart. Worth your commute: here."
    link = anchored(text, "here", f"https://podcasts.google.com/feed/{feed}")
    proposals = linker.link(review(text, "2014-10-20", links=(link,)))
    assert {p.series_id for p in proposals} == {2}
    assert any("Google Podcasts page" in d for d in directory_evidence(proposals, 2))
    # As sure as a link to the feed itself: the same relation and score.
    direct = anchored(text, "here", "https://feeds.example.com/serial.xml")
    (feed_link,) = linker.link(review(text, "2014-10-20", links=(direct,)))
    assert [(p.relation, p.score) for p in proposals] == [(feed_link.relation, feed_link.score)]


def test_a_directory_page_of_a_show_we_do_not_follow_links_nothing(linker: Linker) -> None:
    text = (
        "The Daily's week on the election was its best in years. Michael Barbaro lets "
        "the reporters talk. Listen on Apple Podcasts."
    )
    link = anchored(
        text, "Apple Podcasts", "https://podcasts.apple.com/us/podcast/the-daily/id1200361736"
    )
    proposals = linker.link(review(text, "2018-11-10", links=(link,)))
    assert [p for p in proposals if p.relation is Relation.REVIEWS] == []
