"""The JSON API's reads over a real uvicorn server: every resource, errors, paging, dates.

Reads run against one seeded store per backend (``api_support.seed`` documents what
is in it; the expectations below are worked out from that by hand). Writes are in
``test_api_writes.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator import metrics
from tests.api_support import ApiServer, Seeded, module_database, running_api, seed, when
from tests.conftest import BACKENDS
from tests.fakes import review, text_hash


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ApiServer, Seeded]]:
    """One seeded store and server per backend, shared by the read-only tests."""
    with (
        module_database(request.param, request, tmp_path_factory) as url,
        running_api(url) as server,
    ):
        yield server, seed(server.app)


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def iso(**delta: float) -> str:
    return when(**delta).isoformat()


# --- service -----------------------------------------------------------------------------


def test_healthz_openapi_and_docs(seeded: tuple[ApiServer, Seeded]) -> None:
    server, _ = seeded
    health = server.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "instance": server.app.owner}

    schema = server.get("/openapi.json").json()
    for path in (
        "/api/feeds",
        "/api/feeds/{feed_id}/poll",
        "/api/series/{series_id}/episodes",
        "/api/episodes",
        "/api/episodes/{episode_id}/reviews",
        "/api/reviews",
        "/api/links/{link_id}/confirm",
        "/api/links/{link_id}/reject",
        "/api/search/episodes",
        "/healthz",
        "/metrics",
    ):
        assert path in schema["paths"], path
    assert "HTTPBearer" in schema["components"]["securitySchemes"]

    docs = server.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")


def test_healthz_answers_503_when_the_database_is_gone(tmp_path: Path) -> None:
    # A directory is no database file: every connection fails.
    with running_api(f"sqlite:///{tmp_path}", migrate=False) as server:
        response = server.get("/healthz")
        assert response.status_code == 503
        assert response.json()["error"].startswith("the database does not answer")
        # Any other read says the database failed, without its internals.
        listed = server.get("/api/series")
        assert listed.status_code == 503
        assert listed.json() == {"error": "the database failed; the server log has the details"}


def test_metrics_report_store_totals_and_pipeline_counters(
    seeded: tuple[ApiServer, Seeded],
) -> None:
    server, _ = seeded
    metrics.observe_poll("failed", error="FetchTimeout")
    metrics.observe_fetch(0.2)
    metrics.observe_linking(3)
    response = server.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = set(response.text.splitlines())
    # From the seed: links r1-a, r1-a2, r2-a, r2-a1 review; r2-a3, r3-b mention.
    assert 'aggregator_links{relation="reviews"} 4.0' in lines
    assert 'aggregator_links{relation="mentions"} 2.0' in lines
    assert 'aggregator_feeds{status="active"} 2.0' in lines
    assert "aggregator_episodes 8.0" in lines
    assert "aggregator_reviews 4.0" in lines
    text = response.text
    assert 'aggregator_polls_total{outcome="failed"}' in text
    assert 'aggregator_poll_failures_total{error="FetchTimeout"}' in text
    assert 'aggregator_reviews_linked_total{outcome="linked"}' in text
    assert "aggregator_fetch_seconds_bucket" in text


# --- series ------------------------------------------------------------------------------


def test_series_list_with_counts(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    body = server.get("/api/series").json()
    assert [i["title"] for i in body["items"]] == ["Alpha Stories", "beta Hours"]  # any case
    a, b = body["items"]
    assert (a["id"], a["episode_count"], a["review_count"]) == (s.a, 5, 2)
    assert (b["id"], b["episode_count"], b["review_count"]) == (s.b, 3, 1)
    assert a["feed_url"] == "https://alpha.example/feed.xml"
    assert (body["limit"], body["offset"], body["next_offset"]) == (50, 0, None)
    page = server.get("/api/series", limit=1).json()
    assert [i["id"] for i in page["items"]] == [s.a]
    assert page["next_offset"] == 1


def test_series_detail_and_its_errors(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    body = server.get(f"/api/series/{s.a}").json()
    assert body["description_html"] == "<p>Stories <b>from</b> the coast.</p>"
    assert (body["title"], body["episode_count"], body["review_count"]) == ("Alpha Stories", 5, 2)
    missing = server.get("/api/series/999999")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no series with id 999999"}
    for bad in ("0", "abc", str(2**31), "-1"):
        response = server.get(f"/api/series/{bad}")
        assert response.status_code == 422, bad
        assert "series_id" in response.json()["error"]


def test_episodes_of_a_series_with_review_counts(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    body = server.get(f"/api/series/{s.a}/episodes").json()
    got = [(i["id"], i["review_count"]) for i in body["items"]]
    assert got == [
        (s.ep_a[5], 0),
        (s.ep_a[4], 0),
        (s.ep_a[3], 1),
        (s.ep_a[2], 1),
        (s.ep_a[1], 1),
    ]
    newest = body["items"][0]
    assert newest["published"] == iso(weeks=5)  # ISO 8601 with its UTC offset
    assert newest["title"] == "Final Call"
    assert newest["enclosure_url"] == "https://cdn.example/ep5.mp3"
    assert server.get("/api/series/999999/episodes").status_code == 404


def test_episode_filters(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    path = f"/api/series/{s.a}/episodes"
    a = s.ep_a
    assert ids(server.get(path, reviewed="false")) == [a[5], a[4]]
    assert ids(server.get(path, reviewed="true")) == [a[3], a[2], a[1]]
    # T0 + 4 weeks is 12:00 UTC; the same instant written in +01:00 (inclusive).
    four_weeks = when(weeks=4).astimezone().isoformat()
    assert ids(server.get(path, published_after="2026-02-02T13:00:00+01:00")) == [a[5], a[4]]
    assert ids(server.get(path, published_after=four_weeks)) == [a[5], a[4]]
    # No offset: UTC. Exclusive.
    assert ids(server.get(path, published_before="2026-01-19T12:00:00")) == [a[1]]
    bad = server.get(path, published_after="yesterday")
    assert bad.status_code == 422
    assert "published_after" in bad.json()["error"]


def test_recent_episodes_without_reviews_across_series(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    got = ids(server.get("/api/episodes", reviewed="false"))
    # Newest first; b3 has no date and comes last.
    assert got == [s.ep_a[5], s.ep_a[4], s.ep_b[2], s.ep_b[1], s.ep_b[3]]
    only_b = ids(server.get("/api/episodes", reviewed="false", series_id=s.b))
    assert only_b == [s.ep_b[2], s.ep_b[1], s.ep_b[3]]
    assert server.get("/api/episodes", series_id=999999).status_code == 404


def test_episode_pages_cover_every_episode_once(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    first = server.get("/api/episodes", limit=3).json()
    assert [i["id"] for i in first["items"]] == [s.ep_a[5], s.ep_a[4], s.ep_a[3]]
    assert first["next_offset"] == 3
    second = server.get("/api/episodes", limit=3, offset=3).json()
    assert [i["id"] for i in second["items"]] == [s.ep_a[2], s.ep_a[1], s.ep_b[2]]
    assert second["next_offset"] == 6
    last = server.get("/api/episodes", limit=3, offset=6).json()
    assert [i["id"] for i in last["items"]] == [s.ep_b[1], s.ep_b[3]]
    assert last["next_offset"] is None
    # Pages that start past the dated episodes (b3 has no date).
    assert [i["id"] for i in server.get("/api/episodes", offset=7).json()["items"]] == [s.ep_b[3]]
    assert server.get("/api/episodes", offset=8).json()["items"] == []
    assert server.get("/api/episodes", offset=100).json()["items"] == []
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "ten"}):
        response = server.get("/api/episodes", **params)
        assert response.status_code == 422, params
        assert set(response.json()) == {"error"}


def test_episode_detail_and_its_reviews(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    body = server.get(f"/api/episodes/{s.ep_a[2]}").json()
    assert body["title"] == "Night Trains"
    assert body["description_html"] == "<p>Sleeper trains across Europe.</p>"
    assert body["persons"] == [{"name": "Marta Quinlan", "role": "guest", "group": None}]
    assert (body["series_id"], body["review_count"], body["guid"]) == (s.a, 1, "urn:show:2")
    assert ids(server.get(f"/api/episodes/{s.ep_a[2]}/reviews")) == [s.r[1]]
    assert ids(server.get(f"/api/episodes/{s.ep_a[4]}/reviews")) == []
    assert server.get("/api/episodes/999999").status_code == 404
    assert server.get("/api/episodes/999999/reviews").status_code == 404


# --- reviews -------------------------------------------------------------------------------


def test_reviews_list_newest_first_with_excerpts(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    items = server.get("/api/reviews").json()["items"]
    assert [i["id"] for i in items] == [s.r[4], s.r[2], s.r[1], s.r[3]]  # undated last
    assert [i["link_count"] for i in items] == [0, 3, 2, 1]
    first = items[0]
    assert first["excerpt"] == "Nothing about podcasts at all."
    assert first["text_length"] == len("Nothing about podcasts at all.")
    assert first["published"] == iso(days=30)
    assert "text" not in first
    assert ids(server.get("/api/reviews", offset=2, limit=1)) == [s.r[1]]
    assert ids(server.get("/api/reviews", offset=3)) == [s.r[3]]
    assert ids(server.get("/api/reviews", series_id=s.a)) == [s.r[2], s.r[1]]
    assert ids(server.get(f"/api/series/{s.b}/reviews")) == [s.r[3]]
    assert ids(server.get("/api/reviews", episode_id=s.ep_a[3])) == [s.r[2]]
    assert server.get("/api/reviews", series_id=999999).status_code == 404


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Marta Quinlan", [1]),  # only the evidence has it: the text says "Kwinlan"
        ("marta   QUINLAN", [1]),
        ("Kwinlan", [1]),
        ("Harbour Lights", [2]),  # a phrase of the text
        ("Alpha Stories", []),  # named by series-title evidence: not a person
        ("Quinlan Marta", []),
    ],
)
def test_reviews_that_name_a_person(
    seeded: tuple[ApiServer, Seeded], name: str, expected: list[int]
) -> None:
    server, s = seeded
    assert ids(server.get("/api/reviews", person=name)) == [s.r[n] for n in expected]


def test_reviews_by_author(database_url: str) -> None:
    """The web pages' "reviews by author": the name exactly as the reviews give it."""
    with running_api(database_url) as server:
        storage, now = server.app.storage, server.app.clock()
        authors = {1: "Ann Critic", 2: "Bob Listener", 3: "Ann Critic", 4: "ann critic", 5: None}
        stored = {}
        for n, author in authors.items():
            document = review(n, author=author)  # review n published n days after T0
            saved = storage.save_review(
                document, content_hash=text_hash(document), source="file", now=now
            )
            stored[n] = saved.review.id
        assert ids(server.get("/api/reviews", author="Ann Critic")) == [stored[3], stored[1]]
        assert ids(server.get("/api/reviews", author="ann critic")) == [stored[4]]
        assert ids(server.get("/api/reviews", author="Nobody")) == []
        (bob,) = server.get("/api/reviews", author="Bob Listener").json()["items"]
        assert (bob["id"], bob["author"]) == (stored[2], "Bob Listener")
        first = server.get("/api/reviews", author="Ann Critic", limit=1).json()
        assert ([i["id"] for i in first["items"]], first["next_offset"]) == ([stored[3]], 1)
        assert ids(server.get("/api/reviews", author="Ann Critic", offset=1)) == [stored[1]]
        for bad in ("", "x" * 201, "a\x00b"):
            refused = server.get("/api/reviews", author=bad)
            assert refused.status_code == 422, refused.text
            assert "query.author" in refused.json()["error"]
        schema = server.get("/openapi.json").json()
        documented = schema["paths"]["/api/reviews"]["get"]["parameters"]
        (param,) = [p for p in documented if p["name"] == "author"]
        assert "Only reviews by this author" in param["description"]


