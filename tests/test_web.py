"""Web pages over a real uvicorn server, with a store filled through the real pipeline.

The store: the example *Caliphate* feed polled from a file URL, the founding review
(published 2018-07-01) and a news story about Baghuz that names no podcast. Reads
share one site per module; tests that change links get a fresh one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from aggregator.app import App, make_app
from aggregator.server import create_http_app
from aggregator.settings import HttpSettings, Settings
from aggregator.types import FeedKind, LinkRecord, LinkStatus, Relation
from tests.stored import episode_records, series_records

REPO = Path(__file__).resolve().parents[1]
CALIPHATE_FEED = REPO / "examples" / "feeds" / "caliphate.xml"
FOUNDING_REVIEW = REPO / "tests" / "data" / "linking" / "reviews" / "seed.txt"
NEWS_NEGATIVE = REPO / "tests" / "data" / "linking" / "reviews" / "neg-baghuz.txt"
FOUNDING_TITLE = "Behind the scenes of the Islamic State: Who are we really fighting?"
NEWS_TITLE = "Last IS enclave falls in eastern Syria"
TOKEN = "correct horse battery staple"


# --- a real server -----------------------------------------------------------------


@contextmanager
def serve(http_app: FastAPI) -> Iterator[str]:
    """Serve ``http_app`` with uvicorn on a free port of 127.0.0.1; yields its base URL."""
    config = uvicorn.Config(
        http_app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- a store filled through the pipeline ---------------------------------------------


@dataclass(frozen=True)
class Site:
    app: App
    base_url: str
    founding_id: int
    news_id: int
    series_id: int

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10)

    @contextmanager
    def logged_in_client(self) -> Iterator[httpx.Client]:
        with self.client() as client:
            response = client.post(
                "/login", data={"token": TOKEN, "next": "/"}, headers={"Origin": self.base_url}
            )
            assert response.status_code == 303, response.text
            yield client


def fill(app: App) -> tuple[int, int, int]:
    """Poll the Caliphate feed and add the two reviews; (founding, news, series) ids."""
    feed = app.storage.add_feed(CALIPHATE_FEED.as_uri(), FeedKind.PODCAST, app.clock())
    report = app.poller.poll_feed(feed)
    assert not report.failed, report.line()
    founding = app.reviews.add(
        FOUNDING_REVIEW.read_bytes(),
        source="file",
        filename=FOUNDING_REVIEW.name,
        published=datetime(2018, 7, 1, tzinfo=UTC),
    )
    news = app.reviews.add(NEWS_NEGATIVE.read_bytes(), source="file", filename=NEWS_NEGATIVE.name)
    (series,) = series_records(app.storage)
    return founding.review.id, news.review.id, series.id


@contextmanager
def running_site(database_url: str, http: HttpSettings | None = None) -> Iterator[Site]:
    settings = Settings(database_url=database_url, http=http or HttpSettings(token=TOKEN))
    with make_app(settings) as app:
        founding_id, news_id, series_id = fill(app)
        with serve(create_http_app(app)) as base_url:  # the service's own composition
            yield Site(app, base_url, founding_id, news_id, series_id)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    path = tmp_path_factory.mktemp("web") / "site.db"
    with running_site(f"sqlite:///{path}") as running:
        yield running


@pytest.fixture
def fresh(database_url: str) -> Iterator[Site]:
    """A site of its own, on each database backend, for tests that change links."""
    with running_site(database_url) as running:
        yield running


# --- reading HTML ------------------------------------------------------------------


class Page(HTMLParser):
    """The parts of a page the tests look at: tags with attributes, marks, text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.marks: list[tuple[str, str]] = []  # (text inside, title)
        self.text_parts: list[str] = []
        self._open_marks: list[tuple[list[str], str]] = []
        self._in_review_text = 0
        self.review_text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "mark":
            self._open_marks.append(([], attributes.get("title") or ""))
        if self._in_review_text:
            self._in_review_text += tag == "div"
        elif tag == "div" and attributes.get("class") == "review-text":
            self._in_review_text = 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark" and self._open_marks:
            parts, title = self._open_marks.pop()
            self.marks.append(("".join(parts), title))
        if tag == "div" and self._in_review_text:
            self._in_review_text -= 1

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)
        for parts, _ in self._open_marks:
            parts.append(data)
        if self._in_review_text:
            self.review_text.append(data)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def hrefs(self) -> list[str]:
        return [a.get("href") or "" for tag, a in self.tags if tag == "a"]

    def forms(self) -> list[str]:
        return [a.get("action") or "" for tag, a in self.tags if tag == "form"]


