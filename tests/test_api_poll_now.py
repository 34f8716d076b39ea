"""POST /api/feeds/{id}/poll: polls asked for through the API wait in a bounded queue.

A slow feed server is one whose answers wait behind a gate (tests/feedserver.py):
nothing here depends on a clock. How fast /healthz answers meanwhile is measured, not
tested: bench/poll_now.py, figures in bench/RESULTS.md.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

import httpx
import pytest

from aggregator.api._pollnow import PollNowQueue, QueueFull
from aggregator.feeds.poller import PollReport
from aggregator.settings import FetchSettings
from tests.api_support import TOKEN, running_api
from tests.feedserver import FeedServer

CALIPHATE = (
    Path(__file__).resolve().parents[1] / "examples" / "feeds" / "caliphate.xml"
).read_bytes()


@pytest.fixture
def slow_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.gate.clear()  # every answer waits until the test opens the gate
        try:
            yield server
        finally:
            server.gate.set()


def test_poll_now_beyond_the_queue_is_refused_with_retry_after(
    slow_server: FeedServer, database_url: str
) -> None:
    paths = ["/a.xml", "/b.xml", "/c.xml"]
    for path in paths:
        slow_server.serve(path, CALIPHATE)
    # One poll at a time and one waiting: the third feed asked for finds no room.
    # Fetches wait long enough for the gate whatever the machine's load.
    patient = FetchSettings(connect_timeout=5, read_timeout=60, total_timeout=60)
    with (
        running_api(
            database_url, allowed_networks=("127.0.0.0/8",), poll_now=(1, 1), fetch=patient
        ) as api,
        ThreadPoolExecutor(max_workers=3) as pool,
    ):
        ids = [
            api.write("POST", "/api/feeds", json={"url": slow_server.url(p)}).json()["id"]
            for p in paths
        ]

        def poll(feed_id: int) -> httpx.Response:
            with httpx.Client(base_url=api.url, timeout=120) as client:
                return client.post(
                    f"/api/feeds/{feed_id}/poll", headers={"Authorization": f"Bearer {TOKEN}"}
                )

        calls = {pool.submit(poll, feed_id): feed_id for feed_id in ids}
        # The two with room wait for the server; the one without is answered at once.
        done, waiting = wait(calls, timeout=30, return_when=FIRST_COMPLETED)
        assert len(done) == 1, "no request was refused: every one waits for the server"
        (refused,) = [future.result() for future in done]
        assert refused.status_code == 429, refused.text
        assert refused.headers["Retry-After"].isdigit()
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"].startswith("too many polls asked for at once")
        # The service answers meanwhile.
        assert api.get("/healthz").status_code == 200

        slow_server.gate.set()
        answered = [future.result() for future in waiting]
        assert sorted(r.status_code for r in answered) == [200, 200]
        assert {r.json()["outcome"] for r in answered} == {"new"}
        # With room again, the refused feed is polled when asked again.
        (refused_id,) = [calls[future] for future in done]
        assert poll(refused_id).json()["outcome"] == "new"


def report(feed_id: int) -> PollReport:
    return PollReport(feed_id, f"https://feeds.example/{feed_id}.xml", "unchanged")


def test_the_queue_runs_workers_at_once_keeps_places_and_shares_a_feed_s_poll() -> None:
    queue = PollNowQueue(workers=1, waiting=1)
    release = threading.Event()
    started: list[int] = []

    def held(feed_id: int) -> PollReport:
        started.append(feed_id)
        release.wait(30)
        return report(feed_id)

    try:
        first = queue.submit(1, lambda: held(1))
        second = queue.submit(2, lambda: held(2))
        with pytest.raises(QueueFull) as full:
            queue.submit(3, lambda: held(3))
        assert full.value.retry_after >= 1
        # The same feed asked for again shares the poll waiting or under way.
        assert queue.submit(2, lambda: held(2)) is second
        assert queue.submit(1, lambda: held(1)) is first
        release.set()
        assert first.result(30).feed_id == 1 and second.result(30).feed_id == 2
        assert started == [1, 2]  # one at a time, in order, each once
        # Room again: the next feed is taken.
        assert queue.submit(3, lambda: report(3)).result(30).feed_id == 3
    finally:
        release.set()
        queue.close()
