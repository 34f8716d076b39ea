"""Commands about reviews and links: reviews add/list, links, eval.

Imported for every command, ``--help`` included: the review intake and the linker
(trafilatura, rapidfuzz) are imported by the commands that take reviews in.
"""

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from aggregator import dates
from aggregator.cli._app import (
    JsonOption,
    LimitOption,
    app,
    context,
    day,
    lines_of,
    print_json,
    reviews_app,
)
from aggregator.exceptions import InputError, ReviewError, ReviewTooLarge
from aggregator.labels import series_labels
from aggregator.shapes import link_json, review_json
from aggregator.types import LinkRecord

if TYPE_CHECKING:
    from aggregator.reviews.service import AddedReview


def _date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date of the form YYYY-MM-DD") from None
    if not dates.within(day):
        raise typer.BadParameter(f"{value} is outside the dates we take in ({dates.RANGE})")
    return day.replace(tzinfo=UTC)


@reviews_app.command("add")
def reviews_add(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE",
            help="A file (.txt, .md, .html), an http(s) URL, or - for stdin.",
        ),
    ],
    url: Annotated[
        str | None, typer.Option("--url", metavar="URL", help="Where the review lives.")
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", metavar="TEXT", help="The review's title.")
    ] = None,
    author: Annotated[
        str | None, typer.Option("--author", metavar="NAME", help="Who wrote it.")
    ] = None,
    published: Annotated[
        str | None,
        typer.Option("--published", metavar="DATE", help="When it was published (YYYY-MM-DD)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a review, link it at once, and print its id and links."""
    from aggregator.feeds.locations import normalize_http_url

    when = _date(published)
    # Checked before anything is read: the URL is stored and shown as a link.
    where = normalize_http_url(url) if url is not None else None
    with context(ctx).open() as a:
        try:
            if source.startswith(("http://", "https://")):
                added = a.reviews.add_url(source, title=title, author=author, published=when)
            else:
                data, name = _read_source(source)
                added = a.reviews.add(
                    data,
                    source="stdin" if source == "-" else "file",
                    filename=name,
                    origin=None if source == "-" else str(Path(source).resolve()),
                    url=where,
                    title=title,
                    author=author,
                    published=when,
                )
        except ReviewError as e:
            # Say where: the message itself speaks only of the content.
            raise ReviewError(f"{'stdin' if source == '-' else source}: {e}") from e
        labels = {} if as_json else series_labels(a.storage, added.links)
    if as_json:
        print_json(
            {"review": review_json(added.review), "links": [link_json(x) for x in added.links]}
        )
        return
    _print_added(added, labels)


def _read_source(source: str) -> tuple[bytes, str | None]:
    if source == "-":
        return _read_at_most(sys.stdin.buffer), None
    path = Path(source)
    # Opened as it is, not checked first: a pipe (`<(command)`) is a file to read too.
    try:
        with path.open("rb") as file:
            return _read_at_most(file), path.name
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{source}: is a directory, not a review file") from None
    except OSError as e:
        raise InputError(f"{source}: cannot read: {e.strerror or e}") from e


def _read_at_most(stream: BinaryIO) -> bytes:
    """The bytes of ``stream``, refused once past the review limit: a 10 GB file or
    an endless pipe is not read into memory first."""
    from aggregator.reviews.extract import MAX_REVIEW_BYTES

    data = stream.read(MAX_REVIEW_BYTES + 1)
    if len(data) > MAX_REVIEW_BYTES:
        raise ReviewTooLarge(f"review is too large (over the limit of {MAX_REVIEW_BYTES:,} bytes)")
    return data


def _print_added(added: "AddedReview", labels: dict[int, str]) -> None:
    typer.echo(_added_line(added))
    if not added.links:
        typer.echo("  no links: it reviews no podcast we know")
    for link in added.links:
        _print_link(link, labels)


def _added_line(added: "AddedReview") -> str:
    """ "review 1 added: ...", "review 1 updated: ...", or for a copy of a stored
    review "review 1: already stored (same text), source added: ..."."""
    r, saved = added.review, added.saved
    title = r.title or r.url or "(untitled)"
    if saved.match is None:
        return f"review {r.id} added: {title}"
    if saved.changed and not saved.source_added:
        return f"review {r.id} updated: {title}"  # its source sent it again, changed
    said = f"review {r.id}: already stored ({saved.match.value})"
    if saved.source_added:
        said += ", source added"
    if saved.took_text:
        said += ", this copy's longer text kept"
    return f"{said}: {title}"


def _print_link(link: LinkRecord, labels: dict[int, str], *, status: bool = False) -> None:
    """A link in one line, then (some of) its evidence, one line each. ``labels``
    tell apart series of one title (``aggregator.labels.series_labels``)."""
    target = link.series_title
    if link.series_id in labels:
        target += f" ({labels[link.series_id]})"
    if link.episode_id is not None:
        target += f" / {link.episode_title}"
    line = f"  {link.relation.value:<8} {link.score:.2f}  {target}"
    typer.echo(f"{line}  [{link.status.value}]" if status else line)
    for e in link.evidence[:_EVIDENCE_SHOWN]:
        typer.echo(f"      {e.kind}: {e.text!r} ({e.detail})")
    if len(link.evidence) > _EVIDENCE_SHOWN:
        typer.echo(f"      ... and {len(link.evidence) - _EVIDENCE_SHOWN} more (--json lists all)")


# The strongest few say why; the rest are for --json.
_EVIDENCE_SHOWN = 6


@reviews_app.command("list")
def reviews_list(
    ctx: typer.Context,
    limit: LimitOption = None,
    as_json: JsonOption = False,
) -> None:
    """List reviews, newest first."""
    with context(ctx).store(read_only=True) as storage:
        page = storage.reviews_page(limit=limit)
        reviews = storage.get_reviews([r.id for r in page])
    none = "reviews yet: add one with `aggregator reviews add FILE|URL|-`"
    for r in lines_of(reviews, as_json, review_json, none):
        typer.echo(f"{r.id:>6} {day(r.published)} {r.title or r.url or '(untitled)'}")


@app.command(short_help="List the links of reviews to series and episodes.")
def links(
    ctx: typer.Context,
    review: Annotated[
        str | None, typer.Option("--review", metavar="ID|URL", help="A review's id or URL.")
    ] = None,
    series: Annotated[
        int | None, typer.Option("--series", metavar="ID", help="A series id.")
    ] = None,
    episode: Annotated[
        int | None, typer.Option("--episode", metavar="ID", help="An episode id.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List links between reviews and series or episodes, with their status (auto,
    confirmed, manual) and evidence."""
    with context(ctx).store(read_only=True) as storage:
        review_id = storage.find_review(review).id if review is not None else None
        found = storage.list_links(review_id=review_id, series_id=series, episode_id=episode)
        labels = {} if as_json else series_labels(storage, found)
    filtered = any(v is not None for v in (review, series, episode))
    _print_links(lines_of(found, as_json, link_json, "links" if filtered else "links yet"), labels)


def _print_links(links: Sequence[LinkRecord], labels: dict[int, str]) -> None:
    """Each review's name once, then its links."""
    shown = None
    for link in links:
        if link.review_id != shown:
            title = link.review_title or link.review_url or "(untitled)"
            typer.echo(f"review {link.review_id}: {title}")
            shown = link.review_id
        _print_link(link, labels, status=True)


@app.command("eval", short_help="Score the linker on labelled sets, beside BM25.")
def evaluate_command(
    datasets: Annotated[
        list[Path],
        typer.Argument(
            metavar="DIR",
            help="Labelled sets: catalog/, reviews/, labels.json (split.json).",
        ),
    ],
    errors: Annotated[
        bool, typer.Option("--errors", help="List each review's errors (tune parts only).")
    ] = False,
    cv: Annotated[
        bool, typer.Option("--cv", help="Leave-series-out cross-validation of each tune part.")
    ] = False,
    fit: Annotated[
        bool, typer.Option("--fit", help="Fit the weights on the tune parts; print them.")
    ] = False,
) -> None:
    """Score the linker, and a plain BM25 baseline, on labelled sets, side by side.

    Each set is reported whole, or as its tune part and its held-out part when it has a
    split.json (the held-out part by its figures only), broken down by the traits that
    make reviews hard.
    """
    # Imported here: evaluation reads whole catalogs, which only this command needs.
    from aggregator.evaluation.crossval import fit_sets, report
    from aggregator.evaluation.dataset import load_dataset
    from aggregator.evaluation.fit import format_weights

    named = []
    for path in datasets:
        try:
            named.append((str(path), load_dataset(path)))
        except (OSError, ValueError, KeyError, TypeError) as e:
            # A labelled set is user input: a missing or malformed file is their error.
            raise InputError(f"{path}: not a labelled set: {e}") from e
    if fit:
        typer.echo(format_weights(fit_sets(named)))
        return
    typer.echo(report(named, errors=errors, cv=cv), nl=False)
