"""Benchmark: latency of the API's list endpoints with 100k episodes and 10k reviews.

    python bench/api.py [--episodes 100000] [--reviews 10000] [--database URL]
                        [--requests 300] [--results bench/RESULTS.md]

Fills a fresh store (a temp SQLite file unless --database names an empty PostgreSQL
database or schema) with synthetic series, episodes, reviews and links, written with
executemany on storage's own tables (the search index fills itself: triggers or
expression indexes, as in production). Then serves the API with uvicorn in a
separate process and asks each list endpoint ``--requests`` times, one request at a
time over one keep-alive connection, for a page of 50 (random series, random early
offsets, random search words), and reports p50 and p95 of the client-side latency.

The target: p50 <= 20 ms for the list endpoints.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from aggregator.storage import open_storage
from aggregator.storage._models import EPISODE, FEED, LINK, REVIEW, SERIES
from aggregator.types import FeedStatus, LinkStatus, Relation

ROOT = Path(__file__).resolve().parents[1]
TARGET_P50_MS = 20.0
PAGE = 50
EPISODES_PER_SERIES = 100
BATCH = 5000
START = datetime(2015, 1, 1, tzinfo=UTC)

# A made-up vocabulary with a Zipf-like spread: a few words everywhere, most rare.
_SYLLABLES = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "an", "is", "pe", "qu", "zu"]
FIRST_NAMES = ["Marta", "Jonas", "Aisha", "Pavel", "Lucia", "Kenji", "Nora", "Tomas"]
LAST_NAMES = ["Quinlan", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Rossi", "Haddad"]


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class Words:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = vocabulary(rng)
        # Weight 1/rank: the commonest word is ~10% of all text.
        self.cumulative = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(self.words))))

    def text(self, n: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=n))

    def search_word(self) -> str:
        """A word of middling frequency: hundreds of hits, not tens of thousands."""
        return self.rng.choice(self.words[50:2000])


def fill(database_url: str, episodes: int, reviews: int, seed: int = 4) -> dict[str, Any]:
    rng = random.Random(seed)
    words = Words(rng)
    now = datetime.now(UTC)
    store = open_storage(database_url)
    store.migrate()
    engine = store._write_engine  # the bench writes rows the way storage's Core paths do
    n_series = max(1, episodes // EPISODES_PER_SERIES)
    started = time.perf_counter()
    with engine.begin() as connection:

        def many(table: Any, rows: Iterator[dict[str, Any]]) -> int:
            count, batch = 0, []
            for row in rows:
                batch.append(row)
                if len(batch) == BATCH:
                    connection.execute(insert(table), batch)
                    count, batch = count + len(batch), []
            if batch:
                connection.execute(insert(table), batch)
            return count + len(batch)

        many(
            FEED,
            (
                {
                    "id": i,
                    "url": f"https://feeds{i % 50}.example/show/{i}.xml",
                    "added_url": f"https://feeds{i % 50}.example/show/{i}.xml",
                    "kind": "podcast",
                    "status": FeedStatus.ACTIVE.value,
                    "title": f"Show {i}",
                    "error_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(1, n_series + 1)
            ),
        )
        many(
            SERIES,
            (
                {
                    "id": i,
                    "feed_id": i,
                    "title": words.text(rng.randint(1, 4)).title(),
                    "author": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    "description": f"<p>{words.text(40)}</p>",
                    "description_text": words.text(40),
                    "categories": ["News"],
                    "persons": [],
                    "content_hash": f"s{i}",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(1, n_series + 1)
            ),
        )

        def episode_rows() -> Iterator[dict[str, Any]]:
            # A series' episodes arrive together (one poll of its feed), so they sit
            # together in the table, as they do in a real store.
            per_series = -(-episodes // n_series)
            for i in range(1, episodes + 1):
                series_id = (i - 1) // per_series + 1
                number = (i - 1) % per_series + 1
                text = words.text(rng.randint(30, 90))
                yield {
                    "id": i,
                    "series_id": series_id,
                    "guid": f"urn:bench:{series_id}:{number}",
                    "title": f"{number}: {words.text(rng.randint(2, 6)).capitalize()}",
                    "description": f"<p>{text}</p>",
                    "description_text": text,
                    "link": f"https://show{series_id}.example/{number}",
                    "published": START + timedelta(days=7 * number, hours=series_id % 24),
                    "enclosure_url": f"https://cdn.example/{series_id}/{number}.mp3",
                    "enclosure_type": "audio/mpeg",
                    "enclosure_length": 30_000_000,
                    "duration_seconds": 1800,
                    "number": number,
                    "episode_type": "full",
                    "persons": [],
                    "guid_is_fallback": False,
                    "content_hash": f"e{i}",
                    "first_seen_at": now,
                    "updated_at": now,
                }

        many(EPISODE, episode_rows())
        many(
            REVIEW,
            (
                {
                    "id": i,
                    "url": f"https://reviews.example/{i}",
                    "title": words.text(rng.randint(3, 8)).capitalize(),
                    "author": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    "published": START + timedelta(hours=17 * i),
                    "text": words.text(rng.randint(250, 600)),  # ~2-5 KB
                    "links": [],
                    "content_hash": f"r{i}",
                    "source": "feed",
                    "linker_version": "bench",
                    "linked_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(1, reviews + 1)
            ),
        )

        def link_rows() -> Iterator[dict[str, Any]]:
            for review_id in range(1, reviews + 1):
                series_id = rng.randint(1, n_series)
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                person = {"kind": "person", "text": name, "start": 0, "end": len(name)}
                evidence = [{**person, "detail": f"host {name} (ratio 95)"}]
                per_series = -(-episodes // n_series)
                targets = [None, *rng.sample(range(1, per_series + 1), 2)]
                for number in targets:
                    episode_id = None if number is None else (series_id - 1) * per_series + number
                    if episode_id is not None and episode_id > episodes:
                        continue
                    yield {
                        "review_id": review_id,
                        "series_id": series_id,
                        "episode_id": episode_id,
                        "episode_key": episode_id or 0,
                        "relation": Relation.REVIEWS.value,
                        "score": round(rng.random(), 3),
                        "evidence": evidence,
                        "status": LinkStatus.AUTO.value,
                        "linker_version": "bench",
                        "created_at": now,
                        "updated_at": now,
                    }

        n_links = many(LINK, link_rows())
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:  # ids were given: move the sequences on
            for table in ("feed", "series", "episode", "review"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        # What autovacuum does soon after a bulk load: statistics, and the visibility
        # map that lets counts read only the index.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    store.close()
    return {
        "series": n_series,
        "episodes": episodes,
        "reviews": reviews,
        "links": n_links,
        "fill_s": time.perf_counter() - started,
        "words": words,
    }


# --- the server, in its own process ------------------------------------------------------------


def serve(database_url: str, port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    from aggregator.api import build_router
    from aggregator.app import make_app
    from aggregator.settings import Settings

    app = make_app(Settings(database_url=database_url), migrate=False)
    http = FastAPI()
    http.include_router(build_router(app))
    uvicorn.run(http, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the API server exited")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the API server did not come up")


# --- measuring -----------------------------------------------------------------------------------


def measure(
    client: httpx.Client, requests: int, make_path: Callable[[], str]
) -> tuple[float, float, int]:
    """(p50 ms, p95 ms, items on the last page) of ``requests`` sequential requests."""
    for _ in range(5):  # warm: connection, caches, the first linker-free code paths
        client.get(make_path()).raise_for_status()
    times, items = [], 0
    for _ in range(requests):
        path = make_path()
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        body = response.json()
        items = len(body.get("items", body.get("episodes", ())))
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], items


def run(args: argparse.Namespace) -> tuple[dict[str, Any], list[tuple[str, float, float, int]]]:
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    database = args.database or f"sqlite:///{work / 'api.db'}"
    try:
        filled = fill(database, args.episodes, args.reviews)
        words: Words = filled.pop("words")
        rng = random.Random(7)
        n_series = filled["series"]
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", database, "--port", str(port)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_up(url, process)
            endpoints: list[tuple[str, Callable[[], str]]] = [
                ("GET /healthz (the floor: one SELECT 1)", lambda: "/healthz"),
                ("GET /api/series", lambda: f"/api/series?offset={rng.randint(0, 10) * PAGE}"),
                (
                    "GET /api/series/{id}/episodes (review counts)",
                    lambda: f"/api/series/{rng.randint(1, n_series)}/episodes",
                ),
                (
                    "GET /api/episodes?reviewed=false",
                    lambda: f"/api/episodes?reviewed=false&offset={rng.randint(0, 10) * PAGE}",
                ),
                ("GET /api/reviews", lambda: f"/api/reviews?offset={rng.randint(0, 10) * PAGE}"),
                (
                    "GET /api/series/{id}/reviews",
                    lambda: f"/api/series/{rng.randint(1, n_series)}/reviews",
                ),
                ("GET /api/links", lambda: f"/api/links?offset={rng.randint(0, 10) * PAGE}"),
                (
                    "GET /api/search/episodes?q=word",
                    lambda: f"/api/search/episodes?q={words.search_word()}",
                ),
                (
                    "GET /api/search/reviews?q=word",
                    lambda: f"/api/search/reviews?q={words.search_word()}",
                ),
                (
                    "GET /api/search?q=two words",
                    lambda: f"/api/search?q={words.search_word()}+{words.search_word()}",
                ),
            ]
            rows = []
            with httpx.Client(base_url=url, timeout=60) as client:
                for name, make_path in endpoints:
                    p50, p95, items = measure(client, args.requests, make_path)
                    rows.append((name, p50, p95, items))
                    print(f"  {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms", file=sys.stderr)
        finally:
            process.terminate()
            process.wait(timeout=30)
        return filled, rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(filled: dict[str, Any], rows: list[tuple[str, float, float, int]], db: str) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    # Other work on the machine shows in every figure: say how busy it was.
    machine += f", load average {os.getloadavg()[0]:.1f} at the end"
    lines = [
        f"## bench/api — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine}; database: {db}; {filled['series']:,} series, "
        f"{filled['episodes']:,} episodes, {filled['reviews']:,} reviews (2-5 KB), "
        f"{filled['links']:,} links (synthetic, filled in {filled['fill_s']:.0f} s); "
        "API served by uvicorn in its own process, asked by one httpx client over one "
        f"keep-alive connection, pages of {PAGE}.",
        "",
        "| endpoint | p50 | p95 | items | target p50 <= 20 ms |",
        "|---|---:|---:|---:|:---:|",
    ]
    for name, p50, p95, items in rows:
        ok = "" if name.startswith("GET /healthz") else "yes" if p50 <= TARGET_P50_MS else "**no**"
        lines.append(f"| `{name}` | {p50:.1f} ms | {p95:.1f} ms | {items} | {ok} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=100_000)
    parser.add_argument("--reviews", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300, help="per endpoint")
    parser.add_argument("--database", default=None, help="an empty database (default: SQLite)")
    parser.add_argument("--results", type=Path, default=None, help="append the section here")
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    filled, rows = run(args)
    db = "SQLite file (WAL)"
    if args.database is not None:  # host and database, no credentials or options
        db = "PostgreSQL at " + args.database.split("@")[-1].split("?")[0]
    text = report(filled, rows, db)
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as f:
            f.write("\n" + text)
    print(json.dumps({name: round(p50, 2) for name, p50, _, _ in rows}), file=sys.stderr)


if __name__ == "__main__":
    main()
