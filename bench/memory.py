"""Benchmark: peak memory of a poll and of serving the combined feed, 10k to 1M items.

    python bench/memory.py --baseline CHECKOUT [--sizes 10000,100000,1000000]
                           [--results bench/RESULTS.md]

A feed of N tiny items (``<item><guid>N</guid></item>``: a million of them is 31 MiB,
under the 32 MiB fetch limit) is served over HTTP by ``bench/_feedserver.py`` in a
process of its own. For each size, and for this tree and the ``--baseline`` checkout
side by side (``git worktree add /tmp/before <commit>``; each child runs with
``PYTHONPATH`` set to its tree), every figure is one child process measured alone:

1. ``aggregator poll`` of that feed into a fresh SQLite file: wall time, peak RSS
   (``/usr/bin/time``'s maximum resident set size), the summary line;
2. the HTTP service (``bench/_serve.py``: the app ``aggregator run`` serves, without
   the ticker) over a store holding the N episodes, answering one
   ``GET /feeds/series/1.xml``, then another one answering three at once: bytes sent,
   wall time, RSS when ready and peak RSS (VmHWM at exit).

The store served is the one the baseline's poll filled (every item); this tree's own
poll keeps ``poll.max_items`` of them. Then six feeds of 100k items polled by one
``aggregator poll``, as the SQLite write contention was met: wall, peak RSS, failures.
Target: peak RSS flat, at most 300 MB, from 10k to 1M items, polling and serving.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
MB = 1e6
TARGET_MB = 300


@dataclass(frozen=True)
class Poll:
    seconds: float
    peak: int  # bytes
    line: str  # the summary line, or the last line
    locked: int  # lines saying "database is locked" (a write that failed, or waited)


@dataclass(frozen=True)
class Serve:
    ready: int  # RSS bytes once serving, before any request
    peak: int
    sent: int  # bytes of one response
    seconds: float  # one request
    peak_three: int  # peak of another server answering three requests at once
    seconds_three: float


def tiny_feed(count: int) -> bytes:
    items = "".join(f"<item><guid>{n}</guid></item>\n" for n in range(count, 0, -1))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>Tiny {count}</title><link>https://example.com/</link>"
        f"<description>{count} tiny items</description>\n{items}</channel></rss>\n"
    ).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


def config(path: Path, database: Path, urls: list[str]) -> Path:
    feeds = "".join(f'[[feeds]]\nurl = "{url}"\n' for url in urls)
    path.write_text(f'[database]\nurl = "sqlite:///{database}"\n\n{feeds}', encoding="utf-8")
    return path


def env_for(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def measure_poll(tree: Path, cfg: Path, work: Path) -> Poll:
    """``aggregator --config cfg poll`` in a child under /usr/bin/time."""
    out = work / "time.txt"
    command = ["/usr/bin/time", "-f", "%M %e", "-o", str(out)]
    command += [sys.executable, "-m", "aggregator", "--config", str(cfg), "poll"]
    run = subprocess.run(
        command, env=env_for(tree), cwd=work, capture_output=True, text=True, timeout=3600
    )
    kib, seconds = out.read_text().split()[-2:]
    lines = [x for x in (run.stdout + run.stderr).splitlines() if x.strip()]
    summary = next((x for x in lines if x.startswith("polled ")), lines[-1] if lines else "")
    locked = sum("database is locked" in x for x in lines)
    return Poll(float(seconds), int(kib) * 1024, summary, locked)


def _get(url: str, into: list[tuple[int, float]]) -> None:
    started = time.monotonic()
    sent = 0
    with httpx.stream("GET", url, timeout=3600) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            sent += len(chunk)
    into.append((sent, time.monotonic() - started))


def serve_once(tree: Path, cfg: Path, work: Path, clients: int) -> tuple[int, int, int, float]:
    """A server child answering ``clients`` requests at once: RSS when ready, peak
    RSS, bytes of one response, wall time of the slowest."""
    port = free_port()
    peak_file, ready_file = work / "peak.txt", work / "ready.txt"
    for f in (peak_file, ready_file):
        f.unlink(missing_ok=True)
    command = [sys.executable, str(ROOT / "bench" / "_serve.py"), str(cfg), str(port)]
    command += [str(ready_file), str(peak_file)]
    child = subprocess.Popen(command, env=env_for(tree), cwd=work)
    try:
        wait_for_port(port)
        ready = int(ready_file.read_text())
        results: list[tuple[int, float]] = []
        url = f"http://127.0.0.1:{port}/feeds/series/1.xml"
        threads = [threading.Thread(target=_get, args=(url, results)) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if len(results) != clients:
            raise SystemExit(f"{tree}: a request failed")
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=120)
    return ready, int(peak_file.read_text()), results[0][0], max(s for _, s in results)


def measure_serve(tree: Path, cfg: Path, work: Path) -> Serve:
    ready, peak, sent, seconds = serve_once(tree, cfg, work, 1)
    _, peak_three, _, seconds_three = serve_once(tree, cfg, work, 3)
    return Serve(ready, peak, sent, seconds, peak_three, seconds_three)


def describe(tree: Path) -> str:
    run = subprocess.run(
        ["git", "-C", str(tree), "log", "-1", "--format=%h"], capture_output=True, text=True
    )
    return run.stdout.strip() or str(tree)


def measure(sizes: list[int], trees: dict[str, Path], work: Path) -> tuple[dict, dict, dict]:
    feeds_dir = work / "feeds"
    feeds_dir.mkdir()
    for n in sizes:
        (feeds_dir / f"tiny{n}.xml").write_bytes(tiny_feed(n))
    for i in range(6):
        (feeds_dir / f"six{i}.xml").write_bytes(tiny_feed(100_000))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "_feedserver.py"), str(port), str(feeds_dir), "1"],
        stdout=subprocess.DEVNULL,
    )
    polls: dict[tuple[str, int], Poll] = {}
    serves: dict[tuple[str, int], Serve] = {}
    six: dict[str, Poll] = {}
    try:
        wait_for_port(port)
        for n in sizes:
            url = f"http://127.0.0.1:{port}/tiny{n}.xml"
            stores: dict[str, Path] = {}
            for name, tree in trees.items():
                here = work / f"{name}-{n}"
                here.mkdir()
                stores[name] = here / "store.db"
                cfg = config(here / "config.toml", stores[name], [url])
                polls[(name, n)] = measure_poll(tree, cfg, here)
                print(name, n, polls[(name, n)], flush=True)
            # Both serve the store that holds every item (the baseline's poll).
            full = stores["before"]
            for name, tree in trees.items():
                here = work / f"{name}-{n}-serve"
                here.mkdir()
                cfg = config(here / "config.toml", full, [])
                serves[(name, n)] = measure_serve(tree, cfg, here)
                print(name, n, serves[(name, n)], flush=True)
        urls = [f"http://127.0.0.1:{port}/six{i}.xml" for i in range(6)]
        for name, tree in trees.items():
            here = work / f"{name}-six"
            here.mkdir()
            cfg = config(here / "config.toml", here / "store.db", urls)
            six[name] = measure_poll(tree, cfg, here)
            print(name, "six", six[name], flush=True)
    finally:
        server.terminate()
        server.wait()
    return polls, serves, six


def report(sizes: list[int], trees: dict[str, Path], polls: dict, serves: dict, six: dict) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = os.getloadavg()[0]
    codes = ", ".join(f"{name}: {describe(tree)}" for name, tree in trees.items())
    poll_rows = []
    serve_rows = []
    for n in sizes:
        for name in trees:
            p = polls[(name, n)]
            poll_rows.append(
                f"| {n:,} | {name} | {p.seconds:.1f} s | {p.peak / MB:,.0f} MB | {p.line} |"
            )
            s = serves[(name, n)]
            serve_rows.append(
                f"| {n:,} | {name} | {s.sent / MB:,.2f} MB | {s.seconds:.2f} s | "
                f"{s.ready / MB:,.0f} MB | {s.peak / MB:,.0f} MB | {s.peak_three / MB:,.0f} MB "
                f"({s.seconds_three:.1f} s) |"
            )
    six_rows = [
        f"| {name} | {p.seconds:.1f} s | {p.peak / MB:,.0f} MB | {p.locked} | {p.line} |"
        for name, p in six.items()
    ]
    return f"""## bench/memory — peak RSS of a poll and of serving, 10k to 1M items — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC

