"""Benchmark: polling throughput and the cost of an unchanged or slightly changed feed.

    python bench/poll.py [--feeds 1000] [--database URL] [--results bench/RESULTS.md]
                         [--repolls 5] [--baseline CHECKOUT]

Everything is real: a separate local HTTP server process (bench/_feedserver.py, on
20 loopback addresses so the per-host limit stays realistic), our Fetcher, parser and
Storage (a fresh SQLite file unless --database is given), and the Poller with its
default worker pool. It measures, side by side in one run:

1. first poll of N feeds (200 + parse + insert): feeds/s and CPU per feed;
2. re-polls where every feed answers 304, through ``Poller.poll_due()`` as the service
   runs it (claiming the due feeds with leases, renewing them, storing the schedule
   updates): feeds/s, CPU per feed (median of ``--repolls``), episode writes;
3. re-poll of a 3,000-item feed after one new episode (fetch + split + partial parse +
   store) vs a plain full ``feedparser.parse`` of the same document.

and writes a section of bench/RESULTS.md. CPU is our process's (all threads), so a
busy machine inflates it less than wall time.

``--baseline CHECKOUT`` (e.g. ``git worktree add /tmp/base <commit>``) also measures
the 304 re-polls of that checkout's code, side by side: ``--repoll-only`` children of
this script, alternating between the two trees so that load on the machine hits both
alike. Those children serve a one-item feed (the 304 path does not depend on it) so
that their first poll is quick.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx

from aggregator.app import make_app
from aggregator.settings import Settings
from aggregator.types import FeedKind

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "feeds" / "real"
EXAMPLES = ROOT / "examples" / "feeds"
HOSTS = 8
# Re-polls of the 3,000-item feed (one new episode each) and full parses to compare.
BIG_REPOLLS = 5
SMALL_FEEDS = [
    EXAMPLES / "caliphate.xml",
    SHARED / "serial__podkit-2017.xml",
    SHARED / "dw-langsam-gesprochene-nachrichten__partytime-2022.xml",
]
ITEM = re.compile(rb"<item\b.*?</item>", re.S)
TINY_FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Tiny</title>
<item><guid>one</guid><title>One</title></item></channel></rss>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def big_feed(items: int) -> bytes:
    """A ~3,000-item feed: Planet Money's real channel and items, cycled with new guids."""
    source = (SHARED / "planet-money-all-episodes__xjcl-2023.xml").read_bytes()
    found = ITEM.findall(source)
    head = source[: source.index(found[0])]
    tail = source[source.rindex(found[-1]) + len(found[-1]) :]
    out = []
    for i in range(items):
        item = found[i % len(found)]
        if i >= len(found):
            item = re.sub(rb"<guid([^>]*)>", rb"<guid\1>copy-%d-" % i, item, count=1)
        out.append(item)
    return head + b"\n".join(out) + tail


def add_item(document: bytes, n: int = 0) -> bytes:
    first = ITEM.search(document)
    assert first is not None
    guid = b"<guid\\1>bench-new-episode-" + str(n).encode()
    new = re.sub(rb"<guid([^>]*)>[^<]*", guid, first.group(0), count=1)
    new = re.sub(rb"<title>[^<]*", b"<title>A brand new episode", new, count=1)
    return document[: first.start()] + new + b"\n" + document[first.start() :]


class Server:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "_feedserver.py"),
                str(self.port),
                str(directory),
                str(HOSTS),
            ],
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == b"ready"

    def url(self, name: str, i: int = 0) -> str:
        return f"http://127.0.0.{1 + i % HOSTS}:{self.port}/{name}"

    def reload(self) -> None:
        httpx.get(self.url("__reload__"))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def timed(fn):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


