"""The JSON API's writes over a real uvicorn server: feeds, reviews, links, bodies.

A fresh store per test (``fresh``), the seeded one of ``api_support.seed`` where
links are changed (``fresh_seeded``, both backends), and a store that only refused
writes reach (``scratch``), which therefore stays as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator.api._errors import MAX_BODY_BYTES, describe_validation
from aggregator.types import FeedKind
from tests.api_support import ApiServer, Seeded, running_api, seed
from tests.feedserver import FeedServer

REPO = Path(__file__).resolve().parents[1]
CALIPHATE_FEED = REPO / "examples" / "feeds" / "caliphate.xml"
FOUNDING_REVIEW = REPO / "tests" / "data" / "linking" / "reviews" / "seed.txt"


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[ApiServer]:
    """An empty SQLite store behind a new server (for tests that write)."""
    with running_api(f"sqlite:///{tmp_path / 'fresh.db'}") as server:
        yield server


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """An empty SQLite store that only refused writes touch: it stays empty."""
    with running_api(f"sqlite:///{tmp_path_factory.mktemp('scratch') / 'x.db'}") as server:
        yield server


@pytest.fixture
def fresh_seeded(database_url: str) -> Iterator[tuple[ApiServer, Seeded]]:
    """A seeded store of its own, on each backend (for tests that change links)."""
    with running_api(database_url) as server:
        yield server, seed(server.app)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, Seeded]]:
    """A seeded store that only refused writes reach."""
    with running_api(f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'x.db'}") as server:
        yield server, seed(server.app)


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# --- writes: feeds ---------------------------------------------------------------------------


def test_feeds_add_list_get_remove(fresh: ApiServer) -> None:
    added = fresh.write("POST", "/api/feeds", json={"url": "HTTP://93.184.216.34/Feed.xml"})
    assert added.status_code == 201, added.text
    feed = added.json()
    assert feed["url"] == "http://93.184.216.34/Feed.xml"  # scheme and host lower-cased
    assert (feed["kind"], feed["status"], feed["added_via_api"]) == ("podcast", "active", True)
    assert added.headers["location"] == f"/api/feeds/{feed['id']}"
    reviews_feed = fresh.write(
        "POST", "/api/feeds", json={"url": "https://93.184.216.34/reviews", "kind": "reviews"}
    )
    assert reviews_feed.status_code == 201

    assert ids(fresh.get("/api/feeds")) == [feed["id"], reviews_feed.json()["id"]]
    assert ids(fresh.get("/api/feeds", kind="reviews")) == [reviews_feed.json()["id"]]
    assert ids(fresh.get("/api/feeds", status="gone")) == []
    assert fresh.get(f"/api/feeds/{feed['id']}").json() == feed
    # Paged after filtering: the second podcast feed is the first of page 2.
    third = fresh.write("POST", "/api/feeds", json={"url": "https://93.184.216.34/more"}).json()
    podcasts = fresh.get("/api/feeds", kind="podcast", limit=1, offset=1).json()
    assert [f["id"] for f in podcasts["items"]] == [third["id"]]
    assert podcasts["next_offset"] is None

    again = fresh.write("POST", "/api/feeds", json={"url": "http://93.184.216.34/Feed.xml"})
    assert again.status_code == 409
    assert "already" in again.json()["error"]

    assert fresh.write("DELETE", f"/api/feeds/{feed['id']}").status_code == 204
    assert fresh.get(f"/api/feeds/{feed['id']}").status_code == 404
    assert fresh.write("DELETE", f"/api/feeds/{feed['id']}").status_code == 404
    assert fresh.write("POST", f"/api/feeds/{feed['id']}/poll").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": ""},
        {"url": "http://93.184.216.34/f", "kind": "video"},
        {"url": "http://93.184.216.34/f", "extra": 1},
        {"url": "http://93.184.216.34/\x00"},
        {"url": 5},
    ],
)
def test_feed_bodies_that_are_not_valid(scratch: ApiServer, body: dict[str, Any]) -> None:
    response = scratch.write("POST", "/api/feeds", json=body)
    assert response.status_code == 422, response.text
    assert list(response.json()) == ["error"]
    assert scratch.get("/api/feeds").json()["items"] == []


def test_poll_now_of_a_feed_from_the_config(fresh: ApiServer) -> None:
    """A feed the config or CLI added (here a file) is polled by the app's poller."""
    storage = fresh.app.storage
    feed = storage.add_feed(CALIPHATE_FEED.as_uri(), FeedKind.PODCAST, fresh.app.clock())
    response = fresh.write("POST", f"/api/feeds/{feed.id}/poll")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["feed_id"], report["outcome"], report["error"]) == (feed.id, "new", None)
    assert report["new"] == 13  # the items of examples/feeds/caliphate.xml
    (series,) = fresh.get("/api/series").json()["items"]
    assert (series["title"], series["episode_count"]) == ("Caliphate", 13)
    again = fresh.write("POST", f"/api/feeds/{feed.id}/poll").json()
    assert again["outcome"] in ("unchanged", "not-modified")


