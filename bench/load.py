"""Benchmark: pages and API lists under 50 connections while polling runs.

    python bench/load.py [--baseline CHECKOUT] [--duration 10] [--connections 50]
                         [--afresh 100] [--results bench/RESULTS.md]

The data is the real one (this script reads ``../shared``; tests may not): the
*Caliphate* feed and the 22 real feeds of ``../shared/data/feeds/real``, served from
127.0.0.1 by ``bench/_feedserver.py`` (its own process, over 8 loopback addresses),
and the ten starter reviews of ``../shared/data/dev/linking`` with their titles, URLs
and dates. One store is filled once, by the oldest code measured (``init``, ``poll``,
``reviews add``), and copied for each tree, which upgrades its copy when it starts.

Each tree then runs ``aggregator run`` on its copy, polling every feed every few
seconds (``tick_seconds`` 2, intervals of 3 to 6 s), while the bench adds an episode
to the Caliphate feed every ``--change-every`` seconds (so polls store, the linker
re-links, and whatever a server keeps must follow). ``wrk -t2 -c{connections}
-d{duration}s --latency`` asks each page the header links (home, series, episodes,
reviews, feeds), a series page, an episode page, a review page, the API lists and
/healthz, one address after the other. Then, the feeds left unchanged (polling on,
all 304s), it asks each address ``--afresh`` times, one request at a time, for an
answer made afresh (``Cache-Control: no-cache``), and reports the service's CPU time
per request: what an answer costs to make. The trees run one after the other, with
the same data, in one run.

The target: pages >= 250 req/s, API lists >= 500 req/s, p99 <= 500 ms, no timeouts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
REAL_FEEDS = SHARED / "feeds" / "real"
CALIPHATE = SHARED / "dev" / "caliphate.xml"
STARTER = SHARED / "dev" / "linking"
HOSTS = 8
TOKEN = "bench-token"
TARGET_PAGE_RPS = 250.0
TARGET_API_RPS = 500.0
TARGET_P99_MS = 500.0


@dataclass(frozen=True)
class Target:
    label: str
    path: str
    kind: str  # "page", "api" or "health"


@dataclass(frozen=True)
class Result:
    target: Target
    rps: float
    p50_ms: float
    p99_ms: float
    timeouts: int
    errors: int  # connect, read and write errors, and answers other than 2xx/3xx
    polls: int  # feed requests the service made meanwhile
    afresh_cpu_ms: float = 0.0  # the service's CPU per request made afresh (no-cache)

    def met(self) -> bool:
        want = {"page": TARGET_PAGE_RPS, "api": TARGET_API_RPS}.get(self.target.kind)
        if want is None:
            return True
        return self.rps >= want and self.p99_ms <= TARGET_P99_MS and not self.timeouts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def describe(tree: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(tree), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    return out.stdout.strip()[:50] or tree.name


# --- the data ---------------------------------------------------------------------------


def feed_files(directory: Path) -> list[str]:
    """Copy the Caliphate feed and the real feeds into ``directory``; their names."""
    directory.mkdir()
    shutil.copyfile(CALIPHATE, directory / "caliphate.xml")
    names = ["caliphate.xml"]
    for path in sorted(REAL_FEEDS.iterdir()):
        if path.suffix in (".xml", ".rss"):
            shutil.copyfile(path, directory / path.name)
            names.append(path.name)
    return names


def config_text(database: Path, urls: list[str]) -> str:
    # Every feed due every 3-6 s, looked for every 2 s: polling never stops.
    poll = (
        "interval_minutes = 0.05\nmin_interval_minutes = 0.05\nmax_interval_minutes = 0.1\n"
        "tick_seconds = 2\n"
    )
    feeds = "".join(f'[[feeds]]\nurl = "{url}"\n' for url in urls)
    return (
        f'[database]\nurl = "sqlite:///{database}"\n[poll]\n{poll}'
        f'[http]\ntoken = "{TOKEN}"\n{feeds}'
    )


def aggregator(tree: Path, config: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(config), *args],
        env={**os.environ, "PYTHONPATH": str(tree)},
        cwd=config.parent,  # with -m, the working directory comes before PYTHONPATH
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"aggregator {' '.join(args)}: {done.stderr.strip()[-500:]}")
    return done.stdout


def fill(tree: Path, home: Path, urls: list[str]) -> Path:
    """A store with every feed polled once and the starter reviews added and linked."""
    database = home / "filled.db"
    config = home / "fill.toml"
    # The bench's own intervals: the feeds are due again once the service starts.
    config.write_text(config_text(database, urls), encoding="utf-8")
    aggregator(tree, config, "init")
    print(aggregator(tree, config, "poll").strip(), file=sys.stderr)
    labels = json.loads((STARTER / "labels.json").read_text(encoding="utf-8"))
    for review in labels["reviews"]:
        aggregator(
            tree,
            config,
            "reviews",
            "add",
            str(STARTER / "reviews" / review["file"]),
            "--url",
            review["url"],
            "--title",
            review["title"],
            "--published",
            review["published"],
        )
    return database


class Changer(threading.Thread):
    """Adds an episode to the Caliphate feed every ``every`` seconds, as a publisher
    would, and has the feed server read its files again."""

    def __init__(self, feeds: Path, reload_url: str, every: float) -> None:
        super().__init__(daemon=True)
        self.path = feeds / "caliphate.xml"
        self.original = self.path.read_text(encoding="utf-8")
        self.reload_url = reload_url
        self.every = every
        self.stop = threading.Event()
        self.count = 0

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.count += 1
            stamp = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
            item = (
                f"<item><guid>bench-{self.count}</guid><title>Bench episode {self.count}"
                f"</title><pubDate>{stamp}</pubDate><description>Added by bench/load.py."
                "</description></item>\n    <item>"
            )
            text = self.original.replace("<item>", item, 1)
            self.path.write_text(text, encoding="utf-8")
            httpx.get(self.reload_url, timeout=30)

    def restore(self) -> None:
        self.path.write_text(self.original, encoding="utf-8")
        httpx.get(self.reload_url, timeout=30)


# --- measuring ----------------------------------------------------------------------------


def wait_healthy(base: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the service did not come up")


_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, connections: int, duration: float) -> tuple[float, float, float, int, int]:
    """req/s, p50 and p99 in ms, timeouts, other errors."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise SystemExit(f"wrk {url}: no Requests/sec in its output:\n{out[-500:]}")
    rps = float(found.group(1))
    latency = {q: float(v) * _UNIT_MS[u] for q, v, u in _LATENCY.findall(out)}
    timeouts, errors = 0, 0
    if socket_errors := re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        connect, read, write, timeouts = (int(g) for g in socket_errors.groups())
        errors += connect + read + write
    if non_2xx := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(non_2xx.group(1))
    return rps, latency.get("50", 0.0), latency.get("99", 0.0), timeouts, errors


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(pid: int, url: str, times: int) -> float:
    """The service's CPU per request, in ms, over ``times`` requests one at a time,
    each asking for an answer made afresh (``Cache-Control: no-cache``; code that
    keeps none makes every one): what a page costs to make, for a logged-in reader
    or the first reader after a write. CPU, not wall time: other work on the machine
    stretches the one, not the other."""
    with httpx.Client(timeout=60, headers={"Cache-Control": "no-cache"}) as client:
        client.get(url).raise_for_status()  # a first request may warm caches
        started = cpu_seconds(pid)
        for _ in range(times):
            client.get(url).raise_for_status()
        return (cpu_seconds(pid) - started) * 1000 / times


