"""The linker's digest cache: warm links equal cold ones, changes and damage are misses.

Real storage (SQLite file and PostgreSQL), real files, real processes: the digests a
test reads back were written by another process wherever that matters (a digest
holds nothing that only means something in the process that made it).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.evaluation.dataset import load_dataset
from aggregator.feeds.fetch import Fetcher
from aggregator.feeds.parse import parse_feed
from aggregator.linking import Catalog
from aggregator.linking.series_index import digest_series
from aggregator.reviews.digest_cache import DigestCache
from aggregator.reviews.service import Reviews
from aggregator.settings import FetchSettings, default_cache_dir, load_settings
from aggregator.storage import Storage
from aggregator.types import FeedKind, LinkProposal, ParsedFeed
from tests.fakes import ok_update
from tests.test_linking_linker import caliphate, connected, serial

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "tests" / "data" / "linking"
SEED = DEV / "reviews" / "seed.txt"
CALIPHATE = ROOT / "examples" / "feeds" / "caliphate.xml"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchSettings(), allow_file=False) as f:
        yield f


def store(storage: Storage, path: Path, parsed: ParsedFeed | None = None) -> int:
    """The feed at ``path`` polled into storage (as parsed, or as ``parsed``)."""
    url = path.resolve().as_uri()
    feed, _ = storage.ensure_feed(url, FeedKind.PODCAST, NOW)
    counts = storage.apply_poll(
        ok_update(feed.id, NOW), parsed or parse_feed(path.read_bytes(), url=url), NOW
    )
    assert counts.series_id is not None
    return counts.series_id


def files(directory: Path) -> dict[str, tuple[int, int]]:
    """Each file's (inode, mtime): a file written again is a new inode (renamed over)."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in directory.iterdir()}


def fill_in_another_process(database_url: str, cache: Path, tmp_path: Path) -> None:
    """``aggregator reviews add`` in a process of its own, as a user runs it: it builds
    the linker's catalog, writing every series' digest to ``cache``."""
    config = tmp_path / "config.toml"
    config.write_text(f'[linker]\ncache_dir = "{cache}"\n', encoding="utf-8")
    base = ["--config", str(config), "--database", database_url]
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", *base, "reviews", "add", str(SEED)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr


# --- warm equals cold ----------------------------------------------------------------


def test_links_with_a_warm_cache_are_the_links_without_one(
    storage: Storage, fetcher: Fetcher, tmp_path: Path
) -> None:
    for path in sorted((DEV / "catalog").glob("*.xml")):
        store(storage, path)
    reviews = [labelled.review for labelled in load_dataset(DEV).reviews]
    without = Reviews(storage, fetcher, clock=lambda: NOW).linker()
    expected = [without.link(review) for review in reviews]
    assert sum(1 for found in expected if found) > 60  # the dev set links, mostly

    cache = tmp_path / "cache"
    fill_in_another_process(storage.url, cache, tmp_path)
    written = files(cache)
    assert len(written) == len(without.catalog)

    digests = DigestCache(cache)
    warm = Reviews(storage, fetcher, clock=lambda: NOW, digests=digests).linker()
    assert files(cache) == written  # every digest read, none made again
    found: list[list[LinkProposal]] = [warm.link(review) for review in reviews]
    assert found == expected
    # Hyperlinks too: their keys are hashed per process, so a digest keeps them as text.
    hyperlinked = [p for ps in found for p in ps if any(e.kind == "hyperlink" for e in p.evidence)]
    assert hyperlinked


def test_a_catalog_built_from_pickled_digests_is_the_same() -> None:
    series = [caliphate(), serial(), connected()]
    fresh = Catalog.build(series)
    kept = {s.id: pickle.loads(pickle.dumps(digest_series(s))) for s in series}
    built = Catalog.build(series, lambda s: kept[s.id])
    assert [built.series(s.id) for s in series] == [fresh.series(s.id) for s in series]
    assert [built.term_id(t) for t in ("caliphate", "pizza")] == [
        fresh.term_id(t) for t in ("caliphate", "pizza")
    ]
    with pytest.raises(ValueError, match="digest of series 2 given for series 1"):
        Catalog().put(caliphate(), kept[2])


# --- changes -------------------------------------------------------------------------


