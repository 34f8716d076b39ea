"""The command line, end to end: real console script, real local server, real database."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from aggregator.cli import main
from aggregator.storage import open_storage
from tests.feedserver import FeedServer

REAL = Path(__file__).resolve().parent / "data" / "feeds" / "real"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "feeds"
SCRIPT = str(Path(sys.executable).with_name("aggregator"))


def item_guids(path: Path) -> list[str]:
    """The guids of a feed's items, read with the standard library (our reference)."""
    root = ET.parse(path).getroot()
    return [(item.findtext("guid") or "").strip() for item in root.iter("item")]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """An empty config, so the tests never pick up ./config.toml's public feeds."""
    path = tmp_path / "config.toml"
    path.write_text("[poll]\nworkers = 4\n", encoding="utf-8")
    return path


def cli(
    config: Path, database_url: str, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, as a user would."""
    return subprocess.run(
        [SCRIPT, "--config", str(config), "--database", database_url, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def run_main(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """Run ``main()`` in-process (cheaper than a process) and catch its exit."""
    monkeypatch.setattr(sys, "argv", ["aggregator", *args])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out, err


def test_add_poll_list_then_conditional_repoll(
    server: FeedServer, config: Path, database_url: str
) -> None:
    serial = REAL / "serial__lukaswhite-2020.rss"
    cortex = REAL / "cortex__podkit-2018.xml"
    server.serve("/serial.xml", serial.read_bytes())
    server.serve("/cortex.xml", cortex.read_bytes())

    for path in ("/serial.xml", "/cortex.xml"):
        added = cli(config, database_url, "feeds", "add", server.url(path))
        assert added.returncode == 0, added.stderr
    first = cli(config, database_url, "poll")
    assert first.returncode == 0, first.stderr
    expected = len(item_guids(serial)) + len(item_guids(cortex))
    assert f"polled 2 feeds: {expected} new episodes" in first.stdout

    listed = cli(config, database_url, "episodes", "list", "--json")
    episodes: list[dict[str, Any]] = json.loads(listed.stdout)
    assert sorted(e["guid"] for e in episodes) == sorted(item_guids(serial) + item_guids(cortex))
    for e in episodes:
        assert {
            "id",
            "series_id",
            "guid",
            "title",
            "published",
            "enclosure_url",
            "duration",
        } <= set(e)
        assert e["published"].endswith("+00:00")
        assert e["enclosure_url"].startswith("http")

    series = json.loads(cli(config, database_url, "series", "list", "--json").stdout)
    by_url = {s["feed_url"]: s for s in series}
    assert by_url[server.url("/serial.xml")]["title"] == "Serial"
    assert by_url[server.url("/serial.xml")]["episode_count"] == len(item_guids(serial))

    # A second poll, by hand, does not wait for the schedule: conditional requests,
    # nothing new stored.
    second = cli(config, database_url, "poll")
    assert second.returncode == 0, second.stderr
    assert "polled 2 feeds: 0 new episodes, 0 updated, 2 feeds unchanged, 0 failed" in second.stdout
    for path in ("/serial.xml", "/cortex.xml"):
        requests = server.requests_for(path)
        assert [r.status for r in requests] == [200, 304]
        assert requests[0].if_none_match is None and requests[1].if_none_match  # its ETag
    assert requests[0].user_agent is not None and requests[0].user_agent.startswith("aggregator/")
    again = json.loads(cli(config, database_url, "episodes", "list", "--json").stdout)
    assert len(again) == len(episodes)

    # The schedule's own view: nothing is due right after a poll; one feed on demand.
    assert "polled 0 feeds" in cli(config, database_url, "poll", "--due").stdout
    one = cli(config, database_url, "poll", "--feed", server.url("/serial.xml"))
    assert "polled 1 feed: 0 new episodes, 0 updated, 1 feed unchanged, 0 failed" in one.stdout
    assert [r.status for r in server.requests_for("/serial.xml")] == [200, 304, 304]


def test_failed_feed_does_not_stop_the_batch(
    server: FeedServer, config: Path, database_url: str
) -> None:
    server.serve("/ok.xml", (EXAMPLES / "caliphate.xml").read_bytes())
    server.fail("/broken.xml", 500)
    server.serve("/page.html", b"<html><body>Hello</body></html>", content_type="text/html")
    for path in ("/ok.xml", "/broken.xml", "/page.html"):
        assert cli(config, database_url, "feeds", "add", server.url(path)).returncode == 0
    result = cli(config, database_url, "poll")
    assert result.returncode == 0
    assert "polled 3 feeds: 13 new episodes" in result.stdout
    assert "2 failed" in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    assert len(errors) == 2
    assert any("/broken.xml" in e and "500" in e for e in errors)
    assert "Traceback" not in result.stderr

    feeds = {
        f["url"]: f for f in json.loads(cli(config, database_url, "feeds", "list", "--json").stdout)
    }
    assert feeds[server.url("/broken.xml")]["status"] == "failing"
    assert feeds[server.url("/broken.xml")]["error_count"] == 1
    assert feeds[server.url("/ok.xml")]["status"] == "active"

    # Polled again by hand: the failing feeds wait out their backoff, the others go.
    again = cli(config, database_url, "poll")
    assert "polled 1 feed: 0 new episodes, 0 updated, 1 feed unchanged, 0 failed" in again.stdout
    assert len(server.requests_for("/broken.xml")) == 1
    assert len(server.requests_for("/ok.xml")) == 2


def test_local_file_feed_and_opml_round_trip(
    tmp_path: Path, config: Path, database_url: str
) -> None:
    assert (
        cli(config, database_url, "feeds", "add", str(EXAMPLES / "caliphate.xml")).returncode == 0
    )
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<opml version="2.0"><body>'
        '<outline text="A" xmlUrl="https://a.example/rss"/>'
        '<outline text="B" xmlUrl="file:///etc/passwd"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    imported = cli(config, database_url, "opml", "import", str(opml))
    assert imported.returncode == 0, imported.stderr
    assert "1 feed added" in imported.stdout
    assert "skipped" in imported.stderr  # OPML may not add local files
    out = tmp_path / "export.opml"
    assert cli(config, database_url, "opml", "export", "-o", str(out)).returncode == 0
    exported = out.read_text(encoding="utf-8")
    assert "https://a.example/rss" in exported
    assert (EXAMPLES / "caliphate.xml").resolve().as_uri() in exported
    polled = cli(config, database_url, "poll", "--feed", str(EXAMPLES / "caliphate.xml"))
    assert "13 new episodes" in polled.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["feeds", "add", "gopher://x/y"], "only http, https and local files"),
        (["feeds", "add", "/no/such/file.xml"], "no such file"),
        (["feeds", "remove", "999"], "999"),
        (["poll", "--feed", "https://not.followed.example/rss"], "not.followed.example"),
        (["episodes", "list", "--series", "4242"], "4242"),
        (["opml", "import", "/no/such.opml"], "cannot read"),
    ],
)
def test_user_errors_are_one_line(
    args: list[str],
    message: str,
    config: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["--config", str(config), "--database", database_url]
    assert run_main([*base, "init"], monkeypatch, capsys)[0] == 0  # readers need a database
    code, _, err = run_main([*base, *args], monkeypatch, capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("aggregator: error: ")
    assert message in lines[0]


def test_duplicate_feed_is_refused(
    config: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["--config", str(config), "--database", database_url]
    assert run_main([*base, "feeds", "add", "https://a.example/rss"], monkeypatch, capsys)[0] == 0
    code, _, err = run_main([*base, "feeds", "add", "https://A.example/rss"], monkeypatch, capsys)
    assert code == 1
    assert "already" in err


def test_bad_config_and_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[poll]\nworkers = -1\n", encoding="utf-8")
    code, _, err = run_main(["--config", str(bad), "feeds", "list"], monkeypatch, capsys)
    assert code == 1
    assert (
        err.strip() == f"aggregator: error: {bad}: poll.workers must be a whole number >= 1, not -1"
    )

    code, _, err = run_main(
        ["--config", str(tmp_path / "none.toml"), "feeds", "list"], monkeypatch, capsys
    )
    assert code == 1 and "config file not found" in err

    code, _, err = run_main(["--database", "mysql://x", "feeds", "list"], monkeypatch, capsys)
    assert code == 1 and "--database: database url must start with" in err

    code, _, err = run_main(["feeds", "add", "x", "--kind", "video"], monkeypatch, capsys)
    assert code == 2 and "video" in err


def test_unreachable_database_is_one_line(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    code, _, err = run_main(
        ["--config", str(config), "--database", url, "feeds", "list"], monkeypatch, capsys
    )
    assert code == 1
    assert err.startswith("aggregator: error: ")
    assert len(err.strip().splitlines()) == 1


def test_run_polls_and_stops_cleanly_on_sigterm(tmp_path: Path, database_url: str) -> None:
    config = tmp_path / "config.toml"
    feed = tmp_path / "caliphate.xml"
    feed.write_bytes((EXAMPLES / "caliphate.xml").read_bytes())
    config.write_text(
        '[poll]\ntick_seconds = 1\n[[feeds]]\nurl = "caliphate.xml"\n', encoding="utf-8"
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [SCRIPT, "--config", str(config), "--database", database_url, "run", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        episodes: list[Any] = []
        while time.monotonic() < deadline and len(episodes) < 13:
            time.sleep(0.3)
            listed = cli(config, database_url, "episodes", "list", "--json")
            episodes = json.loads(listed.stdout) if listed.returncode == 0 else []
        assert len(episodes) == 13
        # the same process serves the API, the pages and the combined feeds
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        home = httpx.get(f"{base}/", timeout=10)
        assert home.status_code == 200 and "Caliphate" in home.text
        series = httpx.get(f"{base}/api/series", timeout=10).json()
        series_id = series["items"][0]["id"] if isinstance(series, dict) else series[0]["id"]
        feed = httpx.get(f"{base}/feeds/series/{series_id}.xml", timeout=10)
        assert feed.status_code == 200 and feed.text.count("<item>") == 13
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "SIGTERM: shutting down" in err
    assert "poll file://" in err and "new" in err  # one log line per poll
    assert err.rstrip().endswith("stopped")


@pytest.mark.parametrize(
    ("stop", "code", "said"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["ctrl-c", "sigterm"],
)
def test_a_poll_stopped_by_ctrl_c_or_sigterm_gives_back_the_feeds_it_claimed(
    server: FeedServer,
    tmp_path: Path,
    database_url: str,
    stop: signal.Signals,
    code: int,
    said: str,
) -> None:
    # One worker and slow answers: Ctrl-C lands while most feeds are still to poll.
    config = tmp_path / "config.toml"
    config.write_text("[poll]\nworkers = 1\n", encoding="utf-8")
    body = (REAL / "cortex__podkit-2018.xml").read_bytes()
    paths = [f"/feed-{n}.xml" for n in range(6)]
    for path in paths:
        server.serve(path, body)
        assert cli(config, database_url, "feeds", "add", server.url(path)).returncode == 0
    server.delay = 1.5
    proc = subprocess.Popen(
        [SCRIPT, "--config", str(config), "--database", database_url, "poll"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(server.requests_for(p) for p in paths):
        time.sleep(0.1)
    time.sleep(0.5)  # the first poll is under way
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert f"{said}: the feeds not polled yet are free again" in err
    assert "Traceback" not in err
    # The next poll polls every feed at once: none is left leased to the dead one.
    server.delay = 0.0
    again = cli(config, database_url, "poll")
    assert again.returncode == 0, again.stderr
    assert "polled 6 feeds" in again.stdout


def test_a_poll_after_one_killed_with_9_takes_back_the_feeds_it_held(
    server: FeedServer, tmp_path: Path, database_url: str
) -> None:
    # kill -9 gives a poll no chance to give its feeds back. The next poll on this
    # host sees its pid gone and polls them now, not when the leases run out.
    config = tmp_path / "config.toml"
    config.write_text("[poll]\nworkers = 1\n", encoding="utf-8")
    body = (REAL / "cortex__podkit-2018.xml").read_bytes()
    paths = [f"/feed-{n}.xml" for n in range(6)]
    for path in paths:
        server.serve(path, body)
        assert cli(config, database_url, "feeds", "add", server.url(path)).returncode == 0
    server.delay = 1.5
    proc = subprocess.Popen(
        [SCRIPT, "--config", str(config), "--database", database_url, "poll"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(server.requests_for(p) for p in paths):
        time.sleep(0.1)
    proc.kill()
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with open_storage(database_url) as storage:
        held, _ = storage.feeds_held_elsewhere(datetime.now(UTC), owner="nobody")
    assert held >= 5  # the one in flight, and those it had yet to take

    server.delay = 0.0
    again = cli(config, database_url, "poll")

    assert again.returncode == 0, again.stderr
    assert f"took back {held} feeds claimed by a poll that died" in again.stderr
    assert "skipped" not in again.stderr
    assert "polled 6 feeds" in again.stdout


def test_poll_says_which_feeds_a_killed_poll_still_holds(
    server: FeedServer, config: Path, database_url: str
) -> None:
    # A poll killed with -9 cannot give its feeds back: their leases run on. The next
    # poll polls the others and says how many it skipped, and until when.
    body = (REAL / "cortex__podkit-2018.xml").read_bytes()
    for n in range(3):
        server.serve(f"/feed-{n}.xml", body)
        assert (
            cli(config, database_url, "feeds", "add", server.url(f"/feed-{n}.xml")).returncode == 0
        )
    with open_storage(database_url) as storage:
        held = storage.claim_due_feeds(
            datetime.now(UTC), 2, owner="killed-poll", lease_seconds=120, ahead_of_schedule=True
        )
    assert len(held) == 2
    polled = cli(config, database_url, "poll")
    assert polled.returncode == 0, polled.stderr
    assert "polled 1 feed:" in polled.stdout
    assert "skipped 2 feeds another poll holds (its lease ends by " in polled.stderr
    held_paths = {"/" + f.url.rsplit("/", 1)[1] for f in held}
    assert all(server.requests_for(path) == [] for path in held_paths)
    assert sum(len(server.requests_for(f"/feed-{n}.xml")) for n in range(3)) == 1
