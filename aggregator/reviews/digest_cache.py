"""The linker's series digests, kept as files across runs.

Building the linker's catalog is mostly ``digest_series`` (tokenizing and finding
names in every title and description), paid again by every command that links
(``aggregator reviews add``). A series' digest depends on nothing but the series, so
it is kept here, one file per series, and the next run reads it back instead:
``reviews add`` took 4.3 s of CPU without it and 2.0 s warm at 5,400 episodes, 68 s
and 21 s at 100k (bench/link_cache.py, bench/RESULTS.md).

**What says a file still holds the series' digest.** The file's first line names the
series, the digest format (``DIGEST_VERSION``), ``LINKER_VERSION``, the linker's code
(a hash of its source files: a change that forgets a version bump makes new digests
all the same) and a BLAKE2b fingerprint of the series as read from the database,
every field the digest is made from. A file whose line differs is a miss. The
series' change time (``Storage.series_change_times``) would spare reading the series
but does not name its content: a poll deletes old missing episodes in a transaction
of its own stamped with the poll's time, and a feed that moves without changing its
body changes the series' feed URL and not its time; a digest kept under the time
alone would then outlive the content it was made from.

**Safe to read.** The rest of a file is a pickle, read only with the classes a
digest is made of (``_Unpickler``): a file that names anything else is refused, so a
file written by someone else can build no other object. The directory is made 0700
and refused (no cache, a warning) when another user owns it or others may write in
it. A file is written whole under a temporary name and renamed, so readers in other
processes see the old file or the new one, never half of one. A file that cannot be
read or unpickled is a miss, logged at debug level: the cache never fails a command.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import pickle
import stat
import sys
import tempfile
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any, Final

from aggregator import _version
from aggregator.linking import LINKER_VERSION, series_index, term_index
from aggregator.linking.numbers import TitleNumbers
from aggregator.linking.series_index import DIGEST_VERSION, SeriesDigest, digest_series
from aggregator.types import CatalogSeries

__all__ = ["DigestCache"]

log = logging.getLogger(__name__)

_MAGIC: Final = b"aggregator-series-digest"
_SUFFIX: Final = ".digest"
_TEMP_PREFIX: Final = ".tmp-"
# A temporary file this old was left by a process that died while writing it.
_STALE_TEMP_SECONDS: Final = 3600.0

# Every class a digest's pickle may name: the digest's own value types and the
# standard ones in it. Anything else is refused before it is built.
_ALLOWED: Final = {
    (SeriesDigest.__module__, "SeriesDigest"),
    (series_index.__name__, "Alias"),
    (series_index.__name__, "EpisodeInfo"),
    (term_index.__name__, "EpisodeTerms"),
    (TitleNumbers.__module__, "TitleNumbers"),
    ("array", "_array_reconstructor"),
    ("array", "array"),
    ("datetime", "datetime"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a series digest")
        return super().find_class(module, name)


class DigestCache:
    """Series digests in one private directory (see the module docstring).

    ``digest(series)`` is what ``Catalog.put`` needs: read from the file when it
    holds this series' digest, else made and written. The directory is made when
    first needed (a command that never links makes none). Safe to share between
    threads and processes.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._usable: bool | None = None  # not looked at yet
        self._write_failed = False

    def digest(self, series: CatalogSeries) -> SeriesDigest:
        """The series' digest, from its file or made now (and kept)."""
        if not self._ready():
            return digest_series(series)
        key = _key(series)
        found = self._read(series.id, key)
        if found is not None:
            return found
        made = digest_series(series)
        self._write(series.id, key, made)
        return made

    def kept(self, series: CatalogSeries) -> SeriesDigest | None:
        """The series' digest if its file holds it, else None; nothing is written."""
        return self._read(series.id, _key(series)) if self._ready() else None

    def keep_only(self, series_ids: Collection[int]) -> None:
        """Delete the files of every series not in ``series_ids`` (deleted from the
        database), and temporary files that a process died writing."""
        if not self._ready():
            return
        wanted = {f"{i}{_SUFFIX}" for i in series_ids}
        now = time.time()
        try:
            entries = list(os.scandir(self.directory))
        except OSError as e:
            log.debug("linker cache %s: not listed: %s", self.directory, e)
            return
        for entry in entries:
            name = entry.name
            with contextlib.suppress(OSError):  # gone meanwhile, or not ours to delete
                if name.startswith(_TEMP_PREFIX):
                    stale = now - entry.stat().st_mtime > _STALE_TEMP_SECONDS
                else:
                    stale = name.endswith(_SUFFIX) and name not in wanted
                if stale:
                    Path(entry.path).unlink()

    def _ready(self) -> bool:
        if self._usable is None:
            self._usable = _private_directory(self.directory)
        return self._usable

    def _path(self, series_id: int) -> Path:
        return self.directory / f"{series_id}{_SUFFIX}"

    def _read(self, series_id: int, key: bytes) -> SeriesDigest | None:
        path = self._path(series_id)
        try:
            with path.open("rb") as f:
                if f.readline() != key:
                    return None  # another version of the series, or of the code
                found = _Unpickler(f).load()
        except FileNotFoundError:
            return None
        except Exception as e:  # whatever a damaged file makes pickle raise: a miss
            log.debug("linker cache: %s unreadable, made again: %s", path, e)
            return None
        if not isinstance(found, SeriesDigest) or found.id != series_id:
            log.debug("linker cache: %s holds no digest of series %d", path, series_id)
            return None
        return found

    def _write(self, series_id: int, key: bytes, digest: SeriesDigest) -> None:
        try:
            data = pickle.dumps(digest, protocol=pickle.HIGHEST_PROTOCOL)
            fd, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=self.directory)
            temp = Path(name)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(key)
                    f.write(data)
                # Renamed whole: a reader opens the old file or the new one.
                temp.replace(self._path(series_id))
            except BaseException:
                with contextlib.suppress(OSError):
                    temp.unlink()
                raise
        except OSError as e:
            # A full disk or a directory gone: the run goes on, only slower next time.
            level = logging.DEBUG if self._write_failed else logging.WARNING
            log.log(level, "linker cache %s: not written: %s", self.directory, e)
            self._write_failed = True


def _private_directory(directory: Path) -> bool:
    """Make ``directory`` (0700) if missing; whether only we may write in it. With a
    warning when not (another user owns it, its group or others may write in it, it
    cannot be made): its files are unpickled. An existing folder's modes are left as
    they are (a user may have pointed ``cache_dir`` at a folder of their own)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = directory.stat()
        if hasattr(os, "geteuid") and found.st_uid != os.geteuid():
            log.warning("linker cache %s: owned by another user, not used", directory)
            return False
        if found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            log.warning("linker cache %s: others may write in it, not used", directory)
            return False
    except OSError as e:
        log.warning("linker cache %s: not used: %s", directory, e)
        return False
    return True


def _key(series: CatalogSeries) -> bytes:
    """The first line of the series' file: what its digest was made from and by."""
    content = hashlib.blake2b(repr(series).encode(), digest_size=16).hexdigest()
    return b"%s %d %d %s %s %s\n" % (
        _MAGIC,
        series.id,
        DIGEST_VERSION,
        LINKER_VERSION.encode(),
        _code().encode(),
        content.encode(),
    )


@functools.cache
def _code() -> str:
    """A hash of the linker's source files, the package's version and Python's: what
    made a digest, beyond the version numbers someone has to remember to bump."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{_version.__version__} {sys.version_info[:2]}".encode())
    for path in sorted(Path(series_index.__file__).parent.glob("*.py")):
        with contextlib.suppress(OSError):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
