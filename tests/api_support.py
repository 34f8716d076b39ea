"""The API served for real, and a small store whose every number is known.

``running_api`` builds the app from settings (as ``aggregator run`` does), puts the
API router in a FastAPI application and serves it with uvicorn on 127.0.0.1
(``tests/http_server.py``). ``seed`` fills a store through storage's own write
paths with two series, four reviews and six links; ``Seeded`` holds their ids and
the docstring of ``seed`` says what is where, so expectations are written by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from aggregator.api import build_router
from aggregator.app import App, make_app
from aggregator.settings import FetchSettings, HttpSettings, Settings
from aggregator.types import Enclosure, Evidence, FeedKind, LinkProposal, Person, Relation
from tests.conftest import _create_schema, _drop_schema, _new_schema_name, _pg_url
from tests.fakes import T0, episode, feed, ok_update, review, series, text_hash
from tests.http_server import serve
from tests.stored import episode_records, series_records

TOKEN = "s3cret-t0ken"

# Short fetch limits: a test that reaches for an address nobody answers must fail fast.
QUICK_FETCH = FetchSettings(connect_timeout=2.0, read_timeout=2.0, total_timeout=5.0)


@dataclass
class ApiServer:
    app: App
    url: str
    client: httpx.Client
    token: str | None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params)

    def write(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request with the token."""
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)


def build_http(app: App) -> FastAPI:
    http = FastAPI(title="aggregator")
    http.include_router(build_router(app))
    return http


@contextmanager
def running_api(
    database_url: str,
    *,
    token: str | None = TOKEN,
    public_reads: bool = True,
    allowed_networks: tuple[str, ...] = (),
    migrate: bool = True,
    poll_now: tuple[int, int] | None = None,
    fetch: FetchSettings = QUICK_FETCH,
) -> Iterator[ApiServer]:
    """The API served on 127.0.0.1; ``poll_now`` is (workers, waiting) of the
    poll-now queue, when not the defaults."""
    http = HttpSettings(token=token, public_reads=public_reads, allowed_networks=allowed_networks)
    if poll_now is not None:
        http = replace(http, poll_now_workers=poll_now[0], poll_now_waiting=poll_now[1])
    settings = Settings(database_url=database_url, fetch=fetch, http=http)
    with (
        make_app(settings, migrate=migrate) as app,
        serve(build_http(app)) as served,
        httpx.Client(base_url=served.url, timeout=30) as client,
    ):
        yield ApiServer(app, served.url, client, token)


