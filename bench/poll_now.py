"""Benchmark: how fast /healthz answers while many "poll now" requests wait on slow feeds.

    python bench/poll_now.py [--calls 45] [--delay 10] [--baseline CHECKOUT]
                             [--results bench/RESULTS.md]

Runs ``aggregator run`` from this tree (and from ``--baseline``, e.g. a ``git archive``
of the code before, one after the other) on a fresh SQLite file, next to a slow feed
server in its own process (bench/_feedserver.py: every answer ``--delay`` seconds
late, no CPU spent). Adds ``--calls`` feeds through the API, then asks for all of
them to be polled at once (``POST /api/feeds/{id}/poll`` with the token, one client
thread each), while a prober asks ``GET /healthz`` every 50 ms, one request at a
time, until the last poll-now answer has come. The scheduler is kept out of the way
(one tick a day): only the poll-now requests load the service.

Reports the probes' latency (p50, p95, max) idle and under that load, and the
poll-now answers by status. The target: /healthz within 100 ms under any load.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
FEED = ROOT / "examples" / "feeds" / "caliphate.xml"
TOKEN = "bench-token"
TARGET_MS = 100.0
PROBE_EVERY = 0.05
IDLE_PROBES = 40


@dataclass
class Run:
    code: str
    idle_ms: list[float] = field(default_factory=list)
    loaded_ms: list[float] = field(default_factory=list)
    probe_statuses: Counter[int] = field(default_factory=Counter)
    poll_statuses: Counter[int] = field(default_factory=Counter)
    retry_after: list[int] = field(default_factory=list)
    burst_seconds: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the service did not come up")


def measure(tree: Path, code: str, calls: int, feed_port: int, work: Path) -> Run:
    run = Run(code)
    home = work / code.split()[0]
    home.mkdir()
    config = home / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{home / "bench.db"}"\n'
        "[poll]\ntick_seconds = 86400\n"
        "[fetch]\nread_timeout = 300\ntotal_timeout = 600\n"
        f'[http]\ntoken = "{TOKEN}"\nallowed_networks = ["127.0.0.0/8"]\n',
        encoding="utf-8",
    )
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
    try:
        wait_healthy(base, service)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=base, timeout=30) as client:
            ids = []
            for n in range(calls):
                url = f"http://127.0.0.1:{feed_port}/feed-{n}.xml"
                added = client.post("/api/feeds", json={"url": url}, headers=auth)
                added.raise_for_status()
                ids.append(added.json()["id"])
            for _ in range(IDLE_PROBES):
                started = time.perf_counter()
                client.get("/healthz")
                run.idle_ms.append((time.perf_counter() - started) * 1000)
                time.sleep(PROBE_EVERY)

        done = threading.Event()
        lock = threading.Lock()

        def poll_now(feed_id: int) -> None:
            with httpx.Client(base_url=base, timeout=900) as client:
                response = client.post(f"/api/feeds/{feed_id}/poll", headers=auth)
            with lock:
                run.poll_statuses[response.status_code] += 1
                if "Retry-After" in response.headers:
                    run.retry_after.append(int(response.headers["Retry-After"]))

        def probe() -> None:
            with httpx.Client(base_url=base, timeout=900) as client:
                while not done.is_set():
                    started = time.perf_counter()
                    response = client.get("/healthz")
                    run.loaded_ms.append((time.perf_counter() - started) * 1000)
                    run.probe_statuses[response.status_code] += 1
                    time.sleep(PROBE_EVERY)

        prober = threading.Thread(target=probe)
        clients = [threading.Thread(target=poll_now, args=(i,)) for i in ids]
        started = time.perf_counter()
        for thread in clients:
            thread.start()
        time.sleep(0.2)  # the burst is under way before the first probe
        prober.start()
        for thread in clients:
            thread.join()
        run.burst_seconds = time.perf_counter() - started
        done.set()
        prober.join()
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=120)
        except subprocess.TimeoutExpired:
            service.kill()
    return run


def describe(tree: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(tree), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    return out.stdout.strip()[:60] or str(tree)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(runs: list[Run], calls: int, delay: float) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        f"## bench/poll_now — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine}; SQLite; `aggregator run` with default settings and the",
        "scheduler idle; slow feed server: bench/_feedserver.py, every answer "
        f"{delay:g} s late; {calls} poll-now requests at once (one client thread each),",
        f"/healthz asked every {PROBE_EVERY * 1000:.0f} ms by one client until the last "
        f"poll-now answer; idle: {IDLE_PROBES} probes before. Load average when done: "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        "| code | /healthz idle p50 / max | /healthz under the burst: probes | p50 | p95 | max "
        "| poll-now answers | Retry-After | last answer after | target |",
        "|---|---:|---:|---:|---:|---:|---|---|---:|---|",
    ]
    for r in runs:
        answers = ", ".join(f"{n}x {status}" for status, n in sorted(r.poll_statuses.items()))
        retry = f"{min(r.retry_after)}–{max(r.retry_after)} s" if r.retry_after else "—"
        probes = sum(r.probe_statuses.values())
        failing = sum(n for status, n in r.probe_statuses.items() if status != 200)
        probes_text = f"{probes}" + (f" ({failing} not 200)" if failing else "")
        lines.append(
            f"| {r.code} | {statistics.median(r.idle_ms):.1f} / {max(r.idle_ms):.1f} ms "
            f"| {probes_text} | {percentile(r.loaded_ms, 0.5):.1f} ms "
            f"| {percentile(r.loaded_ms, 0.95):.1f} ms | {max(r.loaded_ms):.1f} ms "
            f"| {answers} | {retry} | {r.burst_seconds:.1f} s | < {TARGET_MS:.0f} ms |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=45)
    parser.add_argument("--delay", type=float, default=10.0, help="seconds per feed answer")
    parser.add_argument("--baseline", type=Path, default=None, help="a tree of other code")
    parser.add_argument("--results", type=Path, default=None, help="append the table to this file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-poll-now-"))
    feeds = work / "feeds"
    feeds.mkdir()
    for n in range(args.calls):
        shutil.copyfile(FEED, feeds / f"feed-{n}.xml")
    feed_port = free_port()
    serve = [sys.executable, str(ROOT / "bench" / "_feedserver.py"), str(feed_port), str(feeds)]
    server = subprocess.Popen(
        [*serve, "1", str(args.delay * 1000)],
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "ready"
        trees = [(ROOT, f"this tree ({describe(ROOT)})")]
        if args.baseline:
            trees.append((args.baseline.resolve(), f"baseline ({describe(args.baseline)})"))
        runs = [measure(tree, code, args.calls, feed_port, work) for tree, code in trees]
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    text = report(runs, args.calls, args.delay)
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
