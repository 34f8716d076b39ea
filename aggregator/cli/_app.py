"""The command tree, the options every command shares, and small shared helpers.

Every command, ``--help`` included, imports this module and the command modules: they
import only the standard library, Typer and our settings at the top. What a command
needs beyond that (the store, the poller, the linker, the web stack) it imports when
it runs, so ``aggregator feeds list`` never pays for FastAPI or the linker.

The command modules do without ``from __future__ import annotations``: Typer reads
the annotations of every command in the tree before it runs one, and as strings each
was compiled and evaluated again on every run: the tree took 8 ms CPU to build, 2.5 ms
now (bench/cli_startup.py). Names imported only for type checking are quoted.
"""

import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from aggregator.cli._collector import resume, uncollected_imports
from aggregator.exceptions import InputError, StorageError
from aggregator.settings import Settings, load_settings

if TYPE_CHECKING:
    from aggregator.app import App
    from aggregator.storage import Storage


def _typer(help: str, **options: Any) -> typer.Typer:
    # Plain help, not Rich's panels: Rich markup swallows "[env: ...]" and "[config:
    # ...]" in help texts as if they were style tags, and its panels print a value
    # type ("<bool>") after every flag, --help included.
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None, **options)


app = _typer(
    "Follow podcasts together with what is written about them.",
    name="aggregator",
    pretty_exceptions_enable=False,
    add_completion=False,
)
feeds_app = _typer("Add, list and remove the feeds we poll.")
opml_app = _typer("Import and export OPML subscription lists.")
series_app = _typer("The podcast series in the store.")
episodes_app = _typer("The episodes in the store.")
reviews_app = _typer("Add and list reviews.")
app.add_typer(feeds_app, name="feeds")
app.add_typer(opml_app, name="opml")
app.add_typer(series_app, name="series")
app.add_typer(episodes_app, name="episodes")
app.add_typer(reviews_app, name="reviews")

T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
LimitOption = Annotated[
    int | None, typer.Option("--limit", metavar="N", min=1, help="At most this many.")
]


@dataclass
class _Context:
    config: Path | None
    database: str | None
    verbose: bool
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config, database_url=self.database)
            for warning in self._settings.warnings:
                typer.echo(f"aggregator: warning: {warning}", err=True)
        return self._settings

    @contextmanager
    def open(self, *, read_only: bool = False) -> Iterator["App"]:
        """The whole service (store migrated, fetchers, poller, linker), for commands
        that write or fetch; ``read_only`` as ``read()`` opens the store."""
        with uncollected_imports("aggregator.app"):
            from aggregator.app import make_app

        settings = self.settings()
        with naming_database(settings.database_url), make_app(settings, read_only=read_only) as a:
            yield a

    @contextmanager
    def store(self, *, read_only: bool = False) -> Iterator["Storage"]:
        """The store alone, for commands that need nothing else. ``read_only``: the
        command only reads, so the store is never created or migrated, and a read-only
        database (another user's, on a read-only mount) can still be listed."""
        with uncollected_imports("aggregator.app"):
            from aggregator.app import open_store

        settings = self.settings()
        with (
            naming_database(settings.database_url),
            open_store(settings, read_only=read_only) as storage,
        ):
            yield storage


def context(ctx: typer.Context) -> _Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, _Context)
    return obj


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            help="Config file [env: AGGREGATOR_CONFIG; default: ./config.toml].",
            dir_okay=False,
        ),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            metavar="URL",
            help="Database URL [env: AGGREGATOR_DATABASE_URL; config: database.url].",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    # The options are parsed: the command's work begins, with the collector on (main()
    # paused it while the command tree was imported and built).
    resume()
    ctx.obj = _Context(config=config, database=database, verbose=verbose)
    # The service logs a line per poll; commands speak only of trouble (a poll prints
    # its own summary and failures).
    quiet = ctx.invoked_subcommand != "run"
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # httpx logs every request at INFO, Alembic every connection; our own lines
        # say what matters.
        for name in ("httpx", "apscheduler", "alembic", "trafilatura"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # trafilatura warns "discarding data" on pages it gives up on; we fall back.
        logging.getLogger("trafilatura").setLevel(logging.ERROR)


@app.command()
def version() -> None:
    """Print the version."""
    from aggregator._version import __version__

    typer.echo(__version__)


@app.command(short_help="Create or upgrade the database; add the config's feeds.")
def init(ctx: typer.Context) -> None:
    """Create or upgrade the database, and add the feeds listed in the config."""
    with context(ctx).open() as a:
        added = a.sync_config_feeds()
        typer.echo(f"database ready: {redact(a.settings.database_url)}")
        if added:
            typer.echo(f"added {counted(len(added), 'feed')} from {a.settings.source}")


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def say_none(what: str) -> None:
    """An empty list says so (on stderr: stdout holds only the list itself)."""
    typer.echo(f"no {what}", err=True)


def lines_of(
    items: Sequence[T], as_json: bool, shape: Callable[[T], Any], none: str
) -> Sequence[T]:
    """What a list command prints a line each of: nothing once ``--json`` has printed
    the list (each item as ``shape`` gives it); else the items, and "no <none>" said
    when there are none."""
    if as_json:
        print_json([shape(item) for item in items])
        return ()
    if not items:
        say_none(none)
    return items


def day(when: datetime | None) -> str:
    """A date as a list shows it, in a column of its own width.

    >>> day(datetime(2026, 1, 5, 12)), day(None)
    ('2026-01-05', 'undated   ')
    """
    return when.date().isoformat() if when else "undated   "


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, singular or plural.

    >>> counted(1, "feed"), counted(2, "feed"), counted(0, "series", "series")
    ('1 feed', '2 feeds', '0 series')
    """
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def feed_key(text: str) -> str:
    """A feed id stays an id; anything else is a location to normalize."""
    if text.isdigit():
        return text
    from aggregator.feeds.locations import normalize_feed_location  # idna: not for --help

    try:
        return normalize_feed_location(text)
    except InputError:
        return text  # let storage say there is no such feed


def redact(url: str) -> str:
    """A database URL without its password, for logs."""
    head, sep, tail = url.partition("://")
    if "@" not in tail:
        return url
    credentials, _, host = tail.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{head}{sep}{user}:***@{host}"


@contextmanager
def naming_database(database_url: str) -> Iterator[None]:
    """Say which database a storage error is about, unless it says so already: with
    several configs and instances about, "readonly database" alone does not tell which."""
    try:
        yield
    except StorageError as e:
        from aggregator.storage import database_name

        try:
            where: str | None = database_name(database_url)
        except StorageError:  # not a URL we can read: that error says so already
            where = None
        if where is None or where in str(e):
            raise
        raise StorageError(f"{where}: {e}") from e