def get_page(client: httpx.Client, path: str, status: int = 200) -> Page:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    return Page(response.text)


# --- pages -------------------------------------------------------------------------


def test_home_shows_recent_reviews_with_their_links_and_the_series(site: Site) -> None:
    with site.client() as client:
        response = client.get("/")
        page = Page(response.text)
    assert response.status_code == 200
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in response.text
    text = page.text
    # Newest first; the undated news story last.
    assert FOUNDING_TITLE in text and NEWS_TITLE in text
    assert text.index(FOUNDING_TITLE) < text.index(NEWS_TITLE)
    assert "1 Jul 2018" in text
    hrefs = page.hrefs()
    assert f"/reviews/{site.founding_id}" in hrefs
    assert f"/reviews/{site.news_id}" in hrefs
    links = site.app.storage.list_links(review_id=site.founding_id)
    assert any(link.episode_id is None and link.series_title == "Caliphate" for link in links)
    for link in links:
        target = f"/episodes/{link.episode_id}" if link.episode_id else f"/series/{link.series_id}"
        assert target in hrefs
    assert site.app.storage.list_links(review_id=site.news_id) == []
    assert "Not linked to any series." in text
    # The series list, with the feed's episode count (13 items in the example feed).
    assert "13 episodes" in text
    assert text.count("Caliphate") >= 2


def test_series_page_lists_every_episode_with_review_counts(site: Site) -> None:
    with site.client() as client:
        page = get_page(client, f"/series/{site.series_id}")
    episode_links = [h for h in page.hrefs() if h.startswith("/episodes/")]
    assert len(episode_links) == 13
    for title in (
        "Prologue: The Mission",
        "Chapter One: The Reporter",
        "Chapter Ten: One Year Later",
    ):
        assert title in page.text
    linked = [
        link
        for link in site.app.storage.list_links(review_id=site.founding_id)
        if link.episode_id is not None
    ]
    assert linked, "the founding review links an episode (its 'last episode')"
    assert page.text.count("1 review") == len(linked)
    # The review linked to the series as a whole is shown with the series.
    assert "Reviews of the series" in page.text
    assert f"/reviews/{site.founding_id}" in page.hrefs()


def test_episode_page_shows_its_reviews_with_excerpt_and_score(site: Site) -> None:
    link = next(
        link
        for link in site.app.storage.list_links(review_id=site.founding_id)
        if link.episode_id is not None
    )
    with site.client() as client:
        page = get_page(client, f"/episodes/{link.episode_id}")
    assert link.episode_title and link.episode_title in page.text
    assert FOUNDING_TITLE in page.text
    assert f"/reviews/{site.founding_id}" in page.hrefs()
    assert f"/series/{site.series_id}" in page.hrefs()
    assert f"{round(link.score * 100)}%" in page.text
    assert "Reviews (1)" in page.text
    # The excerpt marks the evidence of this link.
    evidence = {e.text for e in link.evidence if e.start >= 0}
    assert any(text in evidence for text, _ in page.marks)


def test_episode_page_of_an_episode_without_reviews(site: Site) -> None:
    prologue = next(
        e
        for e in episode_records(site.app.storage, site.series_id)
        if e.title.startswith("Prologue")
    )
    with site.client() as client:
        page = get_page(client, f"/episodes/{prologue.id}")
    assert "Prologue: The Mission" in page.text
    assert "No reviews of this episode yet." in page.text
    assert "Show notes" in page.text


def test_review_page_highlights_the_evidence_and_lists_the_links(site: Site) -> None:
    review = site.app.storage.get_review(site.founding_id)
    links = site.app.storage.list_links(review_id=site.founding_id)
    with site.client() as client:
        page = get_page(client, f"/reviews/{site.founding_id}")
    # The text shown, tags removed, is the review's text exactly.
    assert "".join(page.review_text) == review.text
    marked = dict(page.marks)
    assert "Challimachi" in marked
    assert "host Rukmini Callimachi" in marked["Challimachi"]
    assert "→ Caliphate" in marked["Challimachi"]
    assert "Caliphate" in marked
    # "Times" inside "the New York Times": a mark nested in a mark.
    assert "the New York Times" in marked and "Times" in marked
    for link in links:
        assert ("li", {"id": f"link-{link.id}", "class": ""}) in page.tags
    # Not logged in: no forms that change links, and the way to log in.
    assert not [
        f for f in page.forms() if f.startswith(("/links/", f"/reviews/{site.founding_id}"))
    ]
    assert "Log in to change links." in page.text


