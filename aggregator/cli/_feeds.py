"""Commands about podcast feeds: feeds, OPML, polling, the service, series, episodes.

Imported for every command, ``--help`` included: the stages a command needs (the
poller, the web stack, Rich's progress bar) are imported in the command itself.

Why one module of over 400 lines: the commands of one noun group (feeds, OPML, poll,
run, series, episodes) share the options, the app's opening and the output helpers;
each command stays short.
"""

import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from aggregator.cli._app import (
    JsonOption,
    LimitOption,
    app,
    context,
    counted,
    day,
    episodes_app,
    feed_key,
    feeds_app,
    lines_of,
    opml_app,
    redact,
    series_app,
)
from aggregator.cli._collector import uncollected_imports
from aggregator.exceptions import InputError
from aggregator.labels import shared, source_label
from aggregator.shapes import episode_json, feed_json, series_json
from aggregator.types import FeedKind, FeedRecord

if TYPE_CHECKING:
    from aggregator.app import App
    from aggregator.feeds.poller import PollSummary

# --- feeds ---------------------------------------------------------------------------


@feeds_app.command("add")
def feeds_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", help="Feed URL, file: URL or local path.")],
    kind: Annotated[FeedKind, typer.Option("--kind", help="What the feed carries.")] = (
        FeedKind.PODCAST
    ),
) -> None:
    """Follow a feed; it is polled at the next `poll` or tick."""
    with uncollected_imports("aggregator.app"):
        from aggregator.app import utcnow
    from aggregator.feeds.locations import normalize_feed_location

    location = normalize_feed_location(url)
    with context(ctx).store() as storage:
        feed = storage.add_feed(location, kind, utcnow())
    typer.echo(f"added feed {feed.id}: {feed.url} ({feed.kind})")


