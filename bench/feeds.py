"""Benchmark: the combined feed of a 3,000-episode series, generated and revalidated.

    python bench/feeds.py [--episodes 3000] [--reviews 300] [--database URL]
                          [--results bench/RESULTS.md]

Everything is real: a 3,000-item feed synthesized from Planet Money's real items (as
bench/poll.py does), polled into a fresh SQLite file (or --database) by our Poller;
reviews saved through Storage and linked to episodes spread over the series (linker
proposals with evidence, as the linker writes them); the feeds served by our router
on a real uvicorn server on 127.0.0.1 and fetched with httpx. It measures:

1. generating the series feed: load from the store + render (median of 5), and the
   same over HTTP (a full 200);
2. a conditional GET with the ETag of the last response: 304 (median of 30), and the
   store's version query alone;
3. the reviews feed (of the series): a full 200 and a 304.

and writes a section of bench/RESULTS.md. The target: the combined feed of a
3,000-episode series generated in <= 1 s, and answered with 304 when unchanged.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parent))

from poll import big_feed, free_port  # bench/ is not a package: found via sys.path

from aggregator.app import App, make_app
from aggregator.settings import Settings
from aggregator.syndicate.routes import build_router, series_feed_bytes
from aggregator.types import Evidence, FeedKind, LinkProposal, Relation, ReviewDocument

REVIEW_TEXT = (
    "This week's episode, {title}, is one of the best the show has made. The hosts take "
    "a subject that sounds dry and make it vivid: {snippet} The reporting is careful, "
    "the tape is well chosen, and the ending lands. Recommended."
)


def median_time(
    fn: Callable[[], object], runs: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    times = []
    for _ in range(runs):
        started = clock()
        fn()
        times.append(clock() - started)
    return statistics.median(times)


def add_reviews(a: App, series_id: int, count: int) -> int:
    """``count`` reviews, each linked (as the linker would) to one episode, spread over
    the series, a fifth of them also to the series as a whole. Returns links made."""
    episodes = [row.episode for row in a.storage.episodes_page(series_id=series_id)]
    rng = random.Random(4)
    now = a.clock()
    links = 0
    for i in range(count):
        episode = episodes[rng.randrange(len(episodes))]
        snippet = " ".join(episode.description_html.split()[:40])
        text = REVIEW_TEXT.format(title=episode.title, snippet=snippet)
        start = text.index(episode.title)
        document = ReviewDocument(
            text=text,
            title=f"Review: {episode.title}",
            url=f"https://reviews.example.com/{i}",
            author="A. Critic",
            published=now - timedelta(days=i),
        )
        review = a.storage.save_review(
            document, content_hash=f"bench-{i}", source="url", now=now
        ).review
        evidence = (
            Evidence(
                kind="episode-title",
                text=episode.title,
                start=start,
                end=start + len(episode.title),
                detail="bench",
            ),
        )
        proposals = [LinkProposal(series_id, episode.id, Relation.REVIEWS, 0.9, evidence)]
        if i % 5 == 0:
            proposals.append(LinkProposal(series_id, None, Relation.REVIEWS, 0.8, evidence))
        links += len(a.storage.replace_links(review.id, proposals, linker_version="bench", now=now))
    return links


class Served:
    """Our feeds router on a real uvicorn server in a thread."""

    def __init__(self, a: App) -> None:
        http = FastAPI()
        http.include_router(build_router(a))
        self.port = free_port()
        config = uvicorn.Config(http, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join()


def run(episodes: int, reviews: int, database_url: str | None) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="aggregator-bench-feeds-"))
    try:
        source = work / "big.xml"
        source.write_bytes(big_feed(episodes))
        url = database_url or f"sqlite:///{work / 'bench.db'}"
        with make_app(Settings(database_url=url)) as a:
            feed = a.storage.add_feed(source.as_uri(), FeedKind.PODCAST, a.clock())
            report = a.poller.poll_feed(feed)
            assert report.counts.new == episodes, report.line()
            series_id = a.storage.series_page(limit=1)[0].series.id
            links = add_reviews(a, series_id, reviews)

            base = "http://127.0.0.1:8000"
            document = series_feed_bytes(a, series_id, base)
            generate = median_time(lambda: series_feed_bytes(a, series_id, base), 5)
            # CPU time too: on a shared machine wall time follows the other processes.
            generate_cpu = median_time(
                lambda: series_feed_bytes(a, series_id, base), 5, time.process_time
            )
            version = median_time(lambda: a.storage.feed_version(series_id=series_id), 30)

            served = Served(a)
            try:
                with httpx.Client(timeout=30) as client:
                    path = served.url(f"/feeds/series/{series_id}.xml")
                    first = client.get(path)
                    assert first.status_code == 200, first.status_code
                    full = median_time(lambda: client.get(path), 5)
                    validators = {"If-None-Match": first.headers["etag"]}
                    again = client.get(path, headers=validators)
                    assert again.status_code == 304, again.status_code
                    not_modified = median_time(lambda: client.get(path, headers=validators), 30)
                    reviews_path = served.url(f"/feeds/reviews.xml?series={series_id}")
                    reviews_first = client.get(reviews_path)
                    assert reviews_first.status_code == 200
                    reviews_full = median_time(lambda: client.get(reviews_path), 5)
                    reviews_validators = {"If-None-Match": reviews_first.headers["etag"]}
                    assert client.get(reviews_path, headers=reviews_validators).status_code == 304
                    reviews_304 = median_time(
                        lambda: client.get(reviews_path, headers=reviews_validators), 30
                    )
            finally:
                served.stop()
        return {
            "episodes": episodes,
            "reviews": reviews,
            "links": links,
            "bytes": len(document),
            "generate_s": generate,
            "generate_cpu_s": generate_cpu,
            "load": os.getloadavg()[0],
            "http_full_s": full,
            "http_304_s": not_modified,
            "version_s": version,
            "reviews_bytes": len(reviews_first.content),
            "reviews_full_s": reviews_full,
            "reviews_304_s": reviews_304,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(r: dict[str, float], database: str) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    ms = {k: 1000 * v for k, v in r.items() if k.endswith("_s")}
    return f"""## bench/feeds — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC

Machine: {machine}; database: {database}; a {int(r["episodes"])}-episode series
(Planet Money's real items, cycled) with {int(r["reviews"])} reviews and
{int(r["links"])} links; feeds served by uvicorn on 127.0.0.1, fetched with httpx.
Load average when done: {r["load"]:.1f} (other work on the machine slows wall times).

| measure | result | target |
|---|---:|---:|
| series feed generated: load from the store + render ({r["bytes"] / 1e6:.1f} MB), median of 5 | {ms["generate_s"]:.0f} ms | <= 1,000 ms |
| the same, CPU time of our process | {ms["generate_cpu_s"]:.0f} ms | |
| the same over HTTP (full 200), median of 5 | {ms["http_full_s"]:.0f} ms | |
| conditional GET with its ETag: 304, no rendering, median of 30 | {ms["http_304_s"]:.1f} ms | 304 |
| the feed version query alone, median of 30 | {ms["version_s"]:.1f} ms | |
| reviews feed of the series over HTTP ({r["reviews_bytes"] / 1e3:.0f} kB, 200 newest), median of 5 | {ms["reviews_full_s"]:.0f} ms | |
| reviews feed, conditional GET: 304, median of 30 | {ms["reviews_304_s"]:.1f} ms | 304 |
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=3000)
    parser.add_argument("--reviews", type=int, default=300)
    parser.add_argument(
        "--database", default=None, help="database URL (default: a temp SQLite file)"
    )
    parser.add_argument("--results", type=Path, default=None, help="append the table to this file")
    args = parser.parse_args()
    result = run(args.episodes, args.reviews, args.database)
    text = report(
        result, "SQLite file (WAL)" if args.database is None else args.database.split("@")[-1]
    )
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