def test_stylesheet_and_security_headers(site: Site) -> None:
    with site.client() as client:
        home = client.get("/")
        css = client.get("/static/style.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "@media" in css.text  # the phone layout
    assert "/static/style.css?v=" in home.text
    policy = home.headers["content-security-policy"]
    directives = dict(d.strip().partition(" ")[::2] for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    # Scripts only from our own files: nothing inline, nothing injected runs.
    assert directives["script-src"] == "'self'"
    scripts = [a for tag, a in Page(home.text).tags if tag == "script"]
    assert scripts and all((a.get("src") or "").startswith("/static/") for a in scripts)
    assert home.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/reviews/999999",
        "/reviews/abc",
        "/reviews/99999999999999999999999999",
        "/reviews/-1",
        "/series/424242",
        "/series/1?page=0",
        "/episodes/999999",
        "/episodes/١",  # an Arabic-Indic digit: int() would take it
        "/?page=x",
        "/no/such/page",
        "/<script>alert(1)</script>",
    ],
)
def test_unknown_ids_are_a_404_page(site: Site, path: str) -> None:
    with site.client() as client:
        page = get_page(client, path, status=404)
    assert "Not found" in page.text
    assert "/" in page.hrefs()


def test_unknown_api_paths_answer_the_api_s_json_error(site: Site) -> None:
    with site.client() as client:
        response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"error": "no such endpoint: /api/no-such-thing"}


# --- logging in --------------------------------------------------------------------


def test_login_sets_a_strict_httponly_cookie_only_for_the_right_token(site: Site) -> None:
    with site.client() as client:
        wrong = client.post(
            "/login", data={"token": "guess", "next": "/"}, headers={"Origin": site.base_url}
        )
        assert wrong.status_code == 403
        assert "set-cookie" not in wrong.headers
        assert "That is not the token." in wrong.text
        right = client.post(
            "/login",
            data={"token": TOKEN, "next": f"/reviews/{site.founding_id}"},
            headers={"Origin": site.base_url},
        )
    assert right.status_code == 303
    assert right.headers["location"] == f"/reviews/{site.founding_id}"
    cookie = right.headers["set-cookie"]
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    assert TOKEN not in cookie and "staple" not in cookie


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_to_another_site(site: Site, target: str) -> None:
    with site.client() as client:
        response = client.post(
            "/login", data={"token": TOKEN, "next": target}, headers={"Origin": site.base_url}
        )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_logged_in_review_page_has_the_forms(site: Site) -> None:
    links = site.app.storage.list_links(review_id=site.founding_id)
    with site.logged_in_client() as client:
        page = get_page(client, f"/reviews/{site.founding_id}")
    forms = page.forms()
    for link in links:
        assert f"/links/{link.id}/confirm" in forms
        assert f"/links/{link.id}/reject" in forms
    assert f"/reviews/{site.founding_id}/links" in forms
    assert "/logout" in forms
    # The add form offers the series' 13 episodes and the series as a whole.
    options = [a.get("value") for tag, a in page.tags if tag == "option"]
    episode_ids = {str(e.id) for e in episode_records(site.app.storage, site.series_id)}
    assert episode_ids <= set(options)
    assert "" in options
    assert {r.value for r in Relation} <= set(options)


# --- changing links ----------------------------------------------------------------


def test_confirm_survives_relinking_and_reject_hides_the_link(fresh: Site) -> None:
    storage = fresh.app.storage
    series_link, episode_link = _series_and_episode_link(fresh)
    with fresh.logged_in_client() as client:
        origin = {"Origin": fresh.base_url}
        response = client.post(f"/links/{series_link.id}/confirm", headers=origin)
        assert response.status_code == 303
        assert response.headers["location"].startswith(f"/reviews/{fresh.founding_id}?done=")
        assert storage.list_links(review_id=fresh.founding_id)[0].status is LinkStatus.CONFIRMED

        response = client.post(f"/links/{episode_link.id}/reject", headers=origin)
        assert response.status_code == 303
        page = get_page(client, response.headers["location"])
        assert "Link rejected" in page.text
        assert ("li", {"id": f"link-{episode_link.id}", "class": "rejected"}) in page.tags
        # A rejected link's evidence is no longer marked in the text.
        only_episode = {e.text for e in episode_link.evidence} - {
            e.text for e in series_link.evidence
        }
        assert only_episode and not only_episode & {text for text, _ in page.marks}
        home = get_page(client, "/")
        assert f"/episodes/{episode_link.episode_id}" not in home.hrefs()

    # Re-linking (as a new linker version would) keeps both decisions.
    fresh.app.reviews.relink(storage.get_review(fresh.founding_id))
    statuses = {
        link.id: link.status
        for link in storage.list_links(review_id=fresh.founding_id, include_rejected=True)
    }
    assert statuses[series_link.id] is LinkStatus.CONFIRMED
    assert statuses[episode_link.id] is LinkStatus.REJECTED


