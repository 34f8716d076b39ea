"""Scale-out benchmark: 1, 2 and 3 ``aggregator run`` instances on one PostgreSQL.

    python bench/scale.py [--feeds 5000] [--delays 0,100] [--instances 1,2,3]

For each server delay (a remote server's latency, in ms) and each instance count: a
fresh schema, the feeds imported from one OPML file (``aggregator opml import``), then
N instances started together (``python -m aggregator run --port P``), each with the
default config (8 workers, 2 per host). Two cycles are timed, each from the feed
server's first request until every feed's poll is stored: the first poll (every feed
fetched, parsed and stored) and a re-poll of every feed made due at once (conditional
requests answered 304: a large deployment's steady state). Reported: feeds/s, the
speed-up over one instance, double fetches (feeds the server was asked for more than
once in the cycle: must be 0), and each instance's peak RSS (VmHWM).

Feeds are served by bench/_feedserver.py in its own process on 50 loopback addresses
(many hosts, as real feeds have); PostgreSQL is the one at
``AGGREGATOR_BENCH_POSTGRES_URL`` (default: the CI database at 127.0.0.1:5432/test),
in a schema of its own that is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
HOSTS = 50
SCHEMA = "aggregator_bench_scale"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def feed(i: int, episodes: int = 5) -> bytes:
    items = "".join(
        f"<item><title>Show {i}, episode {n}</title><guid>s{i}-e{n}</guid>"
        f"<pubDate>Mon, {n:02d} Jun 2025 08:00:00 GMT</pubDate>"
        f"<description>Episode {n} of show {i}: an interview about harbors.</description>"
        f'<enclosure url="https://cdn.example/{i}/{n}.mp3" type="audio/mpeg" length="1"/>'
        "</item>"
        for n in range(1, episodes + 1)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>Show {i}</title><link>https://shows.example/{i}</link>"
        f"<description>Show number {i}.</description>{items}</channel></rss>"
    ).encode()


class FeedServer:
    def __init__(self, directory: Path, delay_ms: float) -> None:
        self.port = free_port()
        script = ROOT / "bench" / "_feedserver.py"
        args = [str(self.port), str(directory), str(HOSTS), str(delay_ms)]
        self.proc = subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == b"ready"

    def url(self, name: str, i: int) -> str:
        return f"http://127.0.0.{1 + i % HOSTS}:{self.port}/{name}"

    def stats(self) -> dict[str, object]:
        data: dict[str, object] = httpx.get(self.url("__stats__", 0)).json()
        return data

    def reset(self) -> None:
        httpx.get(self.url("__reset__", 0))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def pg_url(base: str) -> str:
    url = make_url(base).update_query_dict({"options": f"-csearch_path={SCHEMA}"})
    return url.render_as_string(hide_password=False)


def reset_schema(base: str) -> None:
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        c.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
    engine.dispose()


def drop_schema(base: str) -> None:
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
    engine.dispose()


def cli(config: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"aggregator {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _scalar(database_url: str, sql: str) -> Any:
    engine = create_engine(database_url)
    try:
        with engine.begin() as c:
            return c.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def stored_since(database_url: str, since: datetime) -> int:
    """Feeds whose poll since ``since`` is stored (the lease cleared with it)."""
    sql = (
        "SELECT count(*) FROM feed WHERE lease_owner IS NULL "
        f"AND last_polled_at >= '{since.isoformat()}'"
    )
    return int(_scalar(database_url, sql))


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Cycle:
    """One polling cycle over every feed, by N instances together."""

    kind: str  # "first poll" (parse and store everything) or "re-poll" (304s)
    delay_ms: float
    instances: int
    feeds: int
    seconds: float
    double_fetches: int

    @property
    def feeds_per_second(self) -> float:
        return self.feeds / self.seconds


def _cycle(
    kind: str, server: FeedServer, database_url: str, feeds: int, procs: list[Any], since: datetime
) -> tuple[float, int]:
    while stored_since(database_url, since) < feeds:
        for p in procs:
            if p.poll() is not None:
                raise SystemExit(f"an instance exited with {p.returncode} during the {kind}")
        time.sleep(0.1)
    done = time.time()
    stats = server.stats()
    repeated = stats["repeated"]
    assert isinstance(repeated, dict)
    return done - float(stats["first"]), len(repeated)  # type: ignore[arg-type]


def run_once(
    base: str, server: FeedServer, urls: list[str], instances: int, work: Path, delay_ms: float
) -> tuple[list[Cycle], list[float], float]:
    """Both cycles for one instance count; also each instance's peak RSS, import time."""
    reset_schema(base)
    database_url = pg_url(base)
    config = work / "config.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n\n[poll]\ntick_seconds = 0.5\nbatch_size = 100\n'
    )
    (work / "feeds.opml").write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body>'
        + "".join(f'<outline type="rss" xmlUrl="{u}"/>' for u in urls)
        + "</body></opml>"
    )
    cli(config, "init")
    started = time.perf_counter()
    cli(config, "opml", "import", str(work / "feeds.opml"))
    import_seconds = time.perf_counter() - started
    server.reset()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    procs = []
    command = [sys.executable, "-m", "aggregator", "--config", str(config), "run", "--port"]
    cycles = []
    beginning = datetime(2000, 1, 1, tzinfo=UTC)
    for n in range(instances):
        log = (work / f"instance-{n}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [*command, str(free_port())],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        )
    try:
        seconds, doubles = _cycle("first poll", server, database_url, len(urls), procs, beginning)
        cycles.append(Cycle("first poll", delay_ms, instances, len(urls), seconds, doubles))
        # Every feed due again at once: the instances' next ticks re-poll all of them,
        # conditionally (304s), the steady state of a large deployment.
        server.reset()
        mark = _scalar(database_url, "SELECT now()")
        _scalar(database_url, "UPDATE feed SET next_poll_at = now() RETURNING 1")
        seconds, doubles = _cycle("re-poll", server, database_url, len(urls), procs, mark)
        cycles.append(Cycle("re-poll", delay_ms, instances, len(urls), seconds, doubles))
        rss = [peak_rss_mb(p.pid) for p in procs]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    return cycles, rss, import_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--delays", default="0,100", help="server latencies in ms")
    parser.add_argument("--instances", default="1,2,3")
    args = parser.parse_args()
    base = os.environ.get("AGGREGATOR_BENCH_POSTGRES_URL", DEFAULT_PG)
    counts = [int(n) for n in args.instances.split(",")]
    cycles: list[Cycle] = []
    rss: dict[tuple[float, int], list[float]] = {}
    imports: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "feeds").mkdir()
        for i in range(args.feeds):
            (work / "feeds" / f"f{i}.xml").write_bytes(feed(i))
        try:
            for delay in (float(d) for d in args.delays.split(",")):
                server = FeedServer(work / "feeds", delay)
                urls = [server.url(f"f{i}.xml", i) for i in range(args.feeds)]
                try:
                    for n in counts:
                        done, peaks, seconds = run_once(base, server, urls, n, work, delay)
                        cycles += done
                        rss[(delay, n)] = peaks
                        imports.append(seconds)
                        for c in done:
                            print(
                                f"delay {delay:g} ms, {n} instance(s), {c.kind}: "
                                f"{c.feeds_per_second:.0f} feeds/s, {c.double_fetches} double "
                                f"fetches; peak RSS {', '.join(f'{r:.0f}' for r in peaks)} MB",
                                flush=True,
                            )
                finally:
                    server.stop()
        finally:
            drop_schema(base)
    print()
    print(report(cycles, rss, imports, args.feeds))


def report(
    cycles: list[Cycle],
    rss: dict[tuple[float, int], list[float]],
    imports: list[float],
    feeds: int,
) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = os.getloadavg()[0]
    lines = [
        f"## bench/scale — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"PostgreSQL on the same machine; load average when done: {load:.1f}. {feeds} feeds "
        f"of 5 episodes on {HOSTS} loopback hosts, served by bench/_feedserver.py (its own "
        f"process); each instance with the default config (8 workers, 2 per host). "
        f"`opml import` of the {feeds} feeds: {min(imports):.1f} s.",
        "",
        "| server latency | cycle | instances | feeds/s | vs 1 instance | double fetches "
        "| peak RSS per instance |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for c in cycles:
        one = next(
            x for x in cycles if (x.delay_ms, x.kind, x.instances) == (c.delay_ms, c.kind, 1)
        )
        peaks = ", ".join(f"{m:.0f}" for m in rss[(c.delay_ms, c.instances)])
        lines.append(
            f"| {c.delay_ms:g} ms | {c.kind} | {c.instances} | {c.feeds_per_second:.0f} | "
            f"{c.feeds_per_second / one.feeds_per_second:.2f}x | {c.double_fetches} | "
            f"{peaks} MB |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