Machine: {machine}; SQLite file; load average when done: {load:.1f} (other jobs shared
the 2 cores). Code: {codes}. Each figure is one child process: `aggregator poll` under
`/usr/bin/time` (maximum resident set size), or the HTTP app (`bench/_serve.py`) whose
VmHWM is read at exit. Feeds of N tiny items (`<item><guid>N</guid></item>`; 1M is
31 MiB), served by `bench/_feedserver.py`. Target: peak RSS flat, <= {TARGET_MB} MB.

Polling the feed into a fresh store:

| items | code | wall | peak RSS | summary |
|---:|---|---:|---:|---|
{chr(10).join(poll_rows)}

Serving `GET /feeds/series/1.xml` from a store holding all N episodes (the
baseline's poll filled it): one request to a fresh server, then three at once to
another:

| episodes | code | response | wall | RSS ready | peak RSS, 1 request | peak RSS, 3 at once (wall) |
|---:|---|---:|---:|---:|---:|---:|
{chr(10).join(serve_rows)}

Six feeds of 100k items in one `aggregator poll` (8 workers), on SQLite:

| code | wall | peak RSS | lines "database is locked" | summary |
|---|---:|---:|---:|---|
{chr(10).join(six_rows)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--baseline", type=Path, required=True, help="a checkout of the code before"
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--results", type=Path, default=None, help="append the section here")
    args = parser.parse_args()
    if not shutil.which("/usr/bin/time"):
        raise SystemExit("needs /usr/bin/time (apt-get install time)")
    sizes = [int(x) for x in args.sizes.split(",")]
    trees = {"before": args.baseline.resolve(), "after": ROOT}
    work = Path(tempfile.mkdtemp(prefix="aggregator-memory-"))
    try:
        text = report(sizes, trees, *measure(sizes, trees, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