def test_add_a_link_by_hand(fresh: Site) -> None:
    storage = fresh.app.storage
    chapter_two = next(
        e for e in episode_records(storage, fresh.series_id) if e.title.startswith("Chapter Two")
    )
    with fresh.logged_in_client() as client:
        response = client.post(
            f"/reviews/{fresh.news_id}/links",
            data={
                "series": str(fresh.series_id),
                "episode": str(chapter_two.id),
                "relation": "mentions",
            },
            headers={"Origin": fresh.base_url},
        )
        assert response.status_code == 303
        page = get_page(client, response.headers["location"])
    (link,) = storage.list_links(review_id=fresh.news_id)
    assert (link.series_id, link.episode_id, link.relation, link.status) == (
        fresh.series_id,
        chapter_two.id,
        Relation.MENTIONS,
        LinkStatus.MANUAL,
    )
    assert "Link added." in page.text
    assert f"/episodes/{chapter_two.id}" in page.hrefs()
    assert "manual" in page.text
    # A hand-made link survives re-linking, though the linker finds nothing.
    fresh.app.reviews.relink(storage.get_review(fresh.news_id))
    assert [x.id for x in storage.list_links(review_id=fresh.news_id)] == [link.id]


@pytest.mark.parametrize(
    "form",
    [
        {"series": "", "episode": "", "relation": "reviews"},
        {"series": "1", "episode": "", "relation": "likes"},
        {"series": "1", "episode": "x", "relation": "reviews"},
        {},
    ],
)
def test_add_link_with_a_bad_form_is_refused(site: Site, form: dict[str, str]) -> None:
    with site.logged_in_client() as client:
        response = client.post(
            f"/reviews/{site.news_id}/links", data=form, headers={"Origin": site.base_url}
        )
    assert response.status_code == 400
    assert "Not added" in response.text
    assert site.app.storage.list_links(review_id=site.news_id) == []


def test_add_link_to_an_episode_of_another_series_is_not_found(site: Site) -> None:
    with site.logged_in_client() as client:
        response = client.post(
            f"/reviews/{site.news_id}/links",
            data={"series": str(site.series_id), "episode": "987654", "relation": "reviews"},
            headers={"Origin": site.base_url},
        )
    assert response.status_code == 404
    assert site.app.storage.list_links(review_id=site.news_id) == []


def test_writes_need_a_login(site: Site) -> None:
    (link, *_) = site.app.storage.list_links(review_id=site.founding_id)
    with site.client() as client:
        response = client.post(f"/links/{link.id}/reject", headers={"Origin": site.base_url})
    assert response.status_code == 403
    assert "Log in to change links." in response.text
    assert site.app.storage.list_links(review_id=site.founding_id)[0].status is link.status


@pytest.mark.parametrize(
    "headers",
    [
        {},  # neither Origin nor Referer
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
    ],
)
def test_posts_from_other_sites_are_refused(site: Site, headers: dict[str, str]) -> None:
    (link, *_) = site.app.storage.list_links(review_id=site.founding_id)
    with site.logged_in_client() as client:
        response = client.post(f"/links/{link.id}/reject", headers=headers)
        assert response.status_code == 403
        assert "not sent from a page of this site" in response.text
        login = client.post("/login", data={"token": TOKEN}, headers=headers)
        assert login.status_code == 403
    assert site.app.storage.list_links(review_id=site.founding_id)[0].status is link.status


def test_a_same_site_referer_is_enough_without_origin(fresh: Site) -> None:
    (link, *_) = fresh.app.storage.list_links(review_id=fresh.founding_id)
    with fresh.logged_in_client() as client:
        response = client.post(
            f"/links/{link.id}/confirm",
            headers={"Referer": f"{fresh.base_url}/reviews/{fresh.founding_id}"},
        )
    assert response.status_code == 303
    assert fresh.app.storage.list_links(review_id=fresh.founding_id)[0].status is (
        LinkStatus.CONFIRMED
    )


