"""Scale-out benchmark (issue 5): 1, 2 and 3 ``aggregator run`` instances on one PostgreSQL.

    python bench/scale.py [--feeds 5000] [--delays 0,100] [--instances 1,2,3]

For each server delay (a remote server's latency, in ms) and each instance count: a
fresh schema, the feeds imported from one OPML file (``aggregator opml import``), then
N instances started together (``python -m aggregator run --port P``), each with the
default config (8 workers, 2 per host). The clock runs from the feed server's first
request until every feed's poll is stored. Reported: feeds/s, the speed-up over one
instance, double fetches (feeds the server was asked for more than once: must be 0),
and each instance's peak RSS (VmHWM).

Feeds are served by bench/_feedserver.py in its own process on 50 loopback addresses
(many hosts, as real feeds have); PostgreSQL is the one at
``AGGREGATOR_BENCH_POSTGRES_URL`` (default: the CI database at 127.0.0.1:5432/test),
in a schema of its own that is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
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


def stored_polls(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as c:
            sql = (
                "SELECT count(*) FROM feed WHERE last_polled_at IS NOT NULL AND lease_owner IS NULL"
            )
            return int(c.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Run:
    delay_ms: float
    instances: int
    feeds: int
    seconds: float
    double_fetches: int
    requests: int
    peak_rss_mb: list[float]
    import_seconds: float

    @property
    def feeds_per_second(self) -> float:
        return self.feeds / self.seconds


def run_once(
    base: str, server: FeedServer, urls: list[str], instances: int, work: Path, delay_ms: float
) -> Run:
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
        while stored_polls(database_url) < len(urls):
            for p in procs:
                if p.poll() is not None:
                    raise SystemExit(f"an instance exited with {p.returncode}; see {work}")
            time.sleep(0.2)
        done = time.time()
        rss = [peak_rss_mb(p.pid) for p in procs]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    stats = server.stats()
    first = float(stats["first"])  # type: ignore[arg-type]
    repeated = stats["repeated"]
    assert isinstance(repeated, dict)
    return Run(
        delay_ms=delay_ms,
        instances=instances,
        feeds=len(urls),
        seconds=done - first,
        double_fetches=len(repeated),
        requests=int(stats["requests"]),  # type: ignore[call-overload]
        peak_rss_mb=rss,
        import_seconds=import_seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--delays", default="0,100", help="server latencies in ms")
    parser.add_argument("--instances", default="1,2,3")
    args = parser.parse_args()
    base = os.environ.get("AGGREGATOR_BENCH_POSTGRES_URL", DEFAULT_PG)
    counts = [int(n) for n in args.instances.split(",")]
    runs: list[Run] = []
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
                        run = run_once(base, server, urls, n, work, delay)
                        runs.append(run)
                        print(
                            f"delay {delay:g} ms, {n} instance(s): {run.feeds_per_second:.0f} "
                            f"feeds/s, {run.double_fetches} double fetches, peak RSS "
                            f"{', '.join(f'{r:.0f}' for r in run.peak_rss_mb)} MB",
                            flush=True,
                        )
                finally:
                    server.stop()
        finally:
            drop_schema(base)
    print()
    print(report(runs))


def report(runs: list[Run]) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores ({cpu}), Python "
        f"{platform.python_version()}, PostgreSQL on the same machine, {runs[0].feeds} feeds "
        f"of 5 episodes on {HOSTS} loopback hosts; opml import of {runs[0].feeds} feeds: "
        f"{min(r.import_seconds for r in runs):.1f} s",
        "",
        "| server latency | instances | feeds/s | vs 1 instance | double fetches | peak RSS per instance |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        one = next(x for x in runs if x.delay_ms == r.delay_ms and x.instances == 1)
        rss = ", ".join(f"{m:.0f}" for m in r.peak_rss_mb)
        lines.append(
            f"| {r.delay_ms:g} ms | {r.instances} | {r.feeds_per_second:.0f} | "
            f"{r.feeds_per_second / one.feeds_per_second:.2f}x | {r.double_fetches} | {rss} MB |"
        )
    return "\n".join(lines) + "\n\n" + json.dumps([r.__dict__ for r in runs])


if __name__ == "__main__":
    main()
