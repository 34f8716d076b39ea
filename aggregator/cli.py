"""The ``aggregator`` command line.

Every user error (bad option, unreadable file, unreachable database, a feed that does
not exist) ends in one line on stderr and a non-zero exit, never a traceback:
``main()`` turns any ``AggregatorError`` into ``aggregator: error: ...`` and exit 1;
usage errors exit 2.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aggregator._version import __version__
from aggregator.app import App, make_app
from aggregator.exceptions import AggregatorError, InputError
from aggregator.locations import normalize_feed_location
from aggregator.opml import read_opml, write_opml
from aggregator.poller import PollReport, PollSummary
from aggregator.scheduler import Ticker
from aggregator.settings import Settings, load_settings
from aggregator.types import EpisodeRecord, FeedKind, FeedRecord, SeriesRecord

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


def _ctx(ctx: typer.Context) -> _Context:
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
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request at INFO; our own poll line says what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create or upgrade the database, and add the feeds listed in the config."""
    with _ctx(ctx).open() as a:
        added = a.sync_config_feeds()
        typer.echo(f"database ready: {_redact(a.settings.database_url)}")
        if added:
            typer.echo(f"added {len(added)} feeds from {a.settings.source}")


# --- feeds ---------------------------------------------------------------------------


@feeds_app.command("add")
def feeds_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Feed URL, file: URL or local path.")],
    kind: Annotated[FeedKind, typer.Option("--kind", help="What the feed carries.")] = (
        FeedKind.PODCAST
    ),
) -> None:
    """Follow a feed; it is polled at the next `poll` or tick."""
    location = normalize_feed_location(url)
    with _ctx(ctx).open() as a:
        feed = a.storage.add_feed(location, kind, a.clock())
    typer.echo(f"added feed {feed.id}: {feed.url} ({feed.kind})")


@feeds_app.command("list")
def feeds_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the feeds and how their last poll went."""
    with _ctx(ctx).open() as a:
        feeds = a.storage.list_feeds()
    if as_json:
        _print_json([_feed_json(f) for f in feeds])
        return
    for f in feeds:
        state = f.status.value
        if f.last_error:
            state += f" ({f.error_count}x: {f.last_error})"
        title = f" {f.title}" if f.title else ""
        typer.echo(f"{f.id:>5} {f.kind.value:<8} {state:<8}{title} <{f.url}>")


@feeds_app.command("remove")
def feeds_remove(
    ctx: typer.Context,
    feed: Annotated[str, typer.Argument(help="Feed id or URL.")],
) -> None:
    """Stop following a feed and delete its series and episodes."""
    with _ctx(ctx).open() as a:
        record = a.storage.find_feed(_feed_key(feed))
        a.storage.remove_feed(record.id)
    typer.echo(f"removed feed {record.id}: {record.url}")


# --- opml ----------------------------------------------------------------------------


@opml_app.command("import")
def opml_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="OPML file ('-' for stdin).", allow_dash=True)],
) -> None:
    """Follow every feed in an OPML file; ones already followed are left as they are."""
    source = "stdin" if str(file) == "-" else str(file)
    try:
        content = sys.stdin.buffer.read() if source == "stdin" else file.read_bytes()
    except OSError as e:
        raise InputError(f"{source}: cannot read: {e.strerror or e}") from e
    entries = read_opml(content, source=source)
    added = skipped = 0
    with _ctx(ctx).open() as a:
        for entry in entries:
            try:
                location = normalize_feed_location(entry.url, allow_file=False)
            except InputError as e:
                typer.echo(f"skipped: {e}", err=True)
                skipped += 1
                continue
            _, created = a.storage.ensure_feed(location, entry.kind, a.clock())
            added += created
    typer.echo(
        f"imported {source}: {added} feeds added, {len(entries) - added - skipped} already "
        f"followed, {skipped} skipped"
    )


@opml_app.command("export")
def opml_export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Write the followed feeds as OPML."""
    with _ctx(ctx).open() as a:
        content = write_opml(a.storage.list_feeds(), now=a.clock())
    if output is None:
        sys.stdout.buffer.write(content)
        return
    try:
        output.write_bytes(content)
    except OSError as e:
        raise InputError(f"{output}: cannot write: {e.strerror or e}") from e


# --- polling -------------------------------------------------------------------------


@app.command()
def poll(
    ctx: typer.Context,
    feed: Annotated[
        str | None, typer.Option("--feed", help="Poll only this feed (id or URL), due or not.")
    ] = None,
) -> None:
    """Poll every due feed once, now, and exit (a newly added feed is due).

    Exits 1 when the one feed asked for, or every feed polled, failed.
    """
    with _ctx(ctx).open() as a:
        if feed is None:
            a.sync_config_feeds()
            due = a.storage.due_feeds(a.clock(), limit=1_000_000)
        else:
            due = [a.storage.find_feed(_feed_key(feed))]
        summary = _poll_with_progress(a, due)
    for report in summary.reports:
        if report.failed:
            typer.echo(f"failed: {report.url}: {report.error}", err=True)
    typer.echo(summary.line())
    if summary.polled and summary.failed == summary.polled:
        raise typer.Exit(1)


