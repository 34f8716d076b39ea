"""Full-text search over episodes and reviews, the same on SQLite (FTS5) and PostgreSQL.

The seeded store (``api_support.seed``) has episode titles and descriptions such as
a1 "The Lighthouse Keeper" (a lonely keeper on the coast), a2 "Night Trains"
(sleeper trains across Europe) and a3 "Harbour Lights" (the keeper returns to the
lighthouse); expected hits below are read off those texts by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from aggregator.types import FeedKind
from tests.api_support import ApiServer, Seeded, module_database, running_api, seed
from tests.conftest import BACKENDS
from tests.fakes import episode, feed, ok_update, review, series, text_hash


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ApiServer, Seeded]]:
    with (
        module_database(request.param, request, tmp_path_factory) as url,
        running_api(url) as server,
    ):
        yield server, seed(server.app)


def hits(server: ApiServer, path: str, **params: Any) -> list[int]:
    response = server.get(path, **params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("keeper", ["a1", "a3"]),  # in a1's title: first
        ("KEEPER", ["a1", "a3"]),
        ("lighthouse keeper", ["a1", "a3"]),  # every word, anywhere in the episode
        ("keep", []),  # whole words, no stemming
        ("keeper trains", []),
        ("trains europe", ["a2"]),
        ("keeper*", ["a1", "a3"]),  # no query syntax: * only separates
        ('"keeper" NEAR(x) OR', []),  # and no syntax errors either
        ("hour 3", ["b3"]),
    ],
)
def test_episode_search(seeded: tuple[ApiServer, Seeded], query: str, expected: list[str]) -> None:
    server, s = seeded
    names = {**{f"a{n}": i for n, i in s.ep_a.items()}, **{f"b{n}": i for n, i in s.ep_b.items()}}
    assert hits(server, "/api/search/episodes", q=query) == [names[n] for n in expected]


def test_episode_search_by_series_and_in_pages(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    path = "/api/search/episodes"
    assert hits(server, path, q="keeper", series_id=s.a) == [s.ep_a[1], s.ep_a[3]]
    assert hits(server, path, q="keeper", series_id=s.b) == []
    assert server.get(path, q="keeper", series_id=999999).status_code == 404
    first = server.get(path, q="keeper", limit=1).json()
    assert ([i["id"] for i in first["items"]], first["next_offset"]) == ([s.ep_a[1]], 1)
    second = server.get(path, q="keeper", limit=1, offset=1).json()
    assert ([i["id"] for i in second["items"]], second["next_offset"]) == ([s.ep_a[3]], None)
    (found,) = server.get(path, q="trains").json()["items"]
    assert (found["title"], found["review_count"]) == ("Night Trains", 1)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("trains", [1]),  # "Night Trains is wonderful", title "On trains"
        ("lighthouse", [2]),
        ("podcasts", [4]),
        ("heard", [3]),
        ("keepers", [2]),  # the title of r2
        ("wonderful pair", []),
    ],
)
def test_review_search(seeded: tuple[ApiServer, Seeded], query: str, expected: list[int]) -> None:
    server, s = seeded
    assert hits(server, "/api/search/reviews", q=query) == [s.r[n] for n in expected]


def test_combined_search(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    body = server.get("/api/search", q="trains").json()
    assert body["series"] == []
    assert [e["id"] for e in body["episodes"]] == [s.ep_a[2]]
    assert [r["id"] for r in body["reviews"]] == [s.r[1]]
    assert body["reviews"][0]["excerpt"].startswith("Night Trains is wonderful")
    # Series by name, as the web pages' search box finds them.
    body = server.get("/api/search", q="alpha").json()
    assert [(x["id"], x["title"], x["review_count"]) for x in body["series"]] == [
        (s.a, "Alpha Stories", 2)
    ]
    assert (body["episodes"], body["reviews"]) == ([], [])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("alpha", ["a"]),
        ("ALP sto", ["a"]),  # each word starts a word of the title, any case
        ("stories alpha", ["a"]),
        ("h", ["b"]),  # "beta Hours"
        ("lpha", []),  # the start of a word only
        ("alpha hours", []),  # every word, in one series
    ],
)
def test_series_search(seeded: tuple[ApiServer, Seeded], query: str, expected: list[str]) -> None:
    server, s = seeded
    names = {"a": s.a, "b": s.b}
    assert hits(server, "/api/series", q=query) == [names[n] for n in expected]


def test_series_search_in_pages(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    first = server.get("/api/series", q="alpha", limit=1).json()
    assert ([i["id"] for i in first["items"]], first["next_offset"]) == ([s.a], None)
    (found,) = first["items"]
    assert (found["title"], found["review_count"]) == ("Alpha Stories", 2)
    assert hits(server, "/api/series", q="alpha", offset=1) == []
    assert hits(server, "/api/series") == [s.a, s.b]  # without q: every series
    schema = server.get("/openapi.json").json()
    (param,) = [p for p in schema["paths"]["/api/series"]["get"]["parameters"] if p["name"] == "q"]
    assert "title or publisher" in param["description"]
    assert "series" in schema["components"]["schemas"]["SearchOut"]["properties"]


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"q": "!!! ???"}, 400, "no words"),
        ({"q": " ".join(["word"] * 33)}, 400, "at most 32"),
        ({"q": "x" * 101}, 400, "over 100 characters"),
        ({"q": ""}, 422, "query.q"),
        ({}, 422, "query.q"),
        ({"q": "a\x00b"}, 422, "NUL"),
        ({"q": "x" * 501}, 422, "query.q"),
    ],
)
def test_searches_that_are_refused(
    seeded: tuple[ApiServer, Seeded], params: dict[str, str], status: int, says: str
) -> None:
    server, _ = seeded
    paths = ["/api/search", "/api/search/episodes", "/api/search/reviews"]
    if "q" in params:  # the list of series takes q, but needs none
        paths.append("/api/series")
    for path in paths:
        response = server.get(path, **params)
        assert response.status_code == status, (path, response.text)
        assert says in response.json()["error"]


def test_search_follows_every_change(database_url: str) -> None:
    """The index is kept in step by the database itself (SQLite triggers, PostgreSQL
    expression index): new, changed and deleted rows, and deletes that cascade."""
    with running_api(database_url) as server:
        storage, now = server.app.storage, server.app.clock()
        feed_id = storage.add_feed("https://show.example/feed", FeedKind.PODCAST, now).id
        first = episode(1, title="Café Society", description_html="<p>Straße und Platz</p>")
        storage.apply_poll(ok_update(feed_id, now), feed(first, show=series("Show")), now)
        path = "/api/search/episodes"
        (episode_id,) = hits(server, path, q="café")
        assert hits(server, path, q="CAFÉ STRASSE") == []  # diacritics and ß are kept
        assert hits(server, path, q="société") == []
        assert hits(server, path, q="STRAßE") == [episode_id]

        renamed = episode(1, title="Bistro Nights", description_html="<p>Straße</p>")
        storage.apply_poll(ok_update(feed_id, now), feed(renamed, show=series("Show")), now)
        assert hits(server, path, q="café") == []
        assert hits(server, path, q="bistro") == [episode_id]

        document = review(1, text="A bistro of a podcast.")
        stored = storage.save_review(
            document, content_hash=text_hash(document), source="file", now=now
        ).review
        assert hits(server, "/api/search/reviews", q="bistro") == [stored.id]
        changed = review(1, text="A brasserie of a podcast.")
        storage.save_review(changed, content_hash=text_hash(changed), source="file", now=now)
        assert hits(server, "/api/search/reviews", q="bistro") == []
        assert hits(server, "/api/search/reviews", q="brasserie") == [stored.id]
        assert server.write("DELETE", f"/api/reviews/{stored.id}").status_code == 204
        assert hits(server, "/api/search/reviews", q="brasserie") == []

        assert server.write("DELETE", f"/api/feeds/{feed_id}").status_code == 204
        assert hits(server, path, q="bistro") == []


def test_queries_use_the_search_index(database_url: str) -> None:
    with running_api(database_url):  # migrated
        pass
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SET enable_seqscan = off"))
                for table in ("episode", "review"):
                    query = (
                        f"SELECT id FROM {table} "
                        "WHERE search_vector @@ plainto_tsquery('simple'::regconfig, 'x')"
                    )
                    plan = connection.execute(text(f"EXPLAIN {query}")).scalars()
                    assert f"ix_{table}_search" in "\n".join(plan)
            else:
                for table in ("episode_fts", "review_fts"):
                    query = f"SELECT rowid FROM {table} WHERE {table} MATCH 'x'"
                    rows = connection.execute(text(f"EXPLAIN QUERY PLAN {query}")).all()
                    assert f"SCAN {table} VIRTUAL TABLE INDEX" in " ".join(r[-1] for r in rows)
    finally:
        engine.dispose()


def test_a_very_long_review_is_stored_and_found(database_url: str) -> None:
    """PostgreSQL refuses a tsvector over 1 MiB, which would fail the review's insert:
    only the first 200k characters are indexed there."""
    words = " ".join(f"w{n:x}q" for n in range(120_000))  # ~800k characters
    with running_api(database_url) as server:
        body = {"text": "Opening zebracorn. " + words, "format": "text"}
        added = server.write("POST", "/api/reviews", json=body)
        assert added.status_code == 201, added.text
        review_id = added.json()["review"]["id"]
        assert hits(server, "/api/search/reviews", q="zebracorn") == [review_id]
        assert hits(server, "/api/search/reviews", q="w10q") == [review_id]
