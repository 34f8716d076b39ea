"""What the CLI says, as a user sees it: help, warnings, empty lists, errors, a poll
in a terminal, and a database we may only read."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.exceptions import StorageError
from aggregator.storage import open_storage
from aggregator.storage._migrate import HEAD, downgrade_to
from aggregator.types import Relation
from tests.cli_support import Cli
from tests.feedserver import FeedServer
from tests.stored import episode_records
from tests.terminal import run_in_terminal
from tests.webapp_support import SERIAL_A, SERIAL_B, serial_feed

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(Path(sys.executable).with_name("aggregator"))
CALIPHATE = ROOT / "examples" / "feeds" / "caliphate.xml"
SEED = ROOT / "tests" / "data" / "linking" / "reviews" / "seed.txt"


def script(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    return subprocess.run(
        [*prefix, SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "100"},
        check=False,
    )


# --- help ---------------------------------------------------------------------------


def test_help_shows_where_settings_come_from_and_no_value_types_on_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(tmp_path / "config.toml", "sqlite:///unused.db", monkeypatch, capsys)
    code, top, _ = cli("--help")
    assert code == 0
    top = " ".join(top.split())  # as wrapped for any width
    assert "[env: AGGREGATOR_CONFIG; default: ./config.toml]" in top
    assert "[env: AGGREGATOR_DATABASE_URL; config: database.url]" in top
    assert "--database URL Database URL" in top
    assert "-v, --verbose Log more." in top  # a flag takes no value

    _, run, _ = cli("run", "--help")
    assert re.search(r"--host ADDRESS\s+Listen on this address \[config: http\.host\]", run)
    assert re.search(r"--port PORT\s+Listen on this port \[config: http\.port\]", run)

    _, add, _ = cli("feeds", "add", "--help")
    assert "aggregator feeds add [OPTIONS] {URL}" in add  # Typer's braces: required

    for args in (["--help"], ["run", "--help"], ["feeds", "add", "--help"], ["links", "--help"]):
        _, out, _ = cli(*args)
        assert "<bool>" not in out, args
        assert not re.search(r"\{[a-z]+\}", out), args  # metavars are named, in capitals


# --- settings -----------------------------------------------------------------------


def test_unknown_config_keys_are_warned_about_with_key_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[pol]\nworkers = 3\n[poll]\nworkerz = 3\n[[feeds]]\nurl = "a.xml"\nknd = "reviews"\n',
        encoding="utf-8",
    )
    cli = Cli(config, f"sqlite:///{tmp_path / 'a.db'}", monkeypatch, capsys)
    code, out, err = cli("init")
    assert code == 0, err
    assert "database ready" in out
    assert err.splitlines() == [
        f"aggregator: warning: {config}: unknown table [pol], ignored (did you mean [poll]?)",
        f"aggregator: warning: {config}: unknown key poll.workerz, ignored "
        "(did you mean poll.workers?)",
        f"aggregator: warning: {config}: unknown key feeds[0].knd, ignored "
        "(did you mean feeds[0].kind?)",
    ]


# --- the service ----------------------------------------------------------------------


def test_run_on_a_busy_port_fails_before_it_says_serving(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    database = tmp_path / "never.db"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = script(
            "--config", str(config), "--database", f"sqlite:///{database}", "run",
            "--port", str(port),
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"aggregator: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    assert not database.exists()  # it stopped before opening the store


# --- polling --------------------------------------------------------------------------


def test_poll_prints_its_summary_and_failures_only(
    server: FeedServer, tmp_path: Path, database_url: str
) -> None:
    # As the README says: one summary line, and a line per failed feed on stderr.
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    base = ["--config", str(config), "--database", database_url]
    server.serve("/ok.xml", CALIPHATE.read_bytes())
    server.fail("/broken.xml", 500)
    for path in ("/ok.xml", "/broken.xml"):
        assert script(*base, "feeds", "add", server.url(path)).returncode == 0
    done = script(*base, "poll")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "polled 2 feeds: 13 new episodes, 0 updated, 0 feeds unchanged, 1 failed"
    ]
    [failure] = done.stderr.splitlines()
    assert failure.startswith(f"failed: {server.url('/broken.xml')}: ") and "500" in failure


def test_a_poll_in_an_80_column_terminal_keeps_log_lines_apart_from_the_bar(
    server: FeedServer, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    base = ["--config", str(config), "--database", f"sqlite:///{tmp_path / 'a.db'}"]
    urls = []
    for n in range(6):
        path = f"/a-feed-with-a-long-enough-name-to-wrap-in-eighty-columns-{n}.xml"
        server.serve(path, CALIPHATE.read_bytes())
        urls.append(server.url(path))
        assert script(*base, "feeds", "add", urls[-1]).returncode == 0
    server.delay = 0.3  # polls take a while: the bar is redrawn between log lines

    code, raw, screen = run_in_terminal([SCRIPT, "-v", *base, "poll"], columns=80)

    assert code == 0, screen
    assert "━".encode() in raw  # the bar was drawn...
    assert "━" not in screen and "polling" not in screen  # ...and is gone
    # Each poll's log line is whole (wrapped by the terminal, but nothing written
    # over it), then the summary.
    flat = re.sub(r"\s+", "", screen)
    for url in urls:
        assert re.search(rf"INFOpoll{re.escape(url)}:new\(new13,.{{0,60}}?\)in\d+ms", flat), url
    assert "polled6feeds:78newepisodes" in flat


# --- lists ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["feeds", "list"], "no feeds yet: add one with `aggregator feeds add URL`"),
        (["series", "list"], "no series yet: they come with the first poll of a podcast feed"),
        (["episodes", "list"], "no episodes yet"),
        (["reviews", "list"], "no reviews yet: add one with `aggregator reviews add FILE|URL|-`"),
        (["links"], "no links yet"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v),
)
def test_an_empty_list_says_so(cli: Cli, args: list[str], said: str) -> None:
    assert cli("init")[0] == 0
    assert cli(*args) == (0, "", said + "\n")
    assert cli(*args, "--json") == (0, "[]\n", "")  # scripts get the list, and only it


def test_links_in_text_show_their_status_and_evidence(cli: Cli) -> None:
    assert cli("feeds", "add", str(CALIPHATE))[0] == 0
    assert cli("poll")[0] == 0
    assert cli("reviews", "add", str(SEED), "--published", "2018-07-01")[0] == 0
    stored = cli.json("links")
    series_link = next(x for x in stored if x["episode"] is None)

    code, out, err = cli("links")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"review {series_link['review']['id']}: {series_link['review']['title']}"
    assert sum(line.startswith("review ") for line in lines) == 1  # named once
    head = f"  reviews  {series_link['score']:.2f}  Caliphate  [auto]"
    assert head in lines
    shown = lines[lines.index(head) + 1 : lines.index(head) + 7]
    for line, evidence in zip(shown, series_link["evidence"], strict=False):
        assert line == f"      {evidence['kind']}: {evidence['text']!r} ({evidence['detail']})"
    assert len(shown) == min(6, len(series_link["evidence"]))


def test_series_of_one_title_are_told_apart_by_publisher_and_feed_host(
    cli: Cli, server: FeedServer, database_url: str
) -> None:
    # Two feeds both titled "Serial", by different publishers; and one of its own.
    urls = {}
    for key, author in (("a", SERIAL_A), ("b", SERIAL_B)):
        server.serve(f"/{key}/feed.xml", serial_feed(server, key, author).encode())
        urls[key] = server.url(f"/{key}/feed.xml")
        assert cli("feeds", "add", urls[key])[0] == 0
    assert cli("feeds", "add", str(CALIPHATE))[0] == 0
    assert cli("poll")[0] == 0
    by_url = {s["feed_url"]: s for s in cli.json("series", "list")}
    a, b = by_url[urls["a"]], by_url[urls["b"]]
    assert a["title"] == b["title"] == "Serial"

    code, out, err = cli("series", "list")
    assert code == 0, err
    lines = out.splitlines()
    assert f"{a['id']:>5} Serial ({SERIAL_A} · 127.0.0.1, 2 episodes) <{urls['a']}>" in lines
    assert f"{b['id']:>5} Serial ({SERIAL_B} · 127.0.0.1, 2 episodes) <{urls['b']}>" in lines
    assert any(re.fullmatch(r" +\d+ Caliphate \(\d+ episodes\) <file:.+>", x) for x in lines)

    code, out, err = cli("feeds", "list")
    assert code == 0, err
    lines = out.splitlines()
    assert any(x.endswith(f" Serial ({SERIAL_A} · 127.0.0.1) <{urls['a']}>") for x in lines)
    assert any(x.endswith(f" Serial ({SERIAL_B} · 127.0.0.1) <{urls['b']}>") for x in lines)
    assert any(re.search(r" Caliphate <file:.+>$", x) for x in lines)  # no label needed

    # A review linked by hand to Serial A's first episode and to Serial B as a whole.
    code, out, err = cli("reviews", "add", "-", "--title", "Two", stdin=b"Both, side by side.")
    assert code == 0, err
    (review,) = cli.json("reviews", "list")
    with open_storage(database_url) as storage:
        first = min(e.id for e in episode_records(storage, a["id"]))
        now = datetime.now(UTC)
        storage.add_link(review["id"], a["id"], first, Relation.REVIEWS, now)
        storage.add_link(review["id"], b["id"], None, Relation.MENTIONS, now)
    code, out, err = cli("links")
    assert code == 0, err
    lines = out.splitlines()
    episode_a = f"Serial ({SERIAL_A} · 127.0.0.1) / Episode 01: The Alibi (a)"
    assert f"  reviews  1.00  {episode_a}  [manual]" in lines
    assert f"  mentions 1.00  Serial ({SERIAL_B} · 127.0.0.1)  [manual]" in lines


# --- errors ---------------------------------------------------------------------------


def test_a_directory_is_no_review_file(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "reviews"
    folder.mkdir()
    code, out, err = cli("reviews", "add", str(folder))
    assert (code, out) == (1, "")
    assert err == f"aggregator: error: {folder}: is a directory, not a review file\n"


# The tests run as root in CI, and root may write any file; without CAP_DAC_OVERRIDE
# it keeps only the rights the file modes give it.
UNPRIVILEGED = (
    ("setpriv", "--inh-caps=-all", "--bounding-set=-dac_override", "--")
    if os.geteuid() == 0
    else ()
)


def test_a_read_only_database_can_be_read_and_errors_name_it(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    folder = tmp_path / "ro"
    database = folder / "a.db"
    base = ["--config", str(config), "--database", f"sqlite:///{database}"]
    assert script(*base, "feeds", "add", str(CALIPHATE)).returncode == 0
    assert sorted(p.name for p in folder.iterdir()) == ["a.db"]  # closed: no -wal, -shm
    database.chmod(0o444)
    folder.chmod(0o555)
    try:
        listed = script(*base, "feeds", "list", prefix=UNPRIVILEGED)
        assert listed.returncode == 0, listed.stderr
        assert CALIPHATE.resolve().as_uri() in listed.stdout
        series = script(*base, "series", "list", prefix=UNPRIVILEGED)
        assert (series.returncode, series.stdout) == (0, ""), series.stderr

        # A write is refused in one line that says which database.
        added = script(*base, "feeds", "add", "https://b.example/rss", prefix=UNPRIVILEGED)
        assert added.returncode == 1
        [line] = added.stderr.splitlines()
        assert line.startswith(f"aggregator: error: {database}: ") and "readonly" in line
        assert sorted(p.name for p in folder.iterdir()) == ["a.db"]  # nothing left behind
    finally:
        folder.chmod(0o755)
        database.chmod(0o644)


def test_readers_neither_create_nor_migrate_a_database(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    missing = tmp_path / "missing.db"
    done = script("--config", str(config), "--database", f"sqlite:///{missing}", "feeds", "list")
    assert done.returncode == 1
    assert done.stderr == (
        f"aggregator: error: {missing}: no database here (`aggregator init` creates one)\n"
    )
    assert not missing.exists()

    old = tmp_path / "old.db"
    base = ["--config", str(config), "--database", f"sqlite:///{old}"]
    assert script(*base, "init").returncode == 0
    with open_storage(f"sqlite:///{old}") as store:
        downgrade_to(store._write_engine, "0003")
    done = script(*base, "series", "list")
    assert done.returncode == 1
    assert done.stderr == (
        f"aggregator: error: {old}: the database's schema is revision 0003, this aggregator "
        f"reads {HEAD} (`aggregator init` upgrades an older one)\n"
    )
    with open_storage(f"sqlite:///{old}") as store, pytest.raises(StorageError, match="0003"):
        store.check_schema()  # still as it was
    assert script(*base, "init").returncode == 0
    assert script(*base, "series", "list").returncode == 0
