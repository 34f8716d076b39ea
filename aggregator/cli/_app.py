"""The command tree, the options every command shares, and small shared helpers."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from aggregator._version import __version__
from aggregator.app import App, make_app
from aggregator.exceptions import InputError
from aggregator.feeds.locations import normalize_feed_location
from aggregator.settings import Settings, load_settings

app = typer.Typer(
    name="aggregator",
    help="Follow podcasts together with what is written about them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
feeds_app = typer.Typer(help="Add, list and remove the feeds we poll.", no_args_is_help=True)
opml_app = typer.Typer(help="Import and export OPML subscription lists.", no_args_is_help=True)
series_app = typer.Typer(help="The podcast series in the store.", no_args_is_help=True)
episodes_app = typer.Typer(help="The episodes in the store.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
app.add_typer(opml_app, name="opml")
app.add_typer(series_app, name="series")
app.add_typer(episodes_app, name="episodes")
reviews_app = typer.Typer(help="Add and list reviews.", no_args_is_help=True)
app.add_typer(reviews_app, name="reviews")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@dataclass
class _Context:
    config: Path | None
    database: str | None
    verbose: bool

    def settings(self) -> Settings:
        return load_settings(self.config, database_url=self.database)

    def open(self) -> App:
        return make_app(self.settings())


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
            "--config", "-c", help="Config file [env: AGGREGATOR_CONFIG].", dir_okay=False
        ),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option("--database", help="Database URL [env: AGGREGATOR_DATABASE_URL]."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    ctx.obj = _Context(config=config, database=database, verbose=verbose)
    # The service and polls log a line per poll; other commands speak only of trouble.
    quiet = ctx.invoked_subcommand not in ("run", "poll")
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
    typer.echo(__version__)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create or upgrade the database, and add the feeds listed in the config."""
    with context(ctx).open() as a:
        added = a.sync_config_feeds()
        typer.echo(f"database ready: {redact(a.settings.database_url)}")
        if added:
            typer.echo(f"added {len(added)} feeds from {a.settings.source}")


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def feed_key(text: str) -> str:
    """A feed id stays an id; anything else is a location to normalize."""
    if text.isdigit():
        return text
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