def targets(base: str) -> list[Target]:
    """What to ask: the header's pages, one page of each kind, the API lists."""
    with httpx.Client(base_url=base, timeout=30) as client:
        series = client.get("/api/series", params={"limit": 500}).json()["items"]
        caliphate = next(s for s in series if s["title"] == "Caliphate")
        episodes = client.get(f"/api/series/{caliphate['id']}/episodes").json()["items"]
        reviews = client.get("/api/reviews").json()["items"]
    episode = episodes[-1]["id"]  # the oldest: the Prologue
    review = next(r["id"] for r in reviews if r["link_count"])
    return [
        Target("home", "/", "page"),
        Target("series list", "/series", "page"),
        Target("episodes", "/episodes", "page"),
        Target("reviews", "/reviews", "page"),
        Target("feeds", "/feeds", "page"),
        Target("a series (Caliphate)", f"/series/{caliphate['id']}", "page"),
        Target("an episode", f"/episodes/{episode}", "page"),
        Target("a review", f"/reviews/{review}", "page"),
        Target("API series", "/api/series", "api"),
        Target("API episodes, limit 50", "/api/episodes?limit=50", "api"),
        Target("API reviews", "/api/reviews", "api"),
        Target("API links", "/api/links", "api"),
        Target("API feeds", "/api/feeds", "api"),
        Target("/healthz", "/healthz", "health"),
    ]


def polls_made(stats_url: str) -> int:
    return int(httpx.get(stats_url, timeout=30).json()["requests"])


@dataclass(frozen=True)
class FeedServer:
    """The feed server's addresses, and the directory of the files it serves."""

    urls: list[str]
    files: Path
    stats_url: str
    reload_url: str


