"""The ``aggregator`` command line.

Every user error (bad option, unreadable file, unreachable database, a feed that does
not exist) ends in one line on stderr and a non-zero exit, never a traceback:
``main()`` turns any ``AggregatorError`` into ``aggregator: error: ...`` and exit 1;
usage errors exit 2.
"""

import sys

import typer

# The command modules register their commands on the app when imported.
from aggregator.cli import _feeds, _feeds_out, _reviews  # noqa: F401
from aggregator.cli._app import app
from aggregator.exceptions import AggregatorError

__all__ = ["app", "main"]


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