# --- writes: reviews -------------------------------------------------------------------------


def test_review_added_by_text_is_linked_and_found_by_person(fresh: ApiServer) -> None:
    storage = fresh.app.storage
    feed = storage.add_feed(CALIPHATE_FEED.as_uri(), FeedKind.PODCAST, fresh.app.clock())
    assert not fresh.app.poller.poll_feed(feed).failed
    text = FOUNDING_REVIEW.read_text(encoding="utf-8")
    body = {"text": text, "published": "2018-07-01", "author": "A blogger"}
    response = fresh.write("POST", "/api/reviews", json=body)
    assert response.status_code == 201, response.text
    added = response.json()
    assert added["created"] is True
    review = added["review"]
    assert (review["source"], review["author"]) == ("api", "A blogger")
    assert review["published"] == "2018-07-01T00:00:00+00:00"
    series_links = [x for x in review["links"] if x["episode"] is None]
    assert [(x["series"]["title"], x["relation"]) for x in series_links] == [
        ("Caliphate", "reviews")
    ]
    assert ids(fresh.get("/api/reviews", person="Rukmini Callimachi")) == [review["id"]]

    again = fresh.write("POST", "/api/reviews", json=body)
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["review"]["id"] == review["id"]


def test_copies_of_one_review_by_url_and_by_text_are_one_review(database_url: str) -> None:
    """The blog's page fetched by URL, then its feed's copy given as text: the second
    answers 200 with the stored review, which lists both sources."""
    copies = REPO / "tests" / "data" / "copies"
    with (
        FeedServer() as pages,
        running_api(database_url, allowed_networks=("127.0.0.1/32",)) as api,
    ):
        pages.serve("/bts.html", (copies / "page.html").read_bytes(), content_type="text/html")
        first = api.write("POST", "/api/reviews", json={"url": pages.url("/bts.html")})
        assert first.status_code == 201, first.text
        assert (first.json()["created"], first.json()["match"]) == (True, None)
        review = first.json()["review"]
        assert review["text"].startswith("Behind the scenes of the Islamic State")

        item = (copies / "feed-item.html").read_text(encoding="utf-8")
        body = {"text": item, "format": "html", "url": "https://blog.example/bts"}
        second = api.write("POST", "/api/reviews", json=body)
        assert second.status_code == 200, second.text
        answer = second.json()
        assert (answer["created"], answer["match"], answer["source_added"]) == (
            False,
            "nearly the same text",
            True,
        )
        assert answer["review"]["id"] == review["id"]
        assert answer["review"]["text"] == review["text"]  # the page's: the longer copy
        sources = [(s["kind"], s["location"]) for s in answer["review"]["sources"]]
        assert sources == [("url", pages.url("/bts.html")), ("api", "https://blog.example/bts")]
        got = api.get(f"/api/reviews/{review['id']}").json()
        assert got["sources"] == answer["review"]["sources"]

        third = api.write("POST", "/api/reviews", json=body)
        assert third.status_code == 200
        assert (third.json()["match"], third.json()["source_added"]) == ("same address", False)
        other = {"text": (REPO / "tests/data/linking/reviews/cal-vs-serial.txt").read_text()}
        assert api.write("POST", "/api/reviews", json=other).status_code == 201
        assert len(api.get("/api/reviews").json()["items"]) == 2


