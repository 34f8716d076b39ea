"""The catalog index: built at once or series by series, replaced, emptied."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest

from aggregator.linking import Catalog, Linker
from aggregator.linking.episode_found import series_stats
from aggregator.linking.text import case_flags, tokenize
from aggregator.types import CatalogEpisode, CatalogSeries, LinkProposal, ReviewDocument
from tests.test_linking_linker import (
    CALIPHATE_REVIEW,
    START,
    caliphate,
    connected,
    review,
    serial,
)

REVIEWS = [
    review(CALIPHATE_REVIEW, "2018-05-20"),
    review("Serial, week three: Leakin Park, and Sarah Koenig's map.", "2014-10-19"),
    review("The debut of Connected has Federico, Myke and Stephen on the iPod.", "2014-08-22"),
]


def links(catalog: Catalog) -> list[list[tuple[int, int | None, str]]]:
    linker = Linker(catalog)
    return [[_key(p) for p in linker.link(r)] for r in REVIEWS]


def _key(p: LinkProposal) -> tuple[int, int | None, str]:
    return (p.series_id, p.episode_id, p.relation.value)


def test_order_of_building_does_not_matter() -> None:
    forward = Catalog.build([caliphate(), serial(), connected()])
    backward = Catalog.build([connected(), serial(), caliphate()])
    assert links(forward) == links(backward)
    assert {s.id for s in forward} == {1, 2, 3}


def test_remove_forgets_everything_and_put_brings_it_back() -> None:
    catalog = Catalog.build([caliphate(), serial(), connected()])
    before = links(catalog)
    catalog.remove(1)
    assert 1 not in catalog and len(catalog) == 2
    after = links(catalog)
    assert all(key[0] != 1 for found in after for key in found)
    # The host's name, the show's name and its links left the index with it.
    tokens = tokenize(CALIPHATE_REVIEW)
    hits = catalog.names.match(CALIPHATE_REVIEW, tokens, case_flags(CALIPHATE_REVIEW, tokens))
    assert "Rukmini Callimachi" not in {catalog.names.display(h.name_id) for h in hits}
    assert catalog.aliases_starting("caliphate") == []
    assert catalog.link_targets("audio.example.com/caliphate/1.mp3") == []
    catalog.put(caliphate())
    assert links(catalog) == before
    catalog.remove(99)  # unknown: no error


def test_put_replaces_a_series_after_a_poll() -> None:
    catalog = Catalog.build([caliphate(), serial(), connected()])
    text = "The latest Caliphate podcast from Rukmini Callimachi is the darkest one yet."
    first = Linker(catalog).score(review(text, "2018-06-01"))[0]
    assert max(first.episodes, key=lambda e: e[1])[0].episode.id == 104
    old = caliphate()
    newest = old.episodes[-1]
    chapter_five = CatalogEpisode(
        id=105,
        series_id=1,
        guid="cal-5",
        title="Chapter Five: The Heart",
        description_text="The sermon at the mosque, and the doubt that came after.",
        published=(newest.published or old.episodes[0].published) + timedelta(weeks=1),  # type: ignore[operator]
        number=6,
        episode_type="full",
    )
    catalog.put(replace(old, episodes=(*old.episodes, chapter_five)))
    assert len(catalog) == 3
    again = Linker(catalog).score(review(text, "2018-06-01"))[0]
    best = max(again.episodes, key=lambda e: e[1])[0]
    assert best.episode.id == 105
    assert best.features.relative == 1.0


def test_links_and_sites() -> None:
    catalog = Catalog.build([caliphate(), serial(), connected()])
    [target] = catalog.link_targets("serialpodcast.org/season-one/3/leakin-park")
    assert (target.series_id, catalog.series(2).episodes[target.episode_index or 0].id) == (2, 202)
    [site] = catalog.link_targets("relay.fm/connected")
    assert (site.series_id, site.episode_index) == (3, None)
    assert catalog.prefix_owners("serialpodcast.org") == {2}
    text = "This week's show"
    doc = ReviewDocument(text=text)
    assert Linker(catalog).link(doc) == []


def test_within_series_term_counts() -> None:
    catalog = Catalog.build([caliphate()])
    index = catalog.series(1).terms

    def counts(term: str) -> tuple[int, list[int]]:
        tid = catalog.known_term(term)
        assert tid is not None
        return index.df(tid), list(index.postings(tid))

    # Chapter notes 2 and 3 end "by the group"; notes 0 and 4 say "describes".
    assert counts("group") == (2, [2, 3])
    assert counts("describe") == (2, [0, 4])
    assert counts("recruitment") == (1, [2])  # a title's term
    unknown = max(catalog.known_term(t) or 0 for t in ("group", "describe")) + 10_000
    assert (index.df(unknown), list(index.postings(unknown))) == (0, [])


def test_title_words_that_are_no_terms_count_their_titles() -> None:
    titles = ["The Two Towers", "Two Doors Down", "Red Tower", "Blue Sky"]
    episodes = tuple(
        CatalogEpisode(
            id=10 + i,
            series_id=5,
            guid=f"t-{i}",
            title=title,
            description_text="",
            published=START + timedelta(days=i),
        )
        for i, title in enumerate(titles)
    )
    feed = "https://x.example/f.xml"
    show = CatalogSeries(id=5, title="Archive", feed_url=feed, episodes=episodes)
    catalog = Catalog.build([show])
    # "Two" is the title word "2", which no episode has as a retrieval term.
    assert catalog.series(5).title_only == {"2": 2}
    stats = series_stats(catalog.series(5))
    # Two of four episodes use each word: log(1 + 4/2) / log(1 + 4/1).
    assert stats.rarity("2", catalog) == pytest.approx(math.log(3) / math.log(5))
    assert stats.rarity("tower", catalog) == pytest.approx(math.log(3) / math.log(5))
    assert stats.rarity("sky", catalog) == 1.0


def _folgen_series() -> CatalogSeries:
    """A German show whose episodes are titled "Folge 1: ...", "Folge 2", ..."""
    episodes = tuple(
        CatalogEpisode(
            id=900 + i,
            series_id=9,
            guid=f"urn:example:gefaelscht:{i}",
            title=f"Folge {i}" + (f": {subtitle}" if subtitle else ""),
            description_text="Eine Recherche über gefälschte Tagebücher.",
            published=START + timedelta(weeks=i),
        )
        for i, subtitle in enumerate(["Der Fund", "", "Die Lüge", "", "Das Ende"], start=1)
    )
    return CatalogSeries(
        id=9, title="Das Tagebuch", feed_url="https://example.org/tagebuch.xml", episodes=episodes
    )


def test_a_word_for_episode_before_the_numbers_is_not_the_shows_name() -> None:
    # "Connected 185: ..." names the show before its number; "Folge 3: ..." only says
    # "episode". Read as a name, every German text about any series' "Folge 2" would
    # name this show, in its headline too.
    catalog = Catalog.build([_folgen_series(), connected()])
    assert catalog.aliases_starting("folge") == []
    assert [a for a, _, _ in catalog.aliases_starting("connected")] == [("connected",)]
    tv = review(
        "Eine Serie, Staffel 01, Folge 02\n\nWie schon in der ersten Folge ist die Serie "
        "brutal, aber die Figuren machen Spaß.",
        "2022-02-14",
    )
    assert [p for p in Linker(catalog).link(tv) if p.series_id == 9] == []