@contextmanager
def module_database(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database for a module-scoped fixture: a SQLite file, or a PostgreSQL
    schema of its own (made with conftest's helpers, dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('api') / 'api.db'}"
        return
    admin = request.getfixturevalue("_pg_admin")
    schema = _new_schema_name()
    _create_schema(admin, schema)
    try:
        yield _pg_url(schema)
    finally:
        _drop_schema(admin, schema)


@dataclass
class Seeded:
    """Ids of what ``seed`` stored: series a and b, episodes a[1..5] and b[1..3],
    reviews r[1..4], and links by name: "r1-a" (review 1 to series a), "r1-a2"."""

    a: int = 0
    b: int = 0
    feed_a: int = 0
    feed_b: int = 0
    ep_a: dict[int, int] = field(default_factory=dict)
    ep_b: dict[int, int] = field(default_factory=dict)
    r: dict[int, int] = field(default_factory=dict)
    links: dict[str, int] = field(default_factory=dict)


def when(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def seed(app: App) -> Seeded:
    """Fill the store of ``app``; returns the ids.

    Series "Alpha Stories" (feed https://alpha.example/feed.xml), episodes a1..a5
    published T0 + n weeks:
      a1 "The Lighthouse Keeper" (a lonely keeper on the coast),
      a2 "Night Trains" (sleeper trains across Europe; guest Marta Quinlan),
      a3 "Harbour Lights" (the keeper returns to the lighthouse),
      a4 "Mountain Radio", a5 "Final Call".
    Series "beta Hours" (https://beta.example/feed.xml): b1, b2 published T0 + n days,
    b3 undated.

    Reviews (published):
      r1 (T0+10d) "On trains": links a (0.9, evidence: person "Marta Kwinlan",
         detail "guest Marta Quinlan"), a2 (0.8);
      r2 (T0+20d) "Keepers": links a (0.7, evidence series-title "Alpha Stories"),
         a1 (0.6), a3 (0.5, mentions);
      r3 (undated): link b (0.4, mentions);
      r4 (T0+30d): no links.
    Review counts: a 2, b 1; a1 1, a2 1, a3 1, the rest 0. Links: 4 reviews, 2 mentions.
    """
    storage, now = app.storage, app.clock()
    ids = Seeded()
    feed_a = storage.add_feed("https://alpha.example/feed.xml", FeedKind.PODCAST, now)
    feed_b = storage.add_feed("https://beta.example/feed.xml", FeedKind.PODCAST, now)
    ids.feed_a, ids.feed_b = feed_a.id, feed_b.id
    texts = {
        1: ("The Lighthouse Keeper", "<p>A lonely keeper on the coast.</p>"),
        2: ("Night Trains", "<p>Sleeper trains across Europe.</p>"),
        3: ("Harbour Lights", "<p>The keeper returns to the lighthouse.</p>"),
        4: ("Mountain Radio", "<p>Broadcasting from the Alps.</p>"),
        5: ("Final Call", "<p>The last one of the season.</p>"),
    }
    alpha = [
        episode(
            n,
            title=title,
            description_html=html,
            persons=(Person("Marta Quinlan", role="guest"),) if n == 2 else (),
        )
        for n, (title, html) in texts.items()
    ]
    show_a = series("Alpha Stories", description_html="<p>Stories <b>from</b> the coast.</p>")
    storage.apply_poll(ok_update(feed_a.id, now), feed(*alpha, show=show_a), now)
    beta = [
        episode(
            n,
            guid=f"urn:beta:{n}",
            title=f"Hour {n}",
            description_html=f"<p>Hour number {n}.</p>",
            published=when(days=n) if n < 3 else None,
            enclosure=Enclosure(f"https://beta.example/{n}.mp3", "audio/mpeg", 100),
        )
        for n in (1, 2, 3)
    ]
    storage.apply_poll(ok_update(feed_b.id, now), feed(*beta, show=series("beta Hours")), now)

    by_title = {s.title: s.id for s in series_records(storage)}
    ids.a, ids.b = by_title["Alpha Stories"], by_title["beta Hours"]
    for e in episode_records(storage, ids.a):
        ids.ep_a[e.number or 0] = e.id
    for e in episode_records(storage, ids.b):
        ids.ep_b[int(e.guid.rsplit(":", 1)[1])] = e.id

    documents = {
        1: review(
            1,
            title="On trains",
            text="Night Trains is wonderful; Marta Kwinlan tells it well.",
            published=when(days=10),
        ),
        2: review(
            2,
            title="Keepers",
            text="The Lighthouse Keeper and Harbour Lights make a pair.",
            published=when(days=20),
        ),
        3: review(3, title="Hours", text="beta Hours, heard it all.", published=None),
        4: review(
            4, title="Elsewhere", text="Nothing about podcasts at all.", published=when(days=30)
        ),
    }
    for n, document in documents.items():
        record = storage.save_review(
            document, content_hash=text_hash(document), source="file", now=now
        ).review
        ids.r[n] = record.id

    def link(
        series_id: int,
        episode_id: int | None,
        score: float,
        *evidence: Evidence,
        relation: Relation = Relation.REVIEWS,
    ) -> LinkProposal:
        if not evidence:
            evidence = (Evidence("episode-title", "x", 0, 1, "title"),)
        return LinkProposal(series_id, episode_id, relation, score, evidence)

    start = documents[1].text.index("Marta Kwinlan")
    person = Evidence(
        "person", "Marta Kwinlan", start, start + 13, "guest Marta Quinlan (ratio 90)"
    )
    title = Evidence("series-title", "Alpha Stories", -1, -1, "the show's name 'Alpha Stories'")
    proposals = {
        1: [link(ids.a, None, 0.9, person), link(ids.a, ids.ep_a[2], 0.8)],
        2: [
            link(ids.a, None, 0.7, title),
            link(ids.a, ids.ep_a[1], 0.6),
            link(ids.a, ids.ep_a[3], 0.5, relation=Relation.MENTIONS),
        ],
        3: [link(ids.b, None, 0.4, relation=Relation.MENTIONS)],
        4: [],
    }
    series_names = {ids.a: "a", ids.b: "b"}
    episode_names = {e: f"a{n}" for n, e in ids.ep_a.items()}
    episode_names.update({e: f"b{n}" for n, e in ids.ep_b.items()})
    for n, wanted in proposals.items():
        stored = storage.replace_links(ids.r[n], wanted, linker_version="test", now=now)
        for record in stored:
            if record.episode_id is None:
                name = series_names[record.series_id]
            else:
                name = episode_names[record.episode_id]
            ids.links[f"r{n}-{name}"] = record.id
    return ids