def test_review_delete(fresh: ApiServer) -> None:
    added = fresh.write("POST", "/api/reviews", json={"text": "A fine show.", "format": "text"})
    review_id = added.json()["review"]["id"]
    assert fresh.write("DELETE", f"/api/reviews/{review_id}").status_code == 204
    assert fresh.get(f"/api/reviews/{review_id}").status_code == 404
    assert fresh.write("DELETE", f"/api/reviews/{review_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({}, 400, "give the review's text, or the url"),
        ({"text": ""}, 422, "body.text"),
        ({"text": "   \n  "}, 422, "no review text"),
        ({"text": "ok", "title": "a\x00b"}, 422, "NUL"),
        ({"text": "ok", "format": "pdf"}, 422, "body.format"),
        ({"text": "ok", "published": "soon"}, 422, "body.published"),
        ({"text": "ok", "url": "javascript:alert(1)"}, 400, "only http and https"),
        ({"text": "ok", "url": "http://93.184.216.34:99999/r"}, 400, "port 99999 is out of range"),
        ({"text": "ok", "url": "https://blog.example:0/r"}, 400, "port 0 is out of range"),
        ({"text": "ok", "url": "https://blog..example/r"}, 400, "host name blog..example is not"),
        ({"text": "ok", "url": "http://0x7f.1/r"}, 400, "host name 0x7f.1 is not valid"),
    ],
)
def test_review_bodies_that_are_refused(
    scratch: ApiServer, body: dict[str, Any], status: int, says: str
) -> None:
    response = scratch.write("POST", "/api/reviews", json=body)
    assert response.status_code == status, response.text
    assert says in response.json()["error"]
    assert scratch.get("/api/reviews").json()["items"] == []


