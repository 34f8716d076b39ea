"""Benchmark: `aggregator reviews add` with the linker's cache cold and warm, beside the
code before it.

    python bench/link_cache.py --baseline CHECKOUT [--sizes real,100000] [--runs 5,2]
                               [--results bench/RESULTS.md]

``CHECKOUT`` is a tree of the code to compare with, e.g. ``git archive main | tar -x -C
/tmp/base``. Each figure is one ``python -m aggregator reviews add`` process, run as a
user runs it (compiled modules cached), adding the founding review
(tests/data/linking/reviews/seed.txt) to a fresh copy of one SQLite database, so that
every run links it against the same catalog:

- *real*: the 35 real feeds of tests/data/blind/catalog (5,401 items), followed with
  ``feeds add`` and stored with ``poll``. (The feeds of ../shared/data/feeds/real are
  other snapshots of shows among them: a second copy of a show would split it in two.)
- *100000*: the same plus synthetic series grown from the real feeds' words
  (bench/_catalog.py) up to 100k episodes, written straight into storage's tables.

Per run, in turn: the baseline's code (no cache), this tree's with an empty cache
directory (*cold*: it writes every series' digest) and with the directory a cold run
filled (*warm*); then, for scale, the same command once more on the database the warm
run left (*stored*: the review is already there, nothing is linked, no catalog is
built: what the command costs besides the linker). Wall time, CPU (user + system) and
peak RSS come from the child's own ``wait4`` rusage; the links printed by each run
are compared with the baseline's.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _catalog import Vocabulary, synthetic_catalog  # bench/ is on sys.path
from sqlalchemy import insert

from aggregator.storage import open_storage
from aggregator.storage._models import EPISODE, FEED, SERIES
from aggregator.storage._series import persons_to_json
from aggregator.types import CatalogSeries, FeedStatus

ROOT = Path(__file__).resolve().parents[1]
BLIND_CATALOG = ROOT / "tests" / "data" / "blind" / "catalog"
REVIEW = ROOT / "tests" / "data" / "linking" / "reviews" / "seed.txt"
BATCH = 5000
MODES = ("before", "cold", "warm", "stored")


# --- the databases ------------------------------------------------------------------


def cli(tree: Path, config: Path, database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree)
    argv = [sys.executable, "-m", "aggregator", "--config", str(config)]
    argv += ["--database", f"sqlite:///{database}", *args]
    run = {"env": env, "cwd": database.parent, "capture_output": True, "text": True}
    done = subprocess.run(argv, **run, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def check_trees(trees: dict[str, Path], work: Path) -> None:
    """Each tree's children import that tree's ``aggregator``, not the installed one."""
    for tree in trees.values():
        env = {**os.environ, "PYTHONPATH": str(tree)}
        argv = [sys.executable, "-c", "import aggregator; print(aggregator.__file__)"]
        done = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True, check=True)
        if not Path(done.stdout.strip()).resolve().is_relative_to(tree):
            raise SystemExit(f"PYTHONPATH={tree} imports {done.stdout.strip()}")


def make_real(work: Path) -> Path:
    """The real feeds, followed and polled through the CLI as a user does."""
    database = work / "real.db"
    config = work / "setup.toml"
    config.write_text("[linker]\ncache = false\n", encoding="utf-8")
    cli(ROOT, config, database, "init")
    for feed in sorted(BLIND_CATALOG.glob("*.xml")):
        cli(ROOT, config, database, "feeds", "add", str(feed))
    cli(ROOT, config, database, "poll")
    return database


def grow(real: Path, work: Path, episodes: int) -> Path:
    """A copy of the real database with synthetic series up to ``episodes`` episodes."""
    database = work / f"grown-{episodes}.db"
    shutil.copyfile(real, database)
    store = open_storage(f"sqlite:///{database}")
    have = store.catalog()
    vocabulary = Vocabulary.from_series(have)
    count = sum(len(s.episodes) for s in have)
    first_series = max(s.id for s in have) + 1
    first_feed = max(f.id for f in store.feeds_page() if f.id is not None) + 1
    first_episode = max(e.id for s in have for e in s.episodes) + 1
    made = synthetic_catalog(vocabulary, episodes - count, first_series, first_episode)
    now = datetime.now(UTC)
    # Straight into storage's tables, as bench/api.py fills its store.
    with store._write_engine.begin() as connection:
        series_rows, episode_rows = [], []
        for s in made:
            feed_id = first_feed + s.id - first_series
            connection.execute(insert(FEED), [_feed_row(feed_id, s, now)])
            series_rows.append(_series_row(feed_id, s, now))
            episode_rows += [_episode_row(e, now) for e in s.episodes]
            if len(episode_rows) >= BATCH:
                connection.execute(insert(SERIES), series_rows)
                connection.execute(insert(EPISODE), episode_rows)
                series_rows, episode_rows = [], []
        if series_rows:
            connection.execute(insert(SERIES), series_rows)
            connection.execute(insert(EPISODE), episode_rows)
    store.close()
    return database


def _feed_row(feed_id: int, s: CatalogSeries, now: datetime) -> dict[str, Any]:
    return {
        "id": feed_id,
        "url": s.feed_url,
        "added_url": s.feed_url,
        "kind": "podcast",
        "status": FeedStatus.ACTIVE.value,
        "title": s.title,
        "error_count": 0,
        "created_at": now,
        "updated_at": now,
    }


def _series_row(feed_id: int, s: CatalogSeries, now: datetime) -> dict[str, Any]:
    return {
        "id": s.id,
        "feed_id": feed_id,
        "title": s.title,
        "author": s.author,
        "description": s.description_text,
        "description_text": s.description_text,
        "link": s.link,
        "categories": [],
        "persons": persons_to_json(s.persons),
        "content_hash": f"bench-{s.id}",
        "created_at": now,
        "updated_at": now,
        "changed_at": now,
    }


def _episode_row(e: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": e.id,
        "series_id": e.series_id,
        "guid": e.guid,
        "title": e.title,
        "description": e.description_text,
        "description_text": e.description_text,
        "link": e.link,
        "published": e.published,
        "enclosure_url": e.enclosure_url,
        "number": e.number,
        "episode_type": e.episode_type,
        "persons": persons_to_json(e.persons),
        "content_hash": f"bench-{e.id}",
        "first_seen_at": now,
        "updated_at": now,
    }


# --- the runs -------------------------------------------------------------------------


def run_once(tree: Path, config: Path, database: Path) -> tuple[float, float, float, str]:
    """One ``reviews add`` process: (wall s, CPU s, peak RSS MB, its output)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree)
    argv = [sys.executable, "-m", "aggregator", "--config", str(config)]
    argv += ["--database", f"sqlite:///{database}", "reviews", "add", str(REVIEW)]
    argv += ["--published", "2018-07-01"]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        # With -m the working directory comes first on sys.path: from a checkout it
        # would shadow PYTHONPATH and every mode would run that checkout's code.
        child = subprocess.Popen(
            argv, env=env, cwd=database.parent, stdout=out, stderr=err, text=True
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"reviews add failed ({child.returncode}): {err.read().strip()}")
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read()