def test_a_change_to_a_series_makes_its_digest_again(
    storage: Storage, fetcher: Fetcher, tmp_path: Path
) -> None:
    url = CALIPHATE.resolve().as_uri()
    full = parse_feed(CALIPHATE.read_bytes(), url=url)
    early = replace(full, episodes=full.episodes[2:])  # the feed lists the newest first
    series_id = store(storage, CALIPHATE, early)
    other = store(storage, DEV / "catalog" / "serial.xml")
    cache = tmp_path / "cache"
    Reviews(storage, fetcher, clock=lambda: NOW, digests=DigestCache(cache)).linker()
    before = files(cache)

    store(storage, CALIPHATE, full)  # two older episodes turn up
    linker = Reviews(storage, fetcher, clock=lambda: NOW, digests=DigestCache(cache)).linker()
    titles = {e.title for e in linker.catalog.series(series_id).episodes}
    assert titles == {e.title for e in full.episodes}
    after = files(cache)
    assert after[f"{series_id}.digest"] != before[f"{series_id}.digest"]
    assert after[f"{other}.digest"] == before[f"{other}.digest"]


def test_a_change_that_keeps_the_change_time_makes_the_digest_again(
    storage: Storage, fetcher: Fetcher, tmp_path: Path
) -> None:
    # A poll marks episodes gone from the feed, then deletes the old ones in a
    # transaction of its own stamped with the same time: the series' change time
    # does not move, its episodes do.
    url = CALIPHATE.resolve().as_uri()
    full = parse_feed(CALIPHATE.read_bytes(), url=url)
    series_id = store(storage, CALIPHATE, full)
    store(storage, CALIPHATE, replace(full, episodes=full.episodes[:-2]))  # two gone
    cache = tmp_path / "cache"
    first = Reviews(storage, fetcher, clock=lambda: NOW, digests=DigestCache(cache)).linker()
    assert len(first.catalog.series(series_id).episodes) == len(full.episodes)
    times = storage.series_change_times()

    assert storage.prune_missing_episodes(series_id, keep=0, now=NOW) == 2
    assert storage.series_change_times() == times
    again = Reviews(storage, fetcher, clock=lambda: NOW, digests=DigestCache(cache)).linker()
    assert len(again.catalog.series(series_id).episodes) == len(full.episodes) - 2


def test_the_files_of_deleted_series_go(storage: Storage, fetcher: Fetcher, tmp_path: Path) -> None:
    series_id = store(storage, CALIPHATE)
    cache = tmp_path / "cache"
    (cache / "ghost").mkdir(parents=True)  # not ours to judge: left alone
    (cache / "999.digest").write_bytes(b"a series deleted since")
    (cache / ".tmp-abandoned").write_bytes(b"half")
    os.utime(cache / ".tmp-abandoned", (0, 0))  # a writer that died long ago
    (cache / ".tmp-fresh").write_bytes(b"being written")
    Reviews(storage, fetcher, clock=lambda: NOW, digests=DigestCache(cache)).linker()
    assert sorted(files(cache)) == [".tmp-fresh", f"{series_id}.digest", "ghost"]


# --- damage --------------------------------------------------------------------------


