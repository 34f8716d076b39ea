"""Starting a command without the cyclic garbage collector scanning what it imports.

What a command imports lives as long as the process: modules, classes, functions,
Typer's command tree, pydantic's validators, SQLAlchemy's tables and caches (about
95,000 objects for ``feeds list``). The collector runs every 700 new objects and
scanned them again and again while they were made (148 collections in ``feeds
list``), and Python collects and frees them all again as it exits: together about
80 ms of the 0.34 s CPU ``feeds list`` took (bench/cli_startup.py, RESULTS.md). So a
command starts with the collector paused, and what it made is then frozen out of
later collections (``gc.freeze()``, the permanent generation): never scanned again,
in a long ``run`` or at exit. Cyclic garbage made meanwhile is frozen with it;
starting up makes little.

The pause ends before any command does its work (the root callback resumes), so a
poll or the service never runs without the collector.
"""

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["pause", "resume", "uncollected_imports"]

_paused = False


def pause() -> None:
    """Pause the collector until ``resume()``; nothing if it is off already."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """End the pause ``pause()`` began, freezing what was made meanwhile; nothing when
    no pause of ours is on."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


@contextmanager
def uncollected_imports(module: str) -> Iterator[None]:
    """The block imports ``module`` (the store: SQLAlchemy and our tables) paused as a
    command's start is; nothing when ``module`` is loaded already (a later command in
    one process, as in the tests, imports nothing)."""
    if module in sys.modules or not gc.isenabled():
        yield
        return
    pause()
    try:
        yield
    finally:
        resume()
