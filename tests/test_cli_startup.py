"""What a command imports before it does anything: the heavy stages only where used.

Every command pays for what it imports, ``--help`` included: FastAPI and uvicorn,
feedparser, trafilatura, rapidfuzz and the linker cost most of a second together
(bench/cli_startup.py measures it). Each case runs the real command in a fresh
interpreter and reads ``sys.modules`` as it exits.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from aggregator.cli import app

# Records every module imported by the time the command exits, then runs it.
_PROBE = """
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "aggregator"
from aggregator.cli import main
main()
"""

# Needed by the service, a poll, or taking a review in; never by reading the store.
STAGES = [
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "feedparser",
    "httpx",
    "apscheduler",
    "trafilatura",
    "lxml",
    "rapidfuzz",
    "rich",
    "alembic",
    "aggregator.linking",
    "aggregator.reviews",
    "aggregator.feeds.poller",
    "aggregator.feeds.fetch",
    "aggregator.server",
]
# Needed to write what was fetched or typed (HTML to text, host names checked), never
# to read the store or print help: html.parser, nh3 and idna cost a reading command
# about 5 ms CPU (bench/cli_startup.py).
WRITING = ["aggregator.sanitize", "html.parser", "nh3", "idna", "aggregator.feeds.locations"]
# Needed to read the store; not to print help. (Not pydantic: Typer coerces option
# values with it, so any command that parses its options loads it.)
STORE = ["sqlalchemy", "psycopg", "aggregator.storage", "aggregator.app"]
# Never needed to read the store: it is read with SQLAlchemy Core alone (tables and
# statements; the ORM cost every reading command about 0.2 s CPU with SQLModel), and
# PostgreSQL's dialect only for a PostgreSQL database (bench/cli_startup.py).
NOT_FOR_READING = ["sqlalchemy.orm", "sqlalchemy.ext", "sqlalchemy.dialects.postgresql"]


def imported(tmp_path: Path, *args: str) -> set[str]:
    """The modules loaded by ``aggregator ARGS`` by the time it exits (successfully)."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text(encoding="utf-8")))


def loaded(modules: set[str], names: list[str]) -> list[str]:
    """Which of ``names`` (packages count with their submodules) were loaded."""
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


@pytest.fixture
def base(tmp_path: Path) -> list[str]:
    """Options for an empty config and a database made by `init` (SQLite: the imports
    do not depend on the backend, bar the driver)."""
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    options = ["--config", str(config), "--database", f"sqlite:///{tmp_path / 'a.db'}"]
    assert "aggregator.storage" in imported(tmp_path, *options, "init")
    return options


@pytest.mark.parametrize(
    "args", [["--help"], ["feeds", "--help"], ["run", "--help"], ["version"]], ids=" ".join
)
def test_help_imports_neither_the_store_nor_the_stages(tmp_path: Path, args: list[str]) -> None:
    modules = imported(tmp_path, *args)
    assert loaded(modules, STAGES + WRITING + STORE) == []


@pytest.mark.parametrize(
    "args",
    [
        ["feeds", "list"],
        ["feeds", "list", "--json"],
        ["series", "list"],
        ["episodes", "list"],
        ["reviews", "list"],
        ["links"],
        ["opml", "export"],
    ],
    ids=" ".join,
)
def test_reading_the_store_imports_none_of_the_stages(
    tmp_path: Path, base: list[str], args: list[str]
) -> None:
    modules = imported(tmp_path, *base, *args)
    assert "aggregator.storage" in modules  # it did read the store
    assert loaded(modules, STAGES + WRITING + NOT_FOR_READING) == []


def test_a_poll_does_import_the_poller(tmp_path: Path, base: list[str]) -> None:
    # The probe sees what a command loads: one that polls loads the fetch and parse
    # stages, so the empty lists above are not an artefact of the probe.
    modules = imported(tmp_path, *base, "poll")
    assert {"feedparser", "httpx", "aggregator.feeds.poller"} <= modules
    assert {"aggregator.sanitize", "idna"} <= modules


def test_a_postgresql_database_does_load_its_dialect(tmp_path: Path) -> None:
    # Nor is the PostgreSQL dialect's absence above an artefact: a command naming a
    # PostgreSQL database loads it (and fails to connect to this closed port).
    out, config = tmp_path / "modules.json", tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1"
    options = ["--config", str(config), "--database", url]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *options, "feeds", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1 and "aggregator: error:" in done.stderr
    assert "sqlalchemy.dialects.postgresql" in json.loads(out.read_text(encoding="utf-8"))


def _callbacks(app: typer.Typer) -> Iterator[Callable[..., Any]]:
    """Every function Typer reads the parameters of: commands and group callbacks."""
    if app.registered_callback is not None and app.registered_callback.callback is not None:
        yield app.registered_callback.callback
    for command in app.registered_commands:
        assert command.callback is not None
        yield command.callback
    for group in app.registered_groups:
        assert group.typer_instance is not None
        yield from _callbacks(group.typer_instance)


def test_typer_reads_annotations_as_objects_not_strings() -> None:
    # Typer reads every command's annotations on every run, --help included; written as
    # strings (``from __future__ import annotations``) each is compiled and evaluated
    # each time: building the tree took 8 ms CPU instead of 2.5 ms.
    callbacks = list(_callbacks(app))
    assert len(callbacks) > 15  # the whole tree: every command, the root callback
    for callback in callbacks:
        strings = {k: v for k, v in inspect.get_annotations(callback).items() if isinstance(v, str)}
        assert strings == {}, f"{callback.__module__}.{callback.__name__}"


# Runs `aggregator ARGS`, noting whether the collector is on while the store is read
# (in ``feeds_page``) and as the command exits, and how many objects were frozen.
_GC_PROBE = """
import atexit, gc, json, sys
out = sys.argv.pop(1)
sys.argv[0] = "aggregator"
from aggregator.storage import Storage
during = []
feeds_page = Storage.feeds_page
def spy(self, *args, **kwargs):
    during.append(gc.isenabled())
    return feeds_page(self, *args, **kwargs)
Storage.feeds_page = spy
state = lambda: {"during": during, "after": gc.isenabled(), "frozen": gc.get_freeze_count()}
atexit.register(lambda: open(out, "w").write(json.dumps(state())))
from aggregator.cli import main
main()
"""


@pytest.mark.parametrize("args", [["feeds", "list"], ["--help"], ["feeds", "bogus"]], ids=" ".join)
def test_a_command_starts_uncollected_and_works_collected(
    tmp_path: Path, base: list[str], args: list[str]
) -> None:
    # Starting up, the collector scanned the objects the imports made again and again
    # (a quarter of `feeds list`'s CPU besides the libraries' imports): they are made
    # with it paused and then frozen. It is on again before the command does its work,
    # and when the command ends however it ends (help, a usage error).
    out = tmp_path / "gc.json"
    subprocess.run(
        [sys.executable, "-c", _GC_PROBE, str(out), *base, *args],
        capture_output=True,
        timeout=120,
        check=False,
    )
    state = json.loads(out.read_text(encoding="utf-8"))
    assert state["after"] is True
    assert state["during"] == ([True] if args == ["feeds", "list"] else [])
    assert state["frozen"] > 10_000  # the command tree at least