class _Explode:
    """What a hostile file could pickle: a call to anything, made while unpickling."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "foreign", "hostile"])
def test_a_damaged_file_is_a_miss(
    damage: str, storage: Storage, fetcher: Fetcher, tmp_path: Path
) -> None:
    series_id = store(storage, CALIPHATE)
    cache = tmp_path / "cache"
    expected = Reviews(storage, fetcher, clock=lambda: NOW, digests=DigestCache(cache)).linker()
    path = cache / f"{series_id}.digest"
    good = path.read_bytes()
    header = good[: good.index(b"\n") + 1]
    marker = tmp_path / "pwned"
    path.write_bytes(
        {
            "garbage": os.urandom(4096),
            "truncated": good[: len(good) // 2],
            "empty": b"",
            # The right first line over something that is no digest.
            "foreign": header + pickle.dumps({"id": series_id}),
            "hostile": header + pickle.dumps(_Explode(marker)),
        }[damage]
    )
    linker = Reviews(storage, fetcher, clock=lambda: NOW, digests=DigestCache(cache)).linker()
    assert not marker.exists()
    assert linker.catalog.series(series_id) == expected.catalog.series(series_id)
    assert path.read_bytes() == good  # made again, and written whole


def test_a_directory_others_may_write_in_is_not_used(
    storage: Storage, fetcher: Fetcher, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    series_id = store(storage, CALIPHATE)
    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o777)
    linker = Reviews(storage, fetcher, clock=lambda: NOW, digests=DigestCache(cache)).linker()
    assert series_id in linker.catalog
    assert list(cache.iterdir()) == []
    assert "others may write in it, not used" in caplog.text


def test_the_directory_is_made_private(tmp_path: Path) -> None:
    cache = tmp_path / "deep" / "cache"
    DigestCache(cache).digest(caliphate())
    assert cache.stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_mode & 0o777 for p in cache.iterdir()} == {0o600}


# --- processes at once ---------------------------------------------------------------

_HAMMER = textwrap.dedent(
    """
    import logging, sys
    from dataclasses import replace
    from pathlib import Path
    from aggregator.reviews.digest_cache import DigestCache
    from tests.test_linking_linker import caliphate

    # A file read half-written would be logged as unreadable (and made again).
    unreadable = []
    handler = logging.Handler()
    handler.emit = lambda record: unreadable.append(record.getMessage())
    logger = logging.getLogger("aggregator.reviews.digest_cache")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    cache = DigestCache(Path(sys.argv[1]))
    # Two versions of one series, asked for in turn: each ask finds the file holding
    # the other version (or this one, written by another process) and writes it.
    versions = [caliphate(), replace(caliphate(), title="Caliphate (Audio)")]
    hits = 0
    for n in range(int(sys.argv[2])):
        series = versions[n % 2]
        hits += cache.kept(series) is not None
        digest = cache.digest(series)
        assert digest.title == series.title, (digest.title, series.title)
    print(len(unreadable), hits > 0, unreadable[:3])
    """
)


def test_processes_writing_at_once_leave_a_readable_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, str(cache), "300"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    hit = False
    for writer in writers:
        out, err = writer.communicate(timeout=600)
        assert writer.returncode == 0, err
        unreadable, hits, _ = out.split(" ", 2)
        assert unreadable == "0", out  # never a file read half-written
        hit = hit or hits == "True"
    assert hit  # the processes did read each other's files
    assert sorted(files(cache)) == ["1.digest"]  # no temporary file left behind
    # Whichever version was written last, the file holds it whole.
    versions = [caliphate(), replace(caliphate(), title="Caliphate (Audio)")]
    kept = [DigestCache(cache).kept(version) for version in versions]
    assert [k is not None for k in kept] in ([True, False], [False, True])


# --- the setting ---------------------------------------------------------------------


def test_the_cache_is_beside_a_sqlite_file_by_default(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "sqlite:///data/agg.db"\n', encoding="utf-8")
    settings = load_settings(config, environ={})
    assert settings.linker.cache_dir == tmp_path / "data" / "agg.db-linker-cache"


def test_the_cache_of_a_postgresql_database_is_in_the_user_s_cache_directory() -> None:
    one = default_cache_dir("postgresql+psycopg://me:pw@db:5432/agg", {"HOME": "/home/me"})
    assert one is not None and one.parent == Path("/home/me/.cache/aggregator")
    # Named by the database, not by its password.
    assert default_cache_dir("postgresql+psycopg://me:other@db:5432/agg", {"HOME": "/h"}) == (
        Path("/h/.cache/aggregator") / one.name
    )
    assert default_cache_dir("postgresql+psycopg://me@db:5432/other", {"HOME": "/h"}) != (
        Path("/h/.cache/aggregator") / one.name
    )
    xdg = default_cache_dir("postgresql+psycopg://db/agg", {"XDG_CACHE_HOME": "/var/cache/me"})
    assert xdg is not None and xdg.parent == Path("/var/cache/me/aggregator")
    assert default_cache_dir("sqlite:///:memory:", {}) is None


def test_the_cache_can_be_moved_or_turned_off(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[linker]\ncache_dir = "cache"\n', encoding="utf-8")
    assert load_settings(config, environ={}).linker.cache_dir == tmp_path / "cache"
    config.write_text("[linker]\ncache = false\n", encoding="utf-8")
    settings = load_settings(config, environ={})
    assert (settings.linker.cache, settings.linker.cache_dir) == (False, None)
    config.write_text('[linker]\ncache = "no"\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"linker\.cache must be true or false"):
        load_settings(config, environ={})