def measure(
    pristine: Path, trees: dict[str, Path], runs: int, work: Path
) -> tuple[dict[str, list[tuple[float, float, float]]], dict[str, Any]]:
    figures: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in MODES}
    database = work / "run.db"
    warm_cache = work / "warm-cache"
    shutil.rmtree(warm_cache, ignore_errors=True)
    outputs: dict[str, set[str]] = {mode: set() for mode in MODES}
    facts: dict[str, Any] = {}
    for n in range(runs + 1):  # run 0 is not counted: it compiles modules, fills the cache
        for mode in MODES:
            cache = warm_cache if mode in ("warm", "stored") else work / f"cold-cache-{n}"
            config = work / f"{mode}.toml"
            text = "" if mode == "before" else f'[linker]\ncache_dir = "{cache}"\n'
            config.write_text(text, encoding="utf-8")
            if mode != "stored":  # stored: the database the warm run left
                shutil.copyfile(pristine, database)
            tree = trees["before" if mode == "before" else "after"]
            wall, cpu, rss, out = run_once(tree, config, database)
            if mode == "cold":
                facts["files"] = len(list(cache.iterdir()))
                facts["cache_mb"] = sum(p.stat().st_size for p in cache.iterdir()) / 2**20
                if not warm_cache.exists():
                    shutil.copytree(cache, warm_cache)
                shutil.rmtree(cache)
            if mode != "stored":
                outputs[mode].add(out)
            if n:
                figures[mode].append((wall, cpu, rss))
    facts["same_links"] = len(set().union(*outputs.values())) == 1
    return figures, facts