def test_malformed_json_is_a_400(scratch: ApiServer) -> None:
    response = scratch.write(
        "POST", "/api/reviews", content=b'{"text": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "the request body is not valid JSON"}


def test_a_body_that_is_not_utf8_is_a_400(scratch: ApiServer) -> None:
    # Found by schemathesis: Starlette's own HTTPException escaped the error mapping.
    response = scratch.write(
        "POST", "/api/feeds", content=b"\x8a\x05", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"error": "There was an error parsing the body"}


def test_an_oversized_body_is_refused(scratch: ApiServer) -> None:
    too_big = b"x" * (MAX_BODY_BYTES + 1)
    json_type = {"content-type": "application/json"}
    declared = scratch.write("POST", "/api/reviews", content=too_big, headers=json_type)
    assert declared.status_code == 413
    assert declared.json() == {"error": f"the request body is over {MAX_BODY_BYTES} bytes"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(too_big), 1 << 20):
            yield too_big[start : start + (1 << 20)]

    streamed = scratch.write("POST", "/api/reviews", content=chunks(), headers=json_type)
    assert streamed.status_code == 413


def test_unknown_fields_are_one_problem_however_many(scratch: ApiServer) -> None:
    # An error per unknown key echoed the whole body back, and more (9.5 MB of keys gave
    # a 36.7 MB error), after the server spent seconds building them.
    body = b'{"text": "ok", ' + b", ".join(b'"k%07d": 0' % i for i in range(200_000)) + b"}"
    json_type = {"content-type": "application/json"}
    many = scratch.write("POST", "/api/reviews", content=body, headers=json_type)
    assert many.status_code == 422
    assert many.json() == {
        "error": "body: Value error, unknown fields 'k0000000', 'k0000001', 'k0000002' "
        "and 199,997 more"
    }
    key = "x" * 100_000
    long = scratch.write("POST", "/api/feeds", json={"url": "http://93.184.216.34/", key: 1})
    assert long.status_code == 422
    assert long.json() == {"error": f"body: Value error, unknown fields {'x' * 40!r}"}
    assert scratch.get("/api/reviews").json()["items"] == []
    assert scratch.get("/api/feeds").json()["items"] == []


def test_an_error_names_ten_problems_at_most_each_cut_short() -> None:
    errors = [{"loc": ("body", "x" * 500, i), "msg": "bad"} for i in range(50)]
    status, message = describe_validation(errors)
    assert status == 422
    parts = message.split("; ")
    assert len(parts) == 11 and parts[-1] == "and 40 more"
    assert parts[0] == "body." + "x" * 94 + "…: bad"
    assert describe_validation([{"type": "json_invalid", "loc": (), "msg": "x"}] * 3) == (
        400,
        "the request body is not valid JSON",
    )


def test_a_long_path_is_not_echoed_whole(scratch: ApiServer) -> None:
    response = scratch.get("/api/" + "x" * 20_000)
    assert response.status_code == 404
    assert response.json()["error"].startswith("no such endpoint: /api/xxx")
    assert len(response.json()["error"]) <= 2000


# --- writes: links -----------------------------------------------------------------------------


def test_confirm_reject_and_add_links(fresh_seeded: tuple[ApiServer, Seeded]) -> None:
    server, s = fresh_seeded
    confirmed = server.write("POST", f"/api/links/{s.links['r2-a1']}/confirm")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "confirmed"

    rejected = server.write("POST", f"/api/links/{s.links['r2-a3']}/reject")
    assert rejected.json()["status"] == "rejected"
    listed = ids(server.get("/api/links", review_id=s.r[2]))
    assert listed == [s.links["r2-a"], s.links["r2-a1"]]
    with_rejected = ids(server.get("/api/links", review_id=s.r[2], include_rejected="true"))
    assert with_rejected == [s.links["r2-a"], s.links["r2-a1"], s.links["r2-a3"]]
    # A rejected link no longer counts for its episode.
    a3 = server.get(f"/api/episodes/{s.ep_a[3]}").json()
    assert a3["review_count"] == 0

    body = {"review_id": s.r[4], "series_id": s.b, "episode_id": s.ep_b[2], "relation": "mentions"}
    added = server.write("POST", "/api/links", json=body)
    assert added.status_code == 201, added.text
    link = added.json()
    assert (link["status"], link["score"], link["relation"]) == ("manual", 1.0, "mentions")
    assert link["episode"]["id"] == s.ep_b[2]
    assert [e["kind"] for e in link["evidence"]] == ["manual"]
    assert added.headers["location"] == f"/api/links/{link['id']}"
    assert ids(server.get("/api/reviews", episode_id=s.ep_b[2])) == [s.r[4]]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"review_id": 999999}, 404),
        ({"series_id": 999999}, 404),
        ({"episode_id": "a1"}, 404),  # an episode of the other series
        ({"relation": "loves"}, 422),
        ({"review_id": 0}, 422),
    ],
)
def test_links_that_cannot_be_added(
    seeded: tuple[ApiServer, Seeded], change: dict[str, Any], status: int
) -> None:
    server, s = seeded
    body: dict[str, Any] = {"review_id": s.r[4], "series_id": s.b, "relation": "reviews"}
    body.update(change)
    if body.get("episode_id") == "a1":
        body["episode_id"] = s.ep_a[1]
    response = server.write("POST", "/api/links", json=body)
    assert response.status_code == status, response.text
    assert ids(server.get("/api/links", review_id=s.r[4])) == []


def test_confirm_or_reject_an_unknown_link(scratch: ApiServer) -> None:
    for action in ("confirm", "reject"):
        response = scratch.write("POST", f"/api/links/999999/{action}")
        assert response.status_code == 404
        assert response.json() == {"error": "no link with id 999999"}


def test_dates_go_out_in_utc_with_an_offset(fresh: ApiServer) -> None:
    body = {"text": "A fine show.", "format": "text", "published": "2018-07-01T02:30:00+02:00"}
    review = fresh.write("POST", "/api/reviews", json=body).json()["review"]
    assert review["published"] == "2018-07-01T00:30:00+00:00"
    naive = {"text": "Another show.", "format": "text", "published": "2018-07-01T02:30:00"}
    review = fresh.write("POST", "/api/reviews", json=naive).json()["review"]
    assert review["published"] == "2018-07-01T02:30:00+00:00"