class Clock:
    """Now, or later: moving it on makes every feed due again."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def repolls(app, clock: Clock, feeds: int, rounds: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """``rounds`` re-polls of every feed (all answer 304): medians, and episode writes."""
    walls, cpus, writes = [], [], 0
    for _ in range(rounds):
        clock.offset += timedelta(days=60)  # past any feed's next poll
        summary, wall, cpu = timed(app.poller.poll_due)
        assert summary.polled == feeds and summary.failed == 0, summary.line()
        writes += summary.new + summary.updated
        walls.append(wall)
        cpus.append(cpu)
    return {
        "repoll_feeds_per_s": feeds / statistics.median(walls),
        "repoll_cpu_ms_per_feed": 1000 * statistics.median(cpus) / feeds,
        "repoll_episode_writes": writes,
    }


def run(
    feeds: int, database_url: str | None, rounds: int, *, repoll_only: bool = False
) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="aggregator-bench-"))
    try:
        served = work / "served"
        served.mkdir()
        for i in range(feeds):
            if repoll_only:
                (served / f"feed-{i}.xml").write_bytes(TINY_FEED)
            else:
                shutil.copyfile(SMALL_FEEDS[i % len(SMALL_FEEDS)], served / f"feed-{i}.xml")
        big = big_feed(3000)
        (served / "big.xml").write_bytes(big)
        server = Server(served)
        url = database_url or f"sqlite:///{work / 'bench.db'}"
        settings = Settings(database_url=url)
        settings = replace(settings, poll=replace(settings.poll, batch_size=feeds + 1))
        clock = Clock()
        try:
            with make_app(settings, clock=clock) as app:
                now = app.clock()
                records = [
                    app.storage.add_feed(server.url(f"feed-{i}.xml", i), FeedKind.PODCAST, now)
                    for i in range(feeds)
                ]
                first, first_wall, first_cpu = timed(lambda: app.poller.poll_due(feeds=records))
                assert first.failed == 0, [r.error for r in first.reports if r.failed][:3]
                again = repolls(app, clock, feeds, rounds)
                if repoll_only:
                    return again

                big_record = app.storage.add_feed(server.url("big.xml"), FeedKind.PODCAST, now)
                app.poller.poll_feed(big_record)
                document = big
                big_walls, big_cpus = [], []
                for n in range(BIG_REPOLLS):  # one new episode each time
                    document = add_item(document, n)
                    (served / "big.xml").write_bytes(document)
                    server.reload()
                    changed = app.storage.get_feed(big_record.id)
                    report, wall, cpu = timed(lambda: app.poller.poll_feed(changed))  # noqa: B023
                    assert report.counts.new == 1, report
                    big_walls.append(wall)
                    big_cpus.append(cpu)
        finally:
            server.stop()
        full_walls, full_cpus = [], []
        for _ in range(BIG_REPOLLS):
            _, wall, cpu = timed(lambda: feedparser.parse(document))
            full_walls.append(wall)
            full_cpus.append(cpu)
        repoll_wall, full = statistics.median(big_walls), statistics.median(full_walls)
        repoll_cpu, full_cpu = statistics.median(big_cpus), statistics.median(full_cpus)
        return {
            "feeds": feeds,
            "first_feeds_per_s": feeds / first_wall,
            "first_cpu_ms_per_feed": 1000 * first_cpu / feeds,
            "first_new_episodes": first.new,
            "repolls": rounds,
            **again,
            "big_bytes": len(big),
            "big_repoll_s": repoll_wall,
            "big_repoll_cpu_s": repoll_cpu,
            "big_full_parse_s": full,
            "big_full_parse_cpu_s": full_cpu,
            "big_ratio": repoll_wall / full,
            "big_cpu_ratio": repoll_cpu / full_cpu,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compare(feeds: int, database_url: str | None, baseline: Path, rounds: int) -> str:
    """304 re-polls of this tree and of ``baseline``, in alternating children."""
    trees = {"this tree": ROOT, f"baseline ({_describe(baseline)})": baseline}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            command = [sys.executable, str(Path(__file__).resolve()), "--repoll-only"]
            command += ["--feeds", str(feeds), "--repolls", "3"]
            if database_url:
                command += ["--database", database_url]
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
            results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    lines = [
        f"Side by side: {rounds} alternating child runs per tree, 3 re-polls each (medians"
        f" per run; the median and range over runs below), {feeds} one-item feeds.",
        "",
        "| code | 304 re-poll feeds/s | CPU per unchanged feed |",
        "|---|---:|---:|",
    ]
    for name, runs in results.items():
        rates = sorted(r["repoll_feeds_per_s"] for r in runs)
        cpus = sorted(r["repoll_cpu_ms_per_feed"] for r in runs)
        lines.append(
            f"| {name} | {statistics.median(rates):.0f} ({rates[0]:.0f}–{rates[-1]:.0f}) "
            f"| {statistics.median(cpus):.2f} ms ({cpus[0]:.2f}–{cpus[-1]:.2f}) |"
        )
    return "\n".join(lines) + "\n"


def _describe(tree: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(tree), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    return out.stdout.strip()[:60] or str(tree)


def report(r: dict[str, float], database: str) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = os.getloadavg()[0]
    return f"""## bench/poll — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC

Machine: {machine}; database: {database}; default settings (8 workers, 2 per host,
{HOSTS} loopback hosts); server: bench/_feedserver.py in its own process; load average
when done: {load:.1f}. Re-polls go through `Poller.poll_due()` as the service runs it
(claims with leases, renewal, batched schedule updates); medians of {int(r["repolls"])}.

| measure | result | target |
|---|---:|---:|
| first poll of {int(r["feeds"])} feeds (200, parse, insert {int(r["first_new_episodes"])} episodes) | {r["first_feeds_per_s"]:.0f} feeds/s | |
| CPU per feed of that first poll | {r["first_cpu_ms_per_feed"]:.1f} ms | |
| re-poll, every feed answers 304 | {r["repoll_feeds_per_s"]:.0f} feeds/s | >= 1,000 feeds/s |
| CPU per unchanged feed (our process, all threads) | {r["repoll_cpu_ms_per_feed"]:.2f} ms | < 1 ms |
| episode writes on the 304 re-poll | {int(r["repoll_episode_writes"])} | 0 |
| re-poll of a 3,000-item feed ({r["big_bytes"] / 1e6:.1f} MB) after one new episode: fetch + split + partial parse + store, median of {BIG_REPOLLS} (CPU) | {r["big_repoll_s"] * 1000:.0f} ms ({r["big_repoll_cpu_s"] * 1000:.0f} ms) | |
| full feedparser parse of the same document, median of {BIG_REPOLLS} (CPU) | {r["big_full_parse_s"] * 1000:.0f} ms ({r["big_full_parse_cpu_s"] * 1000:.0f} ms) | |
| ratio, wall (CPU) | {100 * r["big_ratio"]:.1f} % ({100 * r["big_cpu_ratio"]:.1f} %) | <= 10 % |
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument(
        "--database", default=None, help="database URL (default: a temp SQLite file)"
    )
    parser.add_argument("--results", type=Path, default=None, help="append the table to this file")
    parser.add_argument("--repolls", type=int, default=5, help="304 re-polls to take the median of")
    parser.add_argument(
        "--baseline", type=Path, default=None, help="a checkout of other code to compare 304s with"
    )
    parser.add_argument("--repoll-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repoll_only:
        print(json.dumps(run(args.feeds, args.database, args.repolls, repoll_only=True)))
        return
    result = run(args.feeds, args.database, args.repolls)
    text = report(
        result, "SQLite file (WAL)" if args.database is None else args.database.split("@")[-1]
    )
    if args.baseline:
        text += "\n" + compare(args.feeds, args.database, args.baseline, args.repolls)
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