@feeds_app.command("list")
def feeds_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the feeds and how their last poll went."""
    with context(ctx).store(read_only=True) as storage:
        feeds = storage.feeds_page()
        twice = shared(f.title for f in feeds)
        # Feeds of one title are told apart by their series' publisher, as on the web.
        series = [row.series for row in storage.series_page()] if twice else []
        authors = {s.feed_id: s.author for s in series}
    none = "feeds yet: add one with `aggregator feeds add URL`"
    for f in lines_of(feeds, as_json, feed_json, none):
        state = f.status.value
        if f.last_error:
            state += f" ({f.error_count}x: {f.last_error})"
        title = f" {f.title}" if f.title else ""
        if f.title in twice:
            title += f" ({source_label(authors.get(f.id), f.url)})"
        typer.echo(f"{f.id:>5} {f.kind.value:<8} {state:<8}{title} <{f.url}>")


@feeds_app.command("remove")
def feeds_remove(
    ctx: typer.Context,
    feed: Annotated[str, typer.Argument(metavar="FEED", help="Feed id or URL.")],
) -> None:
    """Stop following a feed and delete its series and episodes."""
    with context(ctx).store() as storage:
        record = storage.find_feed(feed_key(feed))
        storage.remove_feed(record.id)
    typer.echo(f"removed feed {record.id}: {record.url}")


# --- opml ----------------------------------------------------------------------------


@opml_app.command("import")
def opml_import(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="OPML file ('-' for stdin).", allow_dash=True)
    ],
) -> None:
    """Follow every feed in an OPML file; ones already followed are left as they are."""
    with uncollected_imports("aggregator.app"):
        from aggregator.app import utcnow
    from aggregator.feeds.locations import normalize_feed_location
    from aggregator.feeds.opml import read_opml

    source = "stdin" if str(file) == "-" else str(file)
    try:
        content = sys.stdin.buffer.read() if source == "stdin" else file.read_bytes()
    except OSError as e:
        raise InputError(f"{source}: cannot read: {e.strerror or e}") from e
    entries = read_opml(content, source=source)
    wanted: list[tuple[str, FeedKind]] = []
    skipped = 0
    for entry in entries:
        try:
            wanted.append((normalize_feed_location(entry.url, allow_file=False), entry.kind))
        except InputError as e:
            typer.echo(f"skipped: {e}", err=True)
            skipped += 1
    with context(ctx).store() as storage:
        added = storage.ensure_feeds(wanted, utcnow())
    followed = len(entries) - added - skipped
    typer.echo(
        f"imported {source}: {counted(added, 'feed')} added, {followed} already followed, "
        f"{skipped} skipped"
    )


@opml_app.command("export")
def opml_export(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write to this file, not stdout."),
    ] = None,
) -> None:
    """Write the followed feeds as OPML."""
    with uncollected_imports("aggregator.app"):
        from aggregator.app import utcnow
    from aggregator.feeds.opml import write_opml

    with context(ctx).store(read_only=True) as storage:
        content = write_opml(storage.feeds_page(), now=utcnow())
    if output is None:
        sys.stdout.buffer.write(content)
        return
    try:
        output.write_bytes(content)
    except OSError as e:
        raise InputError(f"{output}: cannot write: {e.strerror or e}") from e


# --- polling -------------------------------------------------------------------------


@app.command(short_help="Poll the feeds once, now, and exit.")
def poll(
    ctx: typer.Context,
    feed: Annotated[
        str | None,
        typer.Option("--feed", metavar="FEED", help="Poll only this feed (id or URL), due or not."),
    ] = None,
    due_only: Annotated[
        bool,
        typer.Option(
            "--due", help="Only the feeds the schedule says are due (for cron and scripts)."
        ),
    ] = False,
) -> None:
    """Poll the feeds once, now, and exit: each with a conditional request.

    Asked for by hand, a poll does not wait for the schedule: every feed is polled
    except those gone (410) and those waiting out a backoff after failing (Retry-After
    included; --feed polls one anyway). With --due, only the feeds that are due (a
    newly added feed is). Exits 1 when the one feed asked for, or every feed polled,
    failed.
    """
    due: list[FeedRecord] = []
    with context(ctx).open() as a, _sigterm_raises():
        try:
            summary = _claim_and_poll(a, feed, due_only, due)
        except (KeyboardInterrupt, _Terminated) as stop:
            # Ctrl-C or SIGTERM: the feeds this poll claimed and did not store are
            # given back at once (a stored poll has ended its own lease), so the next
            # poll, here or in another instance, does not skip them until the leases
            # run out.
            a.poller.stop()
            a.storage.release_feeds([f.id for f in due], owner=a.owner)
            how = "terminated" if isinstance(stop, _Terminated) else "interrupted"
            typer.echo(f"{how}: the feeds not polled yet are free again", err=True)
            raise typer.Exit(143 if isinstance(stop, _Terminated) else 130) from None
    for report in summary.reports:
        if report.failed:
            error = report.error or "failed"
            # Fetch and parse errors name the URL already ("URL: read timeout ...").
            where = "" if error.startswith(report.url) else f"{report.url}: "
            typer.echo(f"failed: {where}{error}", err=True)
    typer.echo(summary.line())
    if summary.polled and summary.failed == summary.polled:
        raise typer.Exit(1)


def _claim_and_poll(
    a: "App", feed: str | None, due_only: bool, due: list[FeedRecord]
) -> "PollSummary":
    """Claim the feeds to poll (into ``due``, for the caller to give back if stopped)
    and poll them."""
    if feed is None:
        a.sync_config_feeds()
        # A poll killed with -9 on this host left its feeds claimed: they are ours to
        # poll now, not when its leases run out.
        taken = a.poller.take_back_dead_leases()
        if taken:
            typer.echo(f"took back {counted(taken, 'feed')} claimed by a poll that died", err=True)
        # Claimed like a running instance's batch: instances polling the same
        # database meanwhile leave these feeds alone.
        due.extend(a.poller.claim(1_000_000, ahead_of_schedule=not due_only))
        # Feeds another poll holds are not polled here; say so, rather than let a
        # poll stopped by kill -9 make this one look complete.
        held, until = a.storage.feeds_held_elsewhere(a.clock(), owner=a.owner)
        if held:
            skipped = f"skipped {counted(held, 'feed')} another poll holds"
            typer.echo(
                f"{skipped} (its lease ends by {until:%H:%M:%S} UTC)" if until else skipped,
                err=True,
            )
    else:
        due.append(a.storage.find_feed(feed_key(feed)))
    return _poll_with_progress(a, due)


class _Terminated(Exception):
    """SIGTERM arrived: raised in the main thread, as Ctrl-C raises KeyboardInterrupt."""


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While the block runs, SIGTERM (what service managers and ``kill`` send) stops
    a poll as Ctrl-C does, giving its feeds back, instead of ending the process with
    its claims held until their leases run out."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread (a CLI run in a test's)
        return

    def raise_terminated(signum: int, frame: FrameType | None) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _poll_with_progress(a: "App", feeds: list[FeedRecord]) -> "PollSummary":
    if len(feeds) < 2 or not sys.stderr.isatty():
        return a.poller.poll_due(feeds=feeds)
    # Imported here: only an interactive poll of several feeds draws a bar.
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from aggregator.feeds.poller import PollReport

    columns = (
        TextColumn("polling"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    stderr = sys.stderr
    with Progress(*columns, transient=True) as progress, _logs_above_the_bar(stderr):
        task = progress.add_task("", total=len(feeds))

        def advance(report: PollReport) -> None:
            progress.update(task, advance=1, description=report.url[-60:])

        return a.poller.poll_due(feeds=feeds, on_report=advance)


@contextmanager
def _logs_above_the_bar(stderr: TextIO) -> Iterator[None]:
    """Log lines go where a progress bar on stderr prints them: above the bar.

    While Rich draws its bar it puts a proxy in ``sys.stderr`` that prints each line
    above the bar, but our log handler holds the ``stderr`` it was given at start-up:
    its lines landed in the bar's own line and were half erased by the next redraw
    (most of them in 80 columns, where a log line wraps).
    """
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and h.stream is stderr
    ]
    for handler in handlers:
        handler.setStream(sys.stderr)
    try:
        yield
    finally:
        for handler in handlers:
            handler.setStream(stderr)


@app.command(short_help="Run the service: poll on a schedule, serve HTTP.")
def run(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(
            "--host", metavar="ADDRESS", help="Listen on this address [config: http.host]."
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            metavar="PORT",
            min=1,
            max=65535,
            help="Listen on this port [config: http.port].",
        ),
    ] = None,
) -> None:
    """Run the service in the foreground: poll on a schedule and serve the API, pages
    and feeds, until stopped with Ctrl-C or SIGTERM."""
    # Imported here: the web stack is only needed by the service.
    import uvicorn

    from aggregator._version import __version__
    from aggregator.feeds.scheduler import Ticker
    from aggregator.server import Server, create_http_app

    http = context(ctx).settings().http
    # The port is taken before anything else: a second `run` on a busy port stops
    # here, before it says "serving" or touches the database.
    with _listening(host or http.host, port or http.port) as sock, context(ctx).open() as a:
        added = a.sync_config_feeds()
        if added:
            logging.info("added %s from %s", counted(len(added), "feed"), a.settings.source)
        reviews = a.reviews
        reviews.warm_up()
        ticker = Ticker(
            a.poller,
            a.settings.poll.tick_seconds,
            batch_size=a.settings.poll.batch_size,
            # Reviews linked by an older linker version are re-linked a batch a tick;
            # on Ctrl-C or SIGTERM the chore claims no more and gives back what it
            # claimed and did not link.
            chores=[lambda: reviews.relink_outdated(limit=200, stop=lambda: a.poller.stopping)],
        )
        config = uvicorn.Config(
            create_http_app(a, bind_host=host),
            host=host or http.host,
            port=port or http.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: any local
            # process could then claim any address, and dodge the per-address limit
            # on failed logins. Only the configured proxies are believed.
            proxy_headers=bool(http.trusted_proxies),
            forwarded_allow_ips=list(http.trusted_proxies) or None,
        )
        server = Server(config)

        def on_signal(signum: int, frame: FrameType | None) -> None:
            logging.getLogger(__name__).info("%s: shutting down", signal.Signals(signum).name)
            server.should_exit = True

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            ticker.start()
            logging.info(
                "aggregator %s serving http://%s:%d/ on %s; polling every %gs",
                __version__,
                config.host,
                config.port,
                redact(a.settings.database_url),
                a.settings.poll.tick_seconds,
            )
            server.run(sockets=[sock])
        finally:
            ticker.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
    logging.info("stopped")


@contextmanager
def _listening(host: str, port: int) -> Iterator[socket.socket]:
    """A socket bound to ``host:port`` for the server, or a one-line error saying why
    not (the address family chosen as uvicorn chooses it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As any server: a restart need not wait for the old connections' TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        raise InputError(f"cannot listen on {where}: {e.strerror or e}") from e
    with sock:
        yield sock


# --- series and episodes -------------------------------------------------------------


@series_app.command("list")
def series_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the series with their episode counts."""
    with context(ctx).store(read_only=True) as storage:
        series = [row.series for row in storage.series_page()]
    twice = shared(s.title for s in series)
    none = "series yet: they come with the first poll of a podcast feed"
    for s in lines_of(series, as_json, series_json, none):
        about = counted(s.episode_count, "episode")
        if s.title in twice:
            about = f"{source_label(s.author, s.feed_url)}, {about}"
        typer.echo(f"{s.id:>5} {s.title} ({about}) <{s.feed_url}>")


@episodes_app.command("list")
def episodes_list(
    ctx: typer.Context,
    series: Annotated[
        int | None, typer.Option("--series", metavar="ID", help="Only this series (id).")
    ] = None,
    limit: LimitOption = None,
    as_json: JsonOption = False,
) -> None:
    """List episodes, newest first."""
    with context(ctx).store(read_only=True) as storage:
        # An unknown series is a clear "no series 7", not an empty list.
        rows = storage.episodes_page(series_id=series, limit=limit)
    episodes = [row.episode for row in rows]
    none = "episodes yet" if series is None else f"episodes in series {series}"
    for e in lines_of(episodes, as_json, episode_json, none):
        typer.echo(f"{e.id:>6} {day(e.published)} {e.title}")
