"""Settings: parsed once, at the edge, into frozen values.

Sources, later ones winning: built-in defaults < ``config.toml`` (the file named by
``--config``, else ``$AGGREGATOR_CONFIG``, else ``./config.toml`` when it exists) <
environment (``AGGREGATOR_DATABASE_URL``, ``AGGREGATOR_TOKEN``, ``AGGREGATOR_ALLOWED_HOSTS``)
< CLI options (``--database``); defaults that follow from other settings (the linker's
cache directory, from the database URL) last. A bad value raises ``ConfigError`` naming
the key, the file and what is wrong; a key we do not know (a typo: ``workerz = 3``) stops nothing
but is named in ``Settings.warnings``.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from aggregator.exceptions import ConfigError
from aggregator.types import FeedKind

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "DEFAULT_DATABASE_URL",
    "FeedEntry",
    "FetchSettings",
    "HttpSettings",
    "LinkerSettings",
    "PollSettings",
    "Settings",
    "load_settings",
]

DEFAULT_CONFIG_NAME = "config.toml"
DEFAULT_DATABASE_URL = "sqlite:///aggregator.db"


@dataclass(frozen=True, slots=True)
class FetchSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    # A whole fetch may not take longer than this, however slowly bytes trickle in.
    total_timeout: float = 120.0
    max_body_bytes: int = 32 * 1024 * 1024
    max_decompressed_bytes: int = 64 * 1024 * 1024
    max_redirects: int = 5
    # httpx falls from ~1,400 req/s at 10 connections to ~200 at 200 (encode/httpx#3215).
    max_connections: int = 16


@dataclass(frozen=True, slots=True)
class PollSettings:
    interval_minutes: float = 60.0
    min_interval_minutes: float = 15.0
    max_interval_minutes: float = 24 * 60.0
    workers: int = 8
    per_host: int = 2
    tick_seconds: float = 30.0
    batch_size: int = 200
    # How long a claimed feed (or review to link) stays with the instance that claimed
    # it; renewed every third of it while the work goes on. When an instance dies, its
    # feeds return to the others after at most this long.
    lease_seconds: float = 120.0
    # Episodes gone from their feed that each series keeps (the most recently gone);
    # older ones are deleted, never one a review is linked to. Real archives stay far
    # below it (a daily show's 27 years); a feed that changes every poll stops here.
    keep_missing_episodes: int = 10_000
    # Items read per poll of one feed: the newest this many. The largest real podcast
    # feeds hold a few thousand; a 30 MB feed of a million tiny items took 3 GB.
    max_items: int = 5000


@dataclass(frozen=True, slots=True)
class FeedEntry:
    url: str
    kind: FeedKind = FeedKind.PODCAST


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Writes (API and web forms) need this token; with none set, writes are refused.
    token: str | None = None
    # Reads are open unless this is false (then they need the token too).
    public_reads: bool = True
    # Private networks every fetch may reach as if public: feeds added through the
    # API, and redirects and announced new URLs of any feed (e.g. "10.20.0.0/16" for
    # an intranet feed server); loopback is never implied, and link-local and cloud
    # metadata addresses are refused even here (feeds/addresses.py).
    allowed_networks: tuple[str, ...] = ()
    # The service's public address, for absolute links in generated feeds.
    base_url: str | None = None
    # Polls asked for through the API (POST /api/feeds/{id}/poll) run at most this many
    # at once, on threads of their own, with this many more waiting; beyond that the
    # API answers 429 with Retry-After. A poll may take minutes (a slow server): run
    # on the web server's threads, 40 of them left no thread for anything else.
    poll_now_workers: int = 4
    poll_now_waiting: int = 16
    # Host header values the service answers, and the hosts a form may be posted from;
    # None: the address it listens on, localhost's names and base_url's host (see
    # ``hosts``). "*.example.org" allows the subdomains, "*" any host.
    allowed_hosts: tuple[str, ...] | None = None
    # Addresses of reverse proxies whose X-Forwarded-For/-Proto are believed. None
    # by default: any client on the machine could claim any address in them, and
    # dodge the limit on failed logins, which counts per address.
    trusted_proxies: tuple[str, ...] = ()
    # A web login lasts this long after its last use (it ends sooner with a logout or
    # a new token), and never longer than session_max_hours after the login itself.
    session_hours: float = 24.0
    session_max_hours: float = 168.0
    # Failed logins and wrong API tokens one client address may make in a minute;
    # beyond it, its attempts are refused (429) until the oldest is a minute old.
    auth_failures_per_minute: int = 10

    def hosts(self, bind_host: str | None = None) -> tuple[str, ...]:
        """The allowed hosts: as configured, else what a browser is sent to by
        default (the address given to ``aggregator run``, localhost's names, and
        ``base_url``'s host)."""
        if self.allowed_hosts is not None:
            return self.allowed_hosts
        names = [bind_host or self.host, "localhost", "127.0.0.1", "[::1]"]
        public = urlsplit(self.base_url).hostname if self.base_url else None
        if public:
            names.append(public)
        return tuple(dict.fromkeys(host_pattern(name) for name in names))

    # Episodes per page of a combined series feed, and reviews per page of a reviews
    # feed; older ones are on the next pages.
    feed_max_items: int = 1000


@dataclass(frozen=True, slots=True)
class LinkerSettings:
    # Keep what the linker derives from each series across runs, so that a command
    # that links does not derive it again (5,000 episodes: 8 s of CPU; see
    # reviews/digest_cache.py).
    cache: bool = True
    # Where; None: no cache. ``load_settings`` fills it in when the config file does
    # not say (``default_cache_dir``).
    cache_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # How long a SQLite writer waits for another, each of the ten times it tries.
    busy_timeout_seconds: float = 30.0
    fetch: FetchSettings = field(default_factory=FetchSettings)
    poll: PollSettings = field(default_factory=PollSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    feeds: tuple[FeedEntry, ...] = ()
    linker: LinkerSettings = field(default_factory=LinkerSettings)
    source: str = "defaults"  # where the settings came from, for messages
    # What a user should hear about but that stops nothing (keys we do not know, so
    # ignore): one line each, naming the file and the key.
    warnings: tuple[str, ...] = ()


def load_settings(
    config_path: str | Path | None = None,
    *,
    database_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read the settings from the config file, the environment and CLI overrides."""
    env = os.environ if environ is None else environ
    path: Path | None
    explicit = config_path is not None or bool(env.get("AGGREGATOR_CONFIG"))
    if config_path is not None:
        path = Path(config_path)
    elif env.get("AGGREGATOR_CONFIG"):
        path = Path(env["AGGREGATOR_CONFIG"])
    else:
        path = Path(DEFAULT_CONFIG_NAME)
    settings = _from_file(path) if path.exists() or explicit else Settings()
    env_url = env.get("AGGREGATOR_DATABASE_URL")
    if env_url:
        settings = replace(settings, database_url=_check_database_url(env_url, "environment"))
    if database_url:
        settings = replace(settings, database_url=_check_database_url(database_url, "--database"))
    env_token = env.get("AGGREGATOR_TOKEN")
    if env_token:
        settings = replace(settings, http=replace(settings.http, token=env_token))
    env_hosts = env.get("AGGREGATOR_ALLOWED_HOSTS")
    if env_hosts:
        hosts = _host_patterns(env_hosts.split(","), "environment: AGGREGATOR_ALLOWED_HOSTS")
        settings = replace(settings, http=replace(settings.http, allowed_hosts=hosts))
    linker = settings.linker
    if linker.cache and linker.cache_dir is None:
        cache_dir = default_cache_dir(settings.database_url, env)
        settings = replace(settings, linker=replace(linker, cache_dir=cache_dir))
    return settings


def default_cache_dir(database_url: str, environ: Mapping[str, str]) -> Path | None:
    """Where the linker keeps its cache unless told: beside a SQLite file (as its
    ``-wal`` file is), and for PostgreSQL under the user's cache directory
    (``$XDG_CACHE_HOME``, else ``~/.cache``), in a folder named by a hash of the
    database URL without its password; None for an in-memory database.

    >>> default_cache_dir("sqlite:////srv/agg/aggregator.db", {})
    PosixPath('/srv/agg/aggregator.db-linker-cache')
    >>> default_cache_dir("postgresql+psycopg://me:secret@db/agg", {"HOME": "/home/me"})
    PosixPath('/home/me/.cache/aggregator/linker-421143418898c090')
    """
    if database_url.startswith("sqlite:"):
        path = urlsplit(database_url).path.removeprefix("/")
        if not path or path == ":memory:":
            return None
        return Path(path + "-linker-cache").absolute()
    base = Path(environ.get("XDG_CACHE_HOME", ""))
    if not base.is_absolute():  # a relative one is to be ignored (XDG spec)
        home = environ.get("HOME")
        if not home:
            return None
        base = Path(home) / ".cache"
    parts = urlsplit(database_url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    server = parts.netloc.rpartition("@")[2]
    identity = f"{parts.scheme}://{parts.username or ''}@{server}{parts.path}?{query}"
    name = hashlib.blake2b(identity.encode(), digest_size=8).hexdigest()
    return base / "aggregator" / f"linker-{name}"


def host_pattern(value: str) -> str:
    """A host name as the ``Host`` header carries it, lower-cased; IPv6 in brackets.

    >>> host_pattern("Podcasts.Example.org"), host_pattern("::1"), host_pattern("*.example.org")
    ('podcasts.example.org', '[::1]', '*.example.org')

    ValueError for what is not a host alone (a URL, a port, a path, a bad wildcard).
    """
    host = value.strip().lower()
    if host == "*":
        return host
    try:
        address = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    except ValueError:
        pass  # a name, then
    name = host.removeprefix("*.")
    if not name or not all(
        label.isascii() and len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum()
        for label in name.split(".")
    ):
        raise ValueError(f"not a host name: {value!r}")
    return host


def _host_patterns(values: Iterable[Any], where: str) -> tuple[str, ...]:
    patterns = []
    for value in values:
        try:
            patterns.append(host_pattern(value if isinstance(value, str) else ""))
        except ValueError:
            raise ConfigError(
                f"{where} must be host names without scheme or port, like "
                f'"podcasts.example.org" or "*.example.org", not {value!r}'
            ) from None
    if not patterns:
        raise ConfigError(f'{where} must name at least one host ("*" for any)')
    return tuple(patterns)


def _from_file(path: Path) -> Settings:
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: config file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where}: cannot read config file: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML: {e}") from e
    reader = _Reader(data, where)
    base = path.resolve().parent
    db_url = reader.string("database", "url", DEFAULT_DATABASE_URL)
    settings = Settings(
        database_url=_resolve_sqlite_path(_check_database_url(db_url, where), base),
        busy_timeout_seconds=reader.number("database", "busy_timeout_seconds", 30.0),
        fetch=FetchSettings(
            connect_timeout=reader.number("fetch", "connect_timeout", 10.0),
            read_timeout=reader.number("fetch", "read_timeout", 30.0),
            total_timeout=reader.number("fetch", "total_timeout", 120.0),
            max_body_bytes=reader.integer("fetch", "max_body_bytes", 32 * 1024 * 1024),
            max_decompressed_bytes=reader.integer(
                "fetch", "max_decompressed_bytes", 64 * 1024 * 1024
            ),
            max_redirects=reader.integer("fetch", "max_redirects", 5, minimum=0),
            max_connections=reader.integer("fetch", "max_connections", 16),
        ),
        poll=PollSettings(
            interval_minutes=reader.number("poll", "interval_minutes", 60.0),
            min_interval_minutes=reader.number("poll", "min_interval_minutes", 15.0),
            max_interval_minutes=reader.number("poll", "max_interval_minutes", 1440.0),
            workers=reader.integer("poll", "workers", 8),
            per_host=reader.integer("poll", "per_host", 2),
            tick_seconds=reader.number("poll", "tick_seconds", 30.0),
            batch_size=reader.integer("poll", "batch_size", 200),
            lease_seconds=reader.number("poll", "lease_seconds", 120.0),
            keep_missing_episodes=reader.integer(
                "poll", "keep_missing_episodes", 10_000, minimum=0
            ),
            max_items=reader.integer("poll", "max_items", 5000),
        ),
        http=HttpSettings(
            host=reader.string("http", "host", "127.0.0.1"),
            port=reader.integer("http", "port", 8000, minimum=1, maximum=65535),
            token=reader.optional_string("http", "token"),
            public_reads=reader.boolean("http", "public_reads", True),
            allowed_networks=reader.networks("http", "allowed_networks"),
            base_url=reader.optional_string("http", "base_url"),
            allowed_hosts=reader.hosts("http", "allowed_hosts"),
            trusted_proxies=reader.networks("http", "trusted_proxies"),
            session_hours=reader.number("http", "session_hours", 24.0),
            session_max_hours=reader.number("http", "session_max_hours", 168.0),
            auth_failures_per_minute=reader.integer("http", "auth_failures_per_minute", 10),
            poll_now_workers=reader.integer("http", "poll_now_workers", 4),
            poll_now_waiting=reader.integer("http", "poll_now_waiting", 16, minimum=0),
            feed_max_items=reader.integer("http", "feed_max_items", 1000, maximum=100_000),
        ),
        feeds=_feeds(data.get("feeds", []), where, base),
        linker=LinkerSettings(
            cache=reader.boolean("linker", "cache", True),
            cache_dir=_optional_dir(reader.optional_string("linker", "cache_dir"), base),
        ),
        source=where,
        warnings=reader.unknown_keys(data.get("feeds", [])),
    )
    http = settings.http
    if http.session_max_hours < http.session_hours:
        raise ConfigError(
            f"{where}: http.session_max_hours ({http.session_max_hours:g}) is shorter "
            f"than http.session_hours ({http.session_hours:g})"
        )
    poll = settings.poll
    if poll.min_interval_minutes > poll.max_interval_minutes:
        raise ConfigError(
            f"{where}: poll.min_interval_minutes ({poll.min_interval_minutes:g}) is larger "
            f"than poll.max_interval_minutes ({poll.max_interval_minutes:g})"
        )
    return settings


class _Reader:
    """Typed access to one TOML document, with messages that name key and file."""

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self._data = data
        self._where = where
        self._known: dict[str, set[str]] = {"feeds": set()}

    def _get(self, section: str, key: str) -> Any:
        self._known.setdefault(section, set()).add(key)
        table = self._data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{self._where}: [{section}] must be a table")
        return table.get(key)

    def unknown_keys(self, feeds: Any) -> tuple[str, ...]:
        """A line for each key of the document that no setting read (once all were
        read), with the known key it most looks like."""
        where = self._where
        found = []
        for section, table in self._data.items():
            if section not in self._known:
                spelled = "[{}]" if isinstance(table, dict) else "{}"
                found.append(_unknown(where, section, self._known, spelled))
            elif isinstance(table, dict):
                known = self._known[section]
                spelled = f"{section}.{{}}"
                found += [_unknown(where, key, known, spelled) for key in table if key not in known]
        for i, item in enumerate(feeds if isinstance(feeds, list) else []):
            if isinstance(item, dict):
                spelled = f"feeds[{i}].{{}}"
                found += [
                    _unknown(where, key, _FEED_KEYS, spelled)
                    for key in item
                    if key not in _FEED_KEYS
                ]
        return tuple(found)

    def _bad(self, section: str, key: str, what: str, value: Any) -> ConfigError:
        return ConfigError(f"{self._where}: {section}.{key} must be {what}, not {value!r}")

    def string(self, section: str, key: str, default: str) -> str:
        value = self._get(section, key)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise self._bad(section, key, "a non-empty string", value)
        return value

    def optional_string(self, section: str, key: str) -> str | None:
        value = self._get(section, key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self._bad(section, key, "a string", value)
        return value

    def boolean(self, section: str, key: str, default: bool) -> bool:
        value = self._get(section, key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._bad(section, key, "true or false", value)
        return value

    def networks(self, section: str, key: str) -> tuple[str, ...]:
        value = self._get(section, key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._bad(section, key, 'a list of networks like ["10.0.0.0/8"]', value)
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise self._bad(section, key, "a list of IP networks", network) from None
        return tuple(value)

    def hosts(self, section: str, key: str) -> tuple[str, ...] | None:
        value = self._get(section, key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self._bad(
                section, key, 'a list of host names like ["podcasts.example.org"]', value
            )
        return _host_patterns(value, f"{self._where}: {section}.{key}")

    def number(self, section: str, key: str, default: float) -> float:
        value = self._get(section, key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self._bad(section, key, "a positive number", value)
        return float(value)

    def integer(
        self,
        section: str,
        key: str,
        default: int,
        *,
        minimum: int = 1,
        maximum: int | None = None,
    ) -> int:
        value = self._get(section, key)
        if value is None:
            return default
        limits = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < minimum
            or (maximum is not None and value > maximum)
        ):
            raise self._bad(section, key, f"a whole number {limits}", value)
        return value


# The keys of a [[feeds]] entry.
_FEED_KEYS = ("url", "kind")


def _unknown(where: str, key: str, known: Iterable[str], spelled: str) -> str:
    """The warning for an unknown ``key``, written as ``spelled`` writes keys there,
    with the known key it most looks like.

    >>> _unknown("c.toml", "workerz", ["workers", "per_host"], "poll.{}")
    'c.toml: unknown key poll.workerz, ignored (did you mean poll.workers?)'
    >>> _unknown("c.toml", "pol", ["poll", "http"], "[{}]")
    'c.toml: unknown table [pol], ignored (did you mean [poll]?)'
    """
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f" (did you mean {spelled.format(close[0])}?)" if close else ""
    what = "table" if spelled == "[{}]" else "key"
    return f"{where}: unknown {what} {spelled.format(key)}, ignored{hint}"


def _feeds(raw: Any, where: str, base: Path) -> tuple[FeedEntry, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: feeds must be an array of tables ([[feeds]])")
    entries = []
    for i, item in enumerate(raw):
        key = f"feeds[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: {key} must be a table with a url")
        url = item.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"{where}: {key}.url must be a non-empty string, not {url!r}")
        kind_raw = item.get("kind", FeedKind.PODCAST.value)
        try:
            kind = FeedKind(kind_raw)
        except ValueError:
            choices = ", ".join(k.value for k in FeedKind)
            raise ConfigError(
                f"{where}: {key}.kind must be one of {choices}, not {kind_raw!r}"
            ) from None
        entries.append(FeedEntry(url=_resolve_local_feed(url.strip(), base), kind=kind))
    return tuple(entries)


def _resolve_local_feed(url: str, base: Path) -> str:
    """Local feed paths in a config file are relative to that file, like includes."""
    if "://" in url or url.startswith("file:"):
        return url
    return (base / url).resolve().as_uri()


def _check_database_url(url: str, where: str) -> str:
    if not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
        raise ConfigError(
            f"{where}: database url must start with sqlite:/// or postgresql+psycopg://, "
            f"not {url!r}"
        )
    if url.startswith("postgres:"):
        # A common spelling (Heroku, libpq); SQLAlchemy wants the dialect name.
        url = "postgresql+psycopg:" + url.removeprefix("postgres:")
    elif url.startswith("postgresql:"):
        url = "postgresql+psycopg:" + url.removeprefix("postgresql:")
    return url


def _optional_dir(value: str | None, base: Path) -> Path | None:
    """A directory named in a config file: relative to that file, ``~`` expanded."""
    return None if value is None else base / Path(value).expanduser()


def _resolve_sqlite_path(url: str, base: Path) -> str:
    """A relative SQLite path in a config file is relative to that file."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == "sqlite:///:memory:":
        return url
    path = Path(url.removeprefix(prefix))
    if path.is_absolute():
        return url
    return prefix + str(base / path)
