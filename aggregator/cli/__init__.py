"""The ``aggregator`` command line.

Every user error (bad option, unreadable file, unreachable database, a feed that does
not exist) ends in one line on stderr and a non-zero exit, never a traceback:
``main()`` turns any ``AggregatorError`` into ``aggregator: error: ...`` and exit 1;
usage errors exit 2.

The command tree (``app``) is imported by ``main()``, not with this package, so that
the imports and the tree are built with the garbage collector paused (``_collector``).
"""

import sys
from typing import TYPE_CHECKING, Any

from aggregator.cli import _collector
from aggregator.exceptions import AggregatorError

if TYPE_CHECKING:
    import typer

__all__ = ["app", "main"]


def _command_tree() -> "typer.Typer":
    # The command modules register their commands on the app when imported.
    from aggregator.cli import _feeds, _feeds_out, _reviews  # noqa: F401
    from aggregator.cli._app import app

    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return _command_tree()
    raise AttributeError(f"module 'aggregator.cli' has no attribute {name!r}")


def main() -> None:
    """Console-script entry point: run the CLI, turning our errors into one line.

    Typer's standalone mode already turns usage errors into a message and exit 2, and
    Ctrl-C into "Aborted!"; anything of ours that reaches here is a user error.
    """
    # The first command of a process starts with the collector paused; the root
    # callback resumes it once the options are parsed, or this does as we return.
    if "aggregator.cli._app" not in sys.modules:
        _collector.pause()
    try:
        import typer

        command = typer.main.get_command(_command_tree())
        try:
            command.main(prog_name="aggregator")
        except AggregatorError as e:
            # Some causes (libpq's) span lines; a user error is one line.
            typer.echo(f"aggregator: error: {' '.join(str(e).split())}", err=True)
            sys.exit(1)
    finally:
        _collector.resume()
