"""Benchmark: the hostile servers a poll must survive, case by case: time and peak RSS.

    python bench/hostile.py [--results bench/RESULTS.md]

Every case of ``tests/hostile_server.py`` (stall, trickle, reset, truncation, redirect
loop, redirects to ``file:`` and private addresses, gzip bomb, 2 GB bodies, wrong
content types, billion laughs, XXE) on a local misbehaving server, beside 3 good feeds
on a well-behaved one. Everything is real: our Fetcher, parser, Poller and a SQLite
file. It measures, in one run:

1. each case alone, polled in this process: elapsed time and the error stored;
2. each case alone, polled by a child ``python -m aggregator poll``: its peak RSS;
3. the whole batch (every case and the good feeds at once) in one child: wall time
   and peak RSS;
4. a child polling only the good feeds: the baseline RSS of the process.

Timeouts are the short ones of the tests (connect 1 s, read 1.5 s, total 2 s). Size
limits are measured both ways: the tests' (4 MiB body, 16 MiB decompressed) and the
defaults (32 MiB body, 64 MiB decompressed), since those decide the memory a gzip
bomb or a huge body can take. Target: every case ends within the timeouts, under
200 MB RSS.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the hostile server and its cases live in tests/

from aggregator.feeds.fetch import Fetcher  # noqa: E402
from aggregator.feeds.poller import Poller  # noqa: E402
from aggregator.settings import FetchSettings, PollSettings  # noqa: E402
from aggregator.storage import open_storage  # noqa: E402
from aggregator.types import FeedKind  # noqa: E402
from tests.feedserver import FeedServer  # noqa: E402
from tests.hostile_server import (  # noqa: E402
    HOSTILE_LIMITS,
    HostileCase,
    HostileServer,
    hostile_cases,
    poll_config,
    run_measured,
)

POLL = PollSettings(workers=32, per_host=32)
DEFAULT_SIZES = replace(
    HOSTILE_LIMITS,
    max_body_bytes=FetchSettings().max_body_bytes,
    max_decompressed_bytes=FetchSettings().max_decompressed_bytes,
)
GOOD = ["alpha", "beta", "gamma"]


def good_feed(name: str) -> bytes:
    items = "".join(
        f"<item><title>{name} {i}</title><guid>{name}-{i}</guid></item>" for i in range(3)
    )
    return f'<rss version="2.0"><channel><title>{name}</title>{items}</channel></rss>'.encode()


@dataclass
class Limits:
    """One set of size limits: each case alone (in process and in a child), the batch."""

    alone: dict[str, tuple[float, str]] = field(default_factory=dict)  # elapsed s, error
    rss: dict[str, int] = field(default_factory=dict)  # peak RSS bytes of its own child
    batch: tuple[float, int] = (0.0, 0)  # wall s, peak RSS bytes


def in_process(cases: list[HostileCase], limits: FetchSettings, work: Path, into: Limits) -> None:
    """Each case alone through the real Poller: elapsed time and the error stored."""
    with open_storage(f"sqlite:///{work / 'in-process.db'}") as storage, Fetcher(limits) as f:
        storage.migrate()
        poller = Poller(storage, f, POLL, clock=lambda: datetime.now(UTC), random=lambda: 0.5)
        for case in cases:
            feed = storage.add_feed(case.url, FeedKind.PODCAST, datetime.now(UTC))
            started = time.monotonic()
            poller.poll_feed(feed)
            elapsed = time.monotonic() - started
            stored = storage.get_feed(feed.id).last_error or "(none: polled fine)"
            into.alone[case.name] = (elapsed, stored.removeprefix(case.url + ": "))
            storage.remove_feed(feed.id)  # the next run adds it again


def child(urls: list[str], limits: FetchSettings, work: Path, name: str) -> tuple[float, int]:
    """``aggregator poll`` of ``urls`` in a child: (wall s, peak RSS bytes)."""
    config = work / f"{name}.toml"
    config.write_text(
        poll_config(
            urls,
            database=work / f"{name}.db",
            fetch=limits,
            workers=POLL.workers,
            per_host=POLL.per_host,
        ),
        encoding="utf-8",
    )
    run = run_measured("aggregator", ["--config", str(config), "poll"], cwd=work, timeout=300)
    if "Traceback" in run.stderr or run.returncode not in (0, 1):
        raise SystemExit(f"{name}: exit {run.returncode}\n{run.stderr[-3000:]}")
    return run.seconds, run.peak_rss_bytes


def measure() -> tuple[list[str], dict[str, Limits], tuple[float, int]]:
    """Case names; results under the test and the default size limits; the baseline."""
    work = Path(tempfile.mkdtemp(prefix="aggregator-hostile-"))
    secret_feed = work / "secret-feed.xml"
    secret_feed.write_bytes(good_feed("secret"))
    secret_text = work / "secret.txt"
    secret_text.write_text("secret\n", encoding="utf-8")
    hostile = HostileServer()
    try:
        with FeedServer() as good:
            for name in GOOD:
                good.serve(f"/{name}.xml", good_feed(name))
            good_urls = [good.url(f"/{name}.xml") for name in GOOD]
            cases = hostile_cases(hostile, secret_feed=secret_feed, secret_text=secret_text)
            results = {}
            for label, limits in (("test", HOSTILE_LIMITS), ("default", DEFAULT_SIZES)):
                r = results[label] = Limits()
                in_process(cases, limits, work, r)
                for i, c in enumerate(cases):
                    r.rss[c.name] = child([c.url], limits, work, f"{label}-{i}")[1]
                r.batch = child([c.url for c in cases] + good_urls, limits, work, f"{label}-all")
            baseline = child(good_urls, HOSTILE_LIMITS, work, "baseline")
            return [c.name for c in cases], results, baseline
    finally:
        hostile.close()
        shutil.rmtree(work, ignore_errors=True)


def report(cases: list[str], results: dict[str, Limits], baseline: tuple[float, int]) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = os.getloadavg()[0]
    mb = 1e6
    test, default = results["test"], results["default"]
    rows = []
    for name in cases:
        t_elapsed, t_error = test.alone[name]
        d_elapsed, d_error = default.alone[name]
        error = t_error if t_error == d_error else f"{t_error}; default sizes: {d_error}"
        rows.append(
            f"| {name} | {t_elapsed:.2f} s | {test.rss[name] / mb:.0f} MB | {d_elapsed:.2f} s "
            f"| {default.rss[name] / mb:.0f} MB | {error} |"
        )
    table = "\n".join(rows)
    return f"""## bench/hostile — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC

Machine: {machine}; database: SQLite file; load average when done: {load:.1f}.
Timeouts: connect 1 s, read 1.5 s, total 2 s. Size limits: the tests' (4 MiB body,
16 MiB decompressed) and the defaults (32 MiB, 64 MiB). "Alone": one case polled in
the bench's process (elapsed) or by its own child `python -m aggregator poll` (that
child's peak RSS: VmHWM at its exit). Target: within the timeouts, under 200 MB RSS.

| case | elapsed, test sizes | peak RSS alone | elapsed, default sizes | peak RSS alone | stored error (after the feed URL) |
|---|---:|---:|---:|---:|---|
{table}

| whole batch in one child: `aggregator poll` of {len(cases)} hostile + {len(GOOD)} good feeds, 32 workers | wall | peak RSS | target |
|---|---:|---:|---:|
| test size limits | {test.batch[0]:.1f} s | {test.batch[1] / mb:.0f} MB | < 200 MB |
| default size limits | {default.batch[0]:.1f} s | {default.batch[1] / mb:.0f} MB | < 200 MB |
| baseline: the {len(GOOD)} good feeds only | {baseline[0]:.1f} s | {baseline[1] / mb:.0f} MB | |

Wall times of the children include starting Python and importing the package.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--results", type=Path, default=None, help="append the table to this file")
    args = parser.parse_args()
    text = report(*measure())
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
