"""Benchmark: CPU that CLI commands cost before they do anything.

    python bench/cli_startup.py [--runs 15] [--baseline CHECKOUT] [--results bench/RESULTS.md]

Runs ``python -m aggregator`` as a user runs the command, with this tree (and, with
``--baseline``, another checkout, e.g. ``git worktree add /tmp/base main``) on
``PYTHONPATH``, over an empty database made by ``init``: ``--help`` and the commands
that read the store (``feeds list`` with and without ``--json``, ``series list``,
``reviews list``, ``links``), with compiled modules cached as a user has them
(``PYTHONDONTWRITEBYTECODE`` is ignored). Trees alternate run by run so that load on
the machine hits them alike. Each figure is the CPU (user + system) of the child
process, from ``getrusage(RUSAGE_CHILDREN)``: wall time on these shared 2-core machines
says more about the neighbours than about us. For scale, the same is measured for the
bare interpreter, for ``import sqlalchemy``, and for the libraries a command that
reads the database cannot avoid (Typer with its option coercion, which imports
pydantic's validators, and SQLAlchemy Core with its SQLite dialect), with the garbage
collector running, and paused and frozen as a command's start pauses and freezes it.

Target: ``--help`` and ``feeds list`` under 0.25 s CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 0.25
COMMANDS = {
    "--help": ["--help"],
    "feeds list": ["feeds", "list"],
    "feeds list --json": ["feeds", "list", "--json"],
    "series list": ["series", "list"],
    "reviews list": ["reviews", "list"],
    "links": ["links"],
}
FLOORS = {
    "python -c pass": ["-c", "pass"],
    "python -c 'import sqlalchemy'": ["-c", "import sqlalchemy"],
    # What a command that reads the store cannot avoid: Typer with the module it
    # coerces every option value with (it imports pydantic's validators), and
    # SQLAlchemy Core with the SQLite dialect.
    "python -c 'import typer._adapters, sqlalchemy.dialects.sqlite'": [
        "-c",
        "import typer._adapters, sqlalchemy.dialects.sqlite",
    ],
    # The same with the cyclic garbage collector paused and what was made frozen, as a
    # command starts (aggregator/cli/_collector.py): the libraries' imports alone, with
    # neither the collections while they are made nor the teardown of their objects as
    # Python exits (which gc.disable() alone does not skip: ~45 ms here).
    "the same, gc.disable() first, gc.freeze() last": [
        "-c",
        "import gc; gc.disable(); import typer._adapters, sqlalchemy.dialects.sqlite; gc.freeze()",
    ],
}


def cpu_seconds(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """CPU time (user + system) of one child process running ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(trees: dict[str, Path], runs: int) -> dict[tuple[str, str], list[float]]:
    """CPU seconds per (command, tree), ``runs`` of each, trees alternating."""
    figures: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="cli-startup-") as work:
        cwd = Path(work)
        config = cwd / "config.toml"
        config.write_text("", encoding="utf-8")  # no feeds: nothing to add or poll
        base = ["--config", str(config), "--database", f"sqlite:///{cwd / 'bench.db'}"]
        # As a user runs it: with the compiled modules Python caches (a first round,
        # not counted, writes them), whatever this shell says about bytecode.
        environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        envs = {name: {**environ, "PYTHONPATH": str(tree)} for name, tree in trees.items()}
        first = next(iter(trees))
        cpu_seconds([sys.executable, "-m", "aggregator", *base, "init"], envs[first], cwd)
        for name in trees:
            for args in COMMANDS.values():
                cpu_seconds([sys.executable, "-m", "aggregator", *base, *args], envs[name], cwd)
        for _ in range(runs):
            for label, args in COMMANDS.items():
                for name in trees:
                    argv = [sys.executable, "-m", "aggregator", *base, *args]
                    figures.setdefault((label, name), []).append(cpu_seconds(argv, envs[name], cwd))
            for label, args in FLOORS.items():
                figures.setdefault((label, ""), []).append(
                    cpu_seconds([sys.executable, *args], envs[first], cwd)
                )
    return figures


def describe(tree: Path) -> str:
    """The tree's commit, and whether it has changes not committed yet."""
    git = ["git", "-C", str(tree)]
    head = subprocess.run([*git, "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "aggregator"], capture_output=True, text=True
    )
    described = head.stdout.strip()[:60] or str(tree)
    return described + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def report(trees: dict[str, Path], figures: dict[tuple[str, str], list[float]], runs: int) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    names = list(trees)
    header = " | ".join(f"{name}: median (min–max)" for name in names)
    lines = [
        f"## bench/cli_startup — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine}; load average when done: {os.getloadavg()[0]:.1f}. CPU (user +",
        f"system) of `python -m aggregator ...` per command, {runs} runs per tree, trees",
        "alternating; an empty SQLite database made by `init`, an empty config. Trees:",
        *(
            f"{name} = {describe(tree)}" + (";" if i < len(names) - 1 else ".")
            for i, (name, tree) in enumerate(trees.items())
        ),
        "",
        f"| command | {header} | target |",
        "|---|" + "---:|" * len(names) + "---|",
    ]
    for label in COMMANDS:
        cells = []
        for name in names:
            values = sorted(figures[(label, name)])
            cells.append(f"{statistics.median(values):.3f} s ({values[0]:.3f}–{values[-1]:.3f})")
        target = f"< {TARGET_S} s" if label in ("--help", "feeds list") else ""
        lines.append(f"| `aggregator {label}` | " + " | ".join(cells) + f" | {target} |")
    for label in FLOORS:
        values = sorted(figures[(label, "")])
        cell = f"{statistics.median(values):.3f} s ({values[0]:.3f}–{values[-1]:.3f})"
        lines.append(f"| `{label}` (for scale) | {cell} |" + " |" * (len(names) - 1) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--baseline", type=Path, default=None, help="a checkout of other code to compare with"
    )
    parser.add_argument("--results", type=Path, default=None, help="append the table to this file")
    args = parser.parse_args()
    trees = {"this tree": ROOT}
    if args.baseline:
        trees["baseline"] = args.baseline.resolve()
    text = report(trees, measure(trees, args.runs), args.runs)
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