def test_without_a_token_nothing_can_be_changed(tmp_path: Path) -> None:
    with running_site(f"sqlite:///{tmp_path / 'a.db'}", HttpSettings(token=None)) as site:
        (link, *_) = site.app.storage.list_links(review_id=site.founding_id)
        with site.client() as client:
            login_page = get_page(client, "/login")
            assert "No token is configured" in login_page.text
            assert "/login" not in login_page.forms()
            login = client.post("/login", data={"token": ""}, headers={"Origin": site.base_url})
            assert login.status_code == 403 and "set-cookie" not in login.headers
            response = client.post(f"/links/{link.id}/reject", headers={"Origin": site.base_url})
            assert response.status_code == 403
            assert "Changes are disabled" in response.text
            review = get_page(client, f"/reviews/{site.founding_id}")
            assert "Log in" not in review.text
        assert site.app.storage.list_links(review_id=site.founding_id)[0].status is link.status


def test_private_reads_send_to_the_login_page(tmp_path: Path) -> None:
    settings = HttpSettings(token=TOKEN, public_reads=False)
    with running_site(f"sqlite:///{tmp_path / 'a.db'}", settings) as site:
        path = f"/reviews/{site.founding_id}"
        with site.client() as client:
            for closed in ("/", path, f"/series/{site.series_id}"):
                response = client.get(closed)
                assert response.status_code == 303
                assert response.headers["location"].startswith("/login?next=")
                assert FOUNDING_TITLE not in response.text
            login = get_page(client, f"/login?next={path}")
            assert ("input", {"type": "hidden", "name": "next", "value": path}) in login.tags
        with site.logged_in_client() as client:
            assert FOUNDING_TITLE in get_page(client, path).text


def _series_and_episode_link(site: Site) -> tuple[LinkRecord, LinkRecord]:
    links = site.app.storage.list_links(review_id=site.founding_id)
    series_link = next(link for link in links if link.episode_id is None)
    episode_link = next(link for link in links if link.episode_id is not None)
    return series_link, episode_link


def test_a_review_from_the_web_links_to_its_site(fresh: Site) -> None:
    added = fresh.app.reviews.add(
        b"Caliphate, the podcast by Rukmini Callimachi, is gripping.",
        source="url",
        filename="r.txt",
        url="https://www.example.com/reviews/caliphate",
        author="A. Critic",
        published=datetime(2019, 1, 5, tzinfo=UTC),
    )
    with fresh.client() as client:
        page = get_page(client, f"/reviews/{added.review.id}")
    assert "https://www.example.com/reviews/caliphate" in page.hrefs()
    assert "example.com" in page.text and "A. Critic" in page.text and "5 Jan 2019" in page.text


def test_a_copy_from_elsewhere_is_one_review_listing_its_sources(fresh: Site) -> None:
    """The founding review's feed copy (no headline) arrives after the file: the home
    page lists the review once, and its page says where its copies came from."""
    item = (REPO / "tests" / "data" / "copies" / "feed-item.html").read_bytes()
    added = fresh.app.reviews.add(
        item, source="url", content_type="text/html", url="https://blog.example/bts"
    )
    assert (added.review.id, added.created) == (fresh.founding_id, False)
    with fresh.client() as client:
        home = get_page(client, "/")
        page = get_page(client, f"/reviews/{fresh.founding_id}")
    assert home.text.count(FOUNDING_TITLE) == 1
    assert "2 copies of this review arrived" in page.text
    assert "https://blog.example/bts" in page.hrefs()


def test_logout_ends_the_session(site: Site) -> None:
    with site.logged_in_client() as client:
        assert (
            f"/reviews/{site.founding_id}/links"
            in get_page(client, f"/reviews/{site.founding_id}").forms()
        )
        response = client.post("/logout", headers={"Origin": site.base_url})
        assert response.status_code == 303
        assert "aggregator_session=" in response.headers["set-cookie"]
        page = get_page(client, response.headers["location"])
        assert "Logged out." in page.text
        review = get_page(client, f"/reviews/{site.founding_id}")
    assert f"/reviews/{site.founding_id}/links" not in review.forms()
    assert "Log in to change links." in review.text