# --- the report -----------------------------------------------------------------------


def describe(tree: Path) -> str:
    git = ["git", "-C", str(tree), "log", "-1", "--format=%h %s"]
    head = subprocess.run(git, capture_output=True, text=True, check=False).stdout.strip()
    return head[:60] or str(tree)


def cell(values: list[float], unit: str, digits: int = 2) -> str:
    values = sorted(values)
    median = statistics.median(values)
    return f"{median:.{digits}f} {unit} ({values[0]:.{digits}f}–{values[-1]:.{digits}f})"


def report(
    sections: list[tuple[str, int, dict[str, list[tuple[float, float, float]]], dict[str, Any]]],
    trees: dict[str, Path],
    started: datetime,
    label: str | None,
) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        f"## bench/link_cache — `reviews add`, linker cache cold and warm — "
        f"{started:%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine}, SQLite; load average when done: {os.getloadavg()[0]:.1f} "
        "(other helpers' test runs share the 2 cores: compare within a row group).",
        f"*before* = {label or describe(trees['before'])} (no cache); *cold* and *warm* = "
        f"{describe(trees['after'])}, with an empty cache directory and with the one a "
        "cold run filled. One `python -m aggregator reviews add seed.txt` process per "
        "figure, on a fresh copy of the database; the modes alternate run by run; "
        "median (min–max) of the runs after one uncounted round.",
        "",
        "| catalog | episodes | code, cache | runs | wall | CPU | peak RSS |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for name, episodes, figures, _ in sections:
        for mode in MODES:
            rows = figures[mode]
            label = {
                "before": "before, none",
                "cold": "after, cold",
                "warm": "after, warm",
                "stored": "after, review already stored (no linking)",
            }
            lines.append(
                f"| {name} | {episodes:,} | {label[mode]} | {len(rows)} | "
                f"{cell([r[0] for r in rows], 's', 1)} | {cell([r[1] for r in rows], 's', 1)} | "
                f"{cell([r[2] for r in rows], 'MB', 0)} |"
            )
    lines.append("")
    for name, episodes, _, facts in sections:
        same = "the same in every run" if facts["same_links"] else "NOT the same"
        lines.append(
            f"- {name} ({episodes:,} episodes): {facts['files']} cache files, "
            f"{facts['cache_mb']:.1f} MB; the review's links as printed: {same}."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a tree of the code before")
    parser.add_argument("--label", default=None, help="what the baseline is, for the report")
    parser.add_argument("--sizes", default="real,100000")
    parser.add_argument(
        "--runs", default=None, help="runs per size, in the order of --sizes (real 5, else 2)"
    )
    parser.add_argument("--results", type=Path, default=None, help="append the section here")
    args = parser.parse_args()
    trees = {"before": args.baseline.resolve(), "after": ROOT}
    sizes = args.sizes.split(",")
    if args.runs is None:
        runs = [5 if size == "real" else 2 for size in sizes]
    else:
        runs = [int(r) for r in args.runs.split(",")]
    started = datetime.now(UTC)
    sections = []
    with tempfile.TemporaryDirectory(prefix="link-cache-") as tmp:
        work = Path(tmp)
        check_trees(trees, work)
        real = make_real(work)
        for size, count in zip(sizes, runs, strict=True):
            database = real if size == "real" else grow(real, work, int(size))
            store = open_storage(f"sqlite:///{database}")
            episodes = sum(len(s.episodes) for s in store.catalog())
            store.close()
            print(f"{size}: {episodes} episodes, {count} runs", file=sys.stderr, flush=True)
            figures, facts = measure(database, trees, count, work)
            sections.append((size, episodes, figures, facts))
            print(report(sections, trees, started, args.label), file=sys.stderr, flush=True)
    text = report(sections, trees, started, args.label)
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