def measure(
    tree: Path, code: str, filled: Path, feeds: FeedServer, work: Path, args: argparse.Namespace
) -> list[Result]:
    home = work / code
    home.mkdir()
    database = home / "bench.db"
    shutil.copyfile(filled, database)
    config = home / "config.toml"
    config.write_text(config_text(database, feeds.urls), encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "aggregator", "--config", str(config), "run"]
    with (home / "service.log").open("wb") as log:
        service = subprocess.Popen(
            [*command, "--port", str(port)],
            env={**os.environ, "PYTHONPATH": str(tree)},
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    changer = Changer(feeds.files, feeds.reload_url, args.change_every)
    results = []
    try:
        try:
            wait_healthy(base, service)
        except SystemExit as e:
            log_tail = (home / "service.log").read_text(encoding="utf-8")[-2000:]
            raise SystemExit(f"{code}: {e}\n{log_tail}") from None
        time.sleep(args.settle)  # the first ticks: every feed polled once at least
        changer.start()
        for target in targets(base):
            before = polls_made(feeds.stats_url)
            rps, p50, p99, timeouts, errors = wrk(
                base + target.path, args.connections, args.duration
            )
            polls = polls_made(feeds.stats_url) - before
            results.append(Result(target, rps, p50, p99, timeouts, errors, polls))
            print(f"{code}: {results[-1]}", file=sys.stderr)
        # What each address costs to make, without the publisher's changes (and the
        # re-linking they bring) running beside: polling goes on, all 304s.
        changer.stop.set()
        changer.join()
        time.sleep(args.settle)
        for i, result in enumerate(results):
            cpu = cpu_per_request(service.pid, base + result.target.path, args.afresh)
            results[i] = replace(result, afresh_cpu_ms=cpu)
    finally:
        if changer.ident is not None:
            changer.stop.set()
            changer.join()
            changer.restore()
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=120)
        except subprocess.TimeoutExpired:
            service.kill()
    return results


# --- the report ----------------------------------------------------------------------------


def report(runs: list[tuple[str, list[Result]]], args: argparse.Namespace, feeds: int) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    codes = " · ".join(f"{code}: {tree}" for code, tree in args.described)
    lines = [
        f"## bench/load — pages and API lists at {args.connections} connections while polling "
        f"— {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"`python bench/load.py` on this machine ({machine}); SQLite; {feeds} feeds (the "
        "Caliphate feed and the 22 real feeds) served from 127.0.0.1, each polled every "
        f"3-6 s, an episode added to the Caliphate feed every {args.change_every:g} s; the "
        f"ten starter reviews; `wrk -t2 -c{args.connections} -d{args.duration:g}s` on each "
        f"address in turn, on the same 2 cores. Code: {codes}. Load average when done: "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        "| address | "
        + " | ".join(f"{code}: req/s, p50 / p99, timeouts" for code, _ in runs)
        + " | target | met | "
        + " | ".join(f"CPU to make one, {code}" for code, _ in runs)
        + " |",
        "|---|" + "---:|" * len(runs) + "---|---|" + "---:|" * len(runs),
    ]
    for i, first in enumerate(runs[0][1]):
        cells = []
        for _, results in runs:
            r = results[i]
            errors = f", {r.errors} errors" if r.errors else ""
            cells.append(f"{r.rps:,.0f}, {r.p50_ms:.0f} / {r.p99_ms:.0f} ms, {r.timeouts}{errors}")
        want = {"page": TARGET_PAGE_RPS, "api": TARGET_API_RPS}.get(first.target.kind)
        target = f">= {want:.0f} req/s, p99 <= {TARGET_P99_MS:.0f} ms" if want else ""
        met = "yes" if runs[-1][1][i].met() else "no"
        made = " | ".join(f"{results[i].afresh_cpu_ms:.1f} ms" for _, results in runs)
        lines.append(
            f"| {first.target.label} `{first.target.path}` | {' | '.join(cells)} "
            f"| {target} | {met if want else ''} | {made} |"
        )
    polls = ", ".join(f"{code}: {sum(r.polls for r in results):,}" for code, results in runs)
    lines += [
        "",
        f"Feed requests made by the service during wrk: {polls}. CPU to make one: the "
        f"service's CPU time over {args.afresh} requests one at a time with "
        "`Cache-Control: no-cache` (code that keeps nothing makes every answer), after "
        "the wrk runs, with the feeds unchanged (polling on, all 304s): what an answer "
        "costs a logged-in reader, or the first reader after a write.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, default=None, help="a tree of other code")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per address")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--change-every", type=float, default=5.0, help="seconds")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds before measuring")
    parser.add_argument("--afresh", type=int, default=100, help="requests made afresh, each")
    parser.add_argument("--results", type=Path, default=None, help="append the table to this file")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    feeds = work / "feeds"
    names = feed_files(feeds)
    feed_port = free_port()
    serve = [sys.executable, str(ROOT / "bench" / "_feedserver.py"), str(feed_port), str(feeds)]
    server = subprocess.Popen([*serve, str(HOSTS)], stdout=subprocess.PIPE)
    trees = [(ROOT, "after")]
    if args.baseline:
        trees.insert(0, (args.baseline.resolve(), "before"))
    args.described = [(code, describe(tree)) for tree, code in trees]
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "ready"
        urls = [
            f"http://127.0.0.{i % HOSTS + 1}:{feed_port}/{name}" for i, name in enumerate(names)
        ]
        base = f"http://127.0.0.1:{feed_port}"
        served = FeedServer(urls, feeds, f"{base}/__stats__", f"{base}/__reload__")
        filled = fill(trees[0][0], work, urls)
        runs = [(code, measure(tree, code, filled, served, work, args)) for tree, code in trees]
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    text = report(runs, args, len(names))
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
