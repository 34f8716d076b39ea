"""``aggregator feed``: write a combined feed (a series with its reviews, or reviews)."""

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from aggregator.cli._app import app, context
from aggregator.exceptions import InputError


@app.command("feed", short_help="Write a combined feed: a series, or reviews.")
def feed(
    ctx: typer.Context,
    series: Annotated[
        int | None,
        typer.Option("--series", metavar="ID", help="A series id: its feed, or its reviews."),
    ] = None,
    reviews: Annotated[
        bool, typer.Option("--reviews", help="The reviews feed (of --series, if given).")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write here instead of stdout.", dir_okay=False
        ),
    ] = None,
    page: Annotated[
        int,
        typer.Option(
            "--page",
            min=1,
            help="A page of older items: episodes of --series, or reviews with --reviews "
            "(http.feed_max_items a page).",
        ),
    ] = 1,
) -> None:
    """Write a combined feed: `--series ID` (the series, each episode with its reviews)
    or `--reviews [--series ID]` (reviews, each playing the episode it reviews)."""
    if series is None and not reviews:
        raise typer.BadParameter("give --series ID, or --reviews", param_hint="--series")
    # Imported here: the other commands need neither FastAPI nor lxml.
    from aggregator.syndicate.routes import (
        default_base_url,
        reviews_feed_chunks_for,
        series_feed_chunks_for,
    )

    with context(ctx).open(read_only=True) as a:
        base_url = default_base_url(a.settings.http)
        if reviews:
            chunks = reviews_feed_chunks_for(a, series, base_url, page)
        else:
            assert series is not None
            chunks = series_feed_chunks_for(a, series, base_url, page)
        if output is None:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        _write_atomically(output, chunks)


def _write_atomically(path: Path, chunks: Iterable[bytes]) -> None:
    """Write beside the target, then rename: a web server serving the file never
    sees half a feed."""
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.writelines(chunks)
            Path(temp).chmod(0o644)
            Path(temp).replace(path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise InputError(f"{path}: cannot write: {e.strerror or e}") from e
