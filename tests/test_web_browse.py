"""The browsing pages over a real server: header, lists, search, paging, the views of
episodes nobody reviewed and of one author's reviews, artwork, the audio player, and
the pages beside the combined feeds -- on each database backend.

The store (``webapp_support.browsing_site``): the web tests' Caliphate feed and two
reviews, two series titled "Serial" (publishers Serial Productions and Cereal Killers
Club, two episodes each, artwork and audio on a local feed server), and two reviews
by Ann Critic, the newer linked by hand to Serial Productions' first episode.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from aggregator.settings import HttpSettings
from aggregator.web import _listings
from tests.api_support import module_database
from tests.conftest import BACKENDS
from tests.stored import episode_records, series_records
from tests.test_web import FOUNDING_TITLE, TOKEN, Page, get_page, running_site
from tests.webapp_support import ANN, SERIAL_A, SERIAL_B, BrowsingSite, browsing_site


@pytest.fixture(scope="module", params=BACKENDS)
def browse(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowsingSite]:
    with (
        module_database(request.param, request, tmp_path_factory) as url,
        browsing_site(url) as site,
    ):
        yield site


def fetch(browse: BrowsingSite, path: str, status: int = 200, *, fresh: bool = False) -> Page:
    """``fresh``: for tests that patch page sizes under the running server, which
    keeps answers until the content changes (``httpcache``): ask for one made anew."""
    headers = {"Cache-Control": "no-cache"} if fresh else {}
    with httpx.Client(base_url=browse.base_url, timeout=10, headers=headers) as client:
        return get_page(client, path, status)


def attrs(page: Page, tag: str) -> list[dict[str, str | None]]:
    return [a for t, a in page.tags if t == tag]


def episode_ids(page: Page) -> list[int]:
    return [int(h.split("/")[2]) for h in page.hrefs() if h.startswith("/episodes/")]


def first_episode(browse: BrowsingSite, series_id: int) -> int:
    return min(e.id for e in episode_records(browse.site.app.storage, series_id))


# --- the header ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/", None),
        ("/series", "/series"),
        ("/series/1", "/series"),
        ("/episodes?reviewed=no", "/episodes"),
        ("/reviews", "/reviews"),
        ("/authors", "/reviews"),
        ("/feeds", "/feeds"),
        ("/search?q=serial", None),
    ],
)
def test_every_page_has_the_sections_and_a_search_box(
    browse: BrowsingSite, path: str, current: str | None
) -> None:
    page = fetch(browse, path)
    nav = [a for a in attrs(page, "a") if a.get("href") in ("/series", "/episodes", "/reviews")]
    assert [a["href"] for a in nav][:3] == ["/series", "/episodes", "/reviews"]
    assert "/feeds" in page.hrefs()
    marked = [a["href"] for a in attrs(page, "a") if a.get("aria-current") == "page"]
    assert marked[:1] == ([current] if current else [])
    assert "/search" in page.forms()
    (box,) = [a for a in attrs(page, "input") if a.get("id") == "site-search"]
    assert box["name"] == "q" and box["type"] == "search"
    labels = [a for a in attrs(page, "label") if a.get("for") == "site-search"]
    assert labels, "the search box has a label"


# --- series ----------------------------------------------------------------------------


def test_series_of_one_title_are_told_apart_with_their_artwork(browse: BrowsingSite) -> None:
    page = fetch(browse, "/series")
    text = page.text
    assert text.count("Serial") >= 2
    assert SERIAL_A in text and SERIAL_B in text
    hrefs = page.hrefs()
    assert f"/series/{browse.serial_a}" in hrefs and f"/series/{browse.serial_b}" in hrefs
    # Publisher before host, the series' own card: Serial A's text comes before B's
    # (both titled "Serial"; by title, then id).
    assert text.index(SERIAL_A) < text.index(SERIAL_B)
    assert "127.0.0.1" in text  # the feed host
    images = [a.get("src") for a in attrs(page, "img")]
    assert browse.server.url("/a/art.png") in images
    assert browse.server.url("/b/art.png") in images
    # Caliphate's feed has no artwork: a tile with its first letter instead.
    assert "C" in [s.strip() for s in page.text_parts]


def test_links_to_series_of_one_title_say_whose(browse: BrowsingSite) -> None:
    newer = browse.ann_reviews[0]
    page = fetch(browse, f"/reviews/{newer}")
    links = browse.site.app.storage.list_links(review_id=newer)
    assert any(link.series_id == browse.serial_a for link in links)
    assert f"({SERIAL_A} · 127.0.0.1)" in page.text
    # The Caliphate review's links name a title no other series has: no label.
    founding = fetch(browse, f"/reviews/{browse.site.founding_id}")
    assert "(The New York Times)" not in founding.text


# --- episodes --------------------------------------------------------------------------


def test_episodes_page_by_page(browse: BrowsingSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_listings, "EPISODES_PER_PAGE", 5)
    storage = browse.site.app.storage
    every = [row.episode.id for row in storage.episodes_page()]
    assert len(every) == 13 + 2 + 2
    seen: list[int] = []
    for n in range(1, 5):
        page = fetch(browse, f"/episodes?page={n}", fresh=True)
        ids = episode_ids(page)
        seen += ids
        assert len(ids) == (5 if n < 4 else 2)
        assert ("/episodes?page=" + str(n + 1) in page.hrefs()) == (n < 4)
        assert ("/episodes?page=" + str(n - 1) in page.hrefs()) == (n > 1)
    assert seen == every
    fetch(browse, "/episodes?page=0", 404)


def test_episodes_nobody_reviewed(browse: BrowsingSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_listings, "EPISODES_PER_PAGE", 5)
    storage = browse.site.app.storage
    unreviewed = {
        e.id
        for s in series_records(storage)
        for e in episode_records(storage, s.id)
        if not storage.list_links(episode_id=e.id)
    }
    reviewed_a = first_episode(browse, browse.serial_a)
    assert reviewed_a not in unreviewed and 0 < len(unreviewed) < 17
    shown: list[int] = []
    page = 1
    while True:
        listing = fetch(browse, f"/episodes?reviewed=no&page={page}", fresh=True)
        shown += episode_ids(listing)
        if f"/episodes?reviewed=no&page={page + 1}" not in listing.hrefs():
            break
        page += 1
    assert set(shown) == unreviewed and len(shown) == len(unreviewed)
    assert "Episodes not reviewed yet" in listing.text
    reviewed = episode_ids(fetch(browse, "/episodes?reviewed=yes", fresh=True))
    assert reviewed_a in reviewed and not set(reviewed) & unreviewed
    fetch(browse, "/episodes?reviewed=maybe", 404)


def test_the_episode_page_plays_the_enclosure(browse: BrowsingSite) -> None:
    page = fetch(browse, f"/episodes/{first_episode(browse, browse.serial_a)}")
    (audio,) = attrs(page, "audio")
    assert audio["src"] == browse.server.url("/a/ep1.wav")
    assert audio["preload"] == "none" and "controls" in audio
    assert browse.server.url("/a/ep1.wav") in page.hrefs()  # the download link
    assert "audio/wav" in page.text
    # Its series, told apart from the other "Serial", and the series' artwork.
    assert SERIAL_A in page.text and SERIAL_B not in page.text
    assert browse.server.url("/a/art.png") in [a.get("src") for a in attrs(page, "img")]


# --- reviews ---------------------------------------------------------------------------


def test_reviews_by_author(browse: BrowsingSite) -> None:
    page = fetch(browse, "/reviews?author=" + quote(ANN))
    ids = [int(h.split("/")[2]) for h in page.hrefs() if h.startswith("/reviews/")]
    assert ids == list(browse.ann_reviews)  # newest first
    assert f"Reviews by {ANN}" in page.text
    assert FOUNDING_TITLE not in page.text
    # The author's name links here from a review, and from the list of authors.
    target = "/reviews?author=" + quote(ANN)
    assert target in fetch(browse, f"/reviews/{browse.ann_reviews[1]}").hrefs()
    authors = fetch(browse, "/authors")
    assert target in authors.hrefs() and "2 reviews" in authors.text
    nobody = fetch(browse, "/reviews?author=Nobody")
    assert "No reviews by Nobody." in nobody.text


def test_all_reviews_newest_first(browse: BrowsingSite) -> None:
    page = fetch(browse, "/reviews")
    ids = [int(h.split("/")[2]) for h in page.hrefs() if h.startswith("/reviews/")]
    # Founding (2018), Ann's (Nov 2014, Oct 2014), the undated news story last.
    site = browse.site
    assert ids == [site.founding_id, *browse.ann_reviews, site.news_id]


# --- search ----------------------------------------------------------------------------


def test_search_finds_series_episodes_and_reviews(browse: BrowsingSite) -> None:
    page = fetch(browse, "/search?q=serial")
    hrefs = page.hrefs()
    assert f"/series/{browse.serial_a}" in hrefs and f"/series/{browse.serial_b}" in hrefs
    assert f"/reviews/{browse.ann_reviews[0]}" in hrefs
    assert f"/reviews/{browse.ann_reviews[1]}" in hrefs
    assert "Results for “serial”" in page.text
    (box,) = [a for a in attrs(page, "input") if a.get("id") == "site-search"]
    assert box["value"] == "serial"  # the box keeps the words

    alibi = fetch(browse, "/search?q=alibi")
    titles = alibi.text
    assert "Episode 01: The Alibi (a)" in titles and "Episode 01: The Alibi (b)" in titles
    # Each hit says which "Serial" it is from.
    assert SERIAL_A in titles and SERIAL_B in titles
    assert f"/reviews/{browse.ann_reviews[1]}" in alibi.hrefs()  # "...the alibi, week one"
    assert "No series." in titles


def test_search_pages_one_kind(browse: BrowsingSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_listings, "SEARCH_PREVIEW", 1)
    monkeypatch.setattr(_listings, "SEARCH_PER_PAGE", 1)
    page = fetch(browse, "/search?q=serial", fresh=True)
    assert "/search?q=serial&kind=series" in page.hrefs()  # "More series"
    first = fetch(browse, "/search?q=serial&kind=series", fresh=True)
    second = fetch(browse, "/search?q=serial&kind=series&page=2", fresh=True)
    assert f"/series/{browse.serial_a}" in first.hrefs()
    assert f"/series/{browse.serial_b}" in second.hrefs()
    assert "/search?q=serial&kind=series&page=2" in first.hrefs()
    assert "/search?q=serial&kind=series&page=3" not in second.hrefs()
    sections = [a.get("id") for t, a in first.tags if t == "h2"]
    assert sections == ["hits-series"]  # one kind only


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/search", 200, "Type words into the search box"),
        ("/search?q=%21%3F", 400, "Nothing to search for: the search query has no words"),
        ("/search?q=" + "a+" * 40, 400, "at most 32"),
        ("/search?q=" + "a" * 501, 400, "over 500 characters"),
        ("/search?q=x&kind=people", 404, "Not found"),
        ("/reviews?page=0", 404, "Not found"),
        ("/series?page=x", 404, "Not found"),
        ("/feeds/series/999999", 404, "There is no such series."),
        ("/feeds/series/abc", 404, "There is no page at this address."),
        ("/feeds/series/99999999999999999999", 404, "There is no such series."),
        ("/feeds/reviews?series=999999", 404, "There is no such series."),
        ("/static/nothing.js", 404, "There is no such file."),
    ],
)
def test_bad_addresses_get_a_page_that_says_why(
    browse: BrowsingSite, path: str, status: int, says: str
) -> None:
    assert says in fetch(browse, path, status).text


# --- the combined feeds ------------------------------------------------------------------


def test_the_series_page_gives_its_feeds_to_copy(browse: BrowsingSite) -> None:
    base, sid = browse.base_url, browse.serial_a
    page = fetch(browse, f"/series/{sid}")
    fields = {a["id"]: a for a in attrs(page, "input") if "readonly" in a}
    assert fields["feed-episodes"]["value"] == f"{base}/feeds/series/{sid}.xml"
    assert fields["feed-reviews"]["value"] == f"{base}/feeds/reviews.xml?series={sid}"
    buttons = [a for a in attrs(page, "button") if a.get("data-copy")]
    assert {b["data-copy"] for b in buttons} == {"feed-episodes", "feed-reviews"}
    assert f"/feeds/series/{sid}" in page.hrefs()
    # Feed readers and browsers find the feeds from the page.
    alternates = [a["href"] for a in attrs(page, "link") if a.get("rel") == "alternate"]
    assert alternates == [f"/feeds/series/{sid}.xml", f"/feeds/reviews.xml?series={sid}"]
    with httpx.Client(timeout=10) as client:
        for field in ("feed-episodes", "feed-reviews"):
            response = client.get(str(fields[field]["value"]))
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/rss+xml")


def test_the_pages_beside_the_feeds(browse: BrowsingSite) -> None:
    base, sid = browse.base_url, browse.serial_a
    page = fetch(browse, f"/feeds/series/{sid}")
    assert "Serial: the podcast feed with reviews" in page.text
    assert f"{base}/feeds/series/{sid}.xml" in page.hrefs()
    assert [a["value"] for a in attrs(page, "input") if a.get("id") == "feed-url"] == [
        f"{base}/feeds/series/{sid}.xml"
    ]
    assert set(episode_ids(page)) == {e.id for e in episode_records(browse.site.app.storage, sid)}

    reviews = fetch(browse, f"/feeds/reviews?series={sid}")
    assert f"{base}/feeds/reviews.xml?series={sid}" in reviews.hrefs()
    assert f"/reviews/{browse.ann_reviews[0]}" in reviews.hrefs()
    assert FOUNDING_TITLE not in reviews.text

    every = fetch(browse, "/feeds/reviews")
    assert f"/reviews/{browse.site.founding_id}" in every.hrefs()
    # The news story links to nothing, so the reviews feed leaves it out.
    assert f"/reviews/{browse.site.news_id}" not in every.hrefs()

    index = fetch(browse, "/feeds")
    values = [a["value"] for a in attrs(index, "input")]
    assert f"{base}/feeds/reviews.xml" in values
    for series_id in (browse.site.series_id, browse.serial_a, browse.serial_b):
        assert f"{base}/feeds/series/{series_id}.xml" in index.hrefs()
        assert f"/feeds/series/{series_id}" in index.hrefs()


def test_the_copy_script_is_served_with_the_pages_policy(browse: BrowsingSite) -> None:
    with httpx.Client(base_url=browse.base_url, timeout=10) as client:
        home = client.get("/")
        (script,) = [a for t, a in Page(home.text).tags if t == "script"]
        response = client.get(str(script["src"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "navigator.clipboard" in response.text
    policy = home.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert "media-src http: https:;" in policy


def test_private_reads_close_the_browsing_pages_too(tmp_path: Path) -> None:
    settings = HttpSettings(token=TOKEN, public_reads=False)
    with running_site(f"sqlite:///{tmp_path / 'a.db'}", settings) as site:
        closed = [
            "/series",
            "/episodes?reviewed=no",
            "/reviews?author=x",
            "/authors",
            "/search?q=caliphate",
            "/feeds",
            f"/feeds/series/{site.series_id}",
            "/feeds/reviews",
        ]
        with site.client() as client:
            for path in closed:
                response = client.get(path)
                assert response.status_code == 303, path
                assert response.headers["location"].startswith("/login?next=")
        with site.logged_in_client() as client:
            page = get_page(client, f"/feeds/series/{site.series_id}")
            # A podcast app must send the token too: the page says how.
            assert "give the token as the password" in page.text
            assert "Caliphate" in get_page(client, "/search?q=caliphate").text