def _poll_with_progress(a: App, feeds: list[FeedRecord]) -> PollSummary:
    if len(feeds) < 2 or not sys.stderr.isatty():
        return a.poller.poll_due(feeds=feeds)
    columns = (
        TextColumn("polling"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("", total=len(feeds))

        def advance(report: PollReport) -> None:
            progress.update(task, advance=1, description=report.url[-60:])

        return a.poller.poll_due(feeds=feeds, on_report=advance)


@app.command()
def run(ctx: typer.Context) -> None:
    """Run the service in the foreground: poll due feeds on a schedule until stopped."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("%s: shutting down", signal.Signals(signum).name)
        stop.set()

    with _ctx(ctx).open() as a:
        added = a.sync_config_feeds()
        if added:
            logging.info("added %d feeds from %s", len(added), a.settings.source)
        ticker = Ticker(a.poller, a.settings.poll.tick_seconds)
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            ticker.start()
            logging.info(
                "aggregator %s running on %s; polling every %gs",
                __version__,
                _redact(a.settings.database_url),
                a.settings.poll.tick_seconds,
            )
            while not stop.wait(1.0):
                pass
        finally:
            ticker.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
    logging.info("stopped")


# --- series and episodes -------------------------------------------------------------


@series_app.command("list")
def series_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the series with their episode counts."""
    with _ctx(ctx).open() as a:
        series = a.storage.list_series()
    if as_json:
        _print_json([_series_json(s) for s in series])
        return
    for s in series:
        typer.echo(f"{s.id:>5} {s.title} ({s.episode_count} episodes) <{s.feed_url}>")


@episodes_app.command("list")
def episodes_list(
    ctx: typer.Context,
    series: Annotated[int | None, typer.Option("--series", help="Only this series (id).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List episodes, newest first."""
    with _ctx(ctx).open() as a:
        if series is not None:
            a.storage.get_series(series)  # a clear "no series 7" instead of an empty list
        episodes = a.storage.list_episodes(series, limit=limit)
    if as_json:
        _print_json([_episode_json(e) for e in episodes])
        return
    for e in episodes:
        date = e.published.date().isoformat() if e.published else "undated   "
        typer.echo(f"{e.id:>6} {date} {e.title}")


# --- output helpers ------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _feed_json(f: FeedRecord) -> dict[str, Any]:
    return {
        "id": f.id,
        "url": f.url,
        "added_url": f.added_url,
        "kind": f.kind.value,
        "status": f.status.value,
        "title": f.title,
        "last_polled_at": _iso(f.last_polled_at),
        "next_poll_at": _iso(f.next_poll_at),
        "error_count": f.error_count,
        "last_error": f.last_error,
        "warning": f.warning,
        "note": f.note,
    }


def _series_json(s: SeriesRecord) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "feed_id": s.feed_id,
        "feed_url": s.feed_url,
        "author": s.author,
        "link": s.link,
        "image": s.image,
        "language": s.language,
        "categories": list(s.categories),
        "type": s.itunes_type,
        "podcast_guid": s.podcast_guid,
        "episode_count": s.episode_count,
    }


def _episode_json(e: EpisodeRecord) -> dict[str, Any]:
    return {
        "id": e.id,
        "series_id": e.series_id,
        "guid": e.guid,
        "title": e.title,
        "published": _iso(e.published),
        "link": e.link,
        "enclosure_url": e.enclosure.url if e.enclosure else None,
        "enclosure_type": e.enclosure.type if e.enclosure else None,
        "enclosure_length": e.enclosure.length if e.enclosure else None,
        "duration": e.duration_seconds,
        "season": e.season,
        "number": e.number,
        "episode_type": e.episode_type,
        "image": e.image,
        "transcript_url": e.transcript_url,
        "chapters_url": e.chapters_url,
        "persons": [{"name": p.name, "role": p.role, "group": p.group} for p in e.persons],
        "missing_since": _iso(e.missing_since),
    }


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _feed_key(text: str) -> str:
    """A feed id stays an id; anything else is a location to normalize."""
    if text.isdigit():
        return text
    try:
        return normalize_feed_location(text)
    except InputError:
        return text  # let storage say there is no such feed


def _redact(url: str) -> str:
    """A database URL without its password, for logs."""
    head, sep, tail = url.partition("://")
    if "@" not in tail:
        return url
    credentials, _, host = tail.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{head}{sep}{user}:***@{host}"


def main() -> None:
    """Console-script entry point: run the CLI, turning our errors into one line.

    Typer's standalone mode already turns usage errors into a message and exit 2, and
    Ctrl-C into "Aborted!"; anything of ours that reaches here is a user error.
    """
    command = typer.main.get_command(app)
    try:
        command.main(prog_name="aggregator")
    except AggregatorError as e:
        # Some causes (libpq's) span lines; a user error is one line.
        typer.echo(f"aggregator: error: {' '.join(str(e).split())}", err=True)
        sys.exit(1)