def test_review_detail_with_its_links(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    body = server.get(f"/api/reviews/{s.r[1]}").json()
    assert body["text"] == "Night Trains is wonderful; Marta Kwinlan tells it well."
    assert (body["title"], body["source"], body["url"]) == (
        "On trains",
        "file",
        "https://blog.example/review-1",
    )
    assert [link["id"] for link in body["links"]] == [s.links["r1-a"], s.links["r1-a2"]]
    person = body["links"][0]["evidence"][0]
    assert body["text"][person["start"] : person["end"]] == "Marta Kwinlan"
    assert server.get("/api/reviews/999999").json() == {"error": "no review with id 999999"}


# --- links ---------------------------------------------------------------------------------


def test_links_in_the_documented_shape(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    body = server.get(f"/api/links/{s.links['r1-a2']}").json()
    # README "Links as JSON", plus the link's id.
    assert body == {
        "id": s.links["r1-a2"],
        "review": {
            "id": s.r[1],
            "url": "https://blog.example/review-1",
            "title": "On trains",
            "published": "2026-01-15T12:00:00+00:00",
        },
        "series": {
            "id": s.a,
            "title": "Alpha Stories",
            "feed_url": "https://alpha.example/feed.xml",
        },
        "episode": {
            "id": s.ep_a[2],
            "guid": "urn:show:2",
            "title": "Night Trains",
            "published": "2026-01-19T12:00:00+00:00",
        },
        "relation": "reviews",
        "score": 0.8,
        "status": "auto",
        "evidence": [
            {"kind": "episode-title", "text": "x", "start": 0, "end": 1, "detail": "title"}
        ],
    }
    series_link = server.get(f"/api/links/{s.links['r3-b']}").json()
    assert series_link["episode"] is None
    assert series_link["review"]["published"] is None
    assert server.get("/api/links/999999").status_code == 404


def test_links_list_order_filters_and_pages(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    order = ["r2-a", "r2-a1", "r2-a3", "r1-a", "r1-a2", "r3-b"]
    assert ids(server.get("/api/links")) == [s.links[n] for n in order]
    assert ids(server.get("/api/links", limit=4, offset=2)) == [s.links[n] for n in order[2:6]]
    assert server.get("/api/links", limit=4, offset=2).json()["next_offset"] is None
    assert ids(server.get("/api/links", offset=5)) == [s.links["r3-b"]]  # r3 has no date
    assert ids(server.get("/api/links", offset=6)) == []
    assert ids(server.get("/api/links", review_id=s.r[1])) == [s.links["r1-a"], s.links["r1-a2"]]
    assert ids(server.get("/api/links", series_id=s.b)) == [s.links["r3-b"]]
    assert ids(server.get("/api/links", episode_id=s.ep_a[3])) == [s.links["r2-a3"]]
    for name in ("review_id", "series_id", "episode_id"):
        missing = server.get("/api/links", **{name: 999999})
        assert missing.status_code == 404, name


# --- errors --------------------------------------------------------------------------------


def test_unknown_paths_and_methods_answer_json(seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = seeded
    response = server.get("/api/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"error": "no such endpoint: /api/nothing/here"}
    wrong = server.client.delete(f"/api/series/{s.a}")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET"
    assert "DELETE is not allowed" in wrong.json()["error"]
    assert response.headers["x-content-type-options"] == "nosniff"
