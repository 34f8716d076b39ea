"""Settings: parsed once, at the edge, into frozen values.

Sources, later ones winning: built-in defaults < ``config.toml`` (the file named by
``--config``, else ``$AGGREGATOR_CONFIG``, else ``./config.toml`` when it exists) <
environment (``AGGREGATOR_DATABASE_URL``, ``AGGREGATOR_TOKEN``) < CLI options
(``--database``). A bad value
raises ``ConfigError`` naming the key, the file and what is wrong.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aggregator.exceptions import ConfigError
from aggregator.types import FeedKind

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "DEFAULT_DATABASE_URL",
    "FeedEntry",
    "FetchSettings",
    "HttpSettings",
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
    # Networks that feeds added through the API may reach although private
    # (e.g. "10.20.0.0/16" for an intranet feed server); loopback is never implied.
    allowed_networks: tuple[str, ...] = ()
    # The service's public address, for absolute links in generated feeds.
    base_url: str | None = None
    # Episodes per page of a combined series feed; older ones are on the next pages.
    feed_max_items: int = 1000


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # How long a SQLite writer waits for another, each of the ten times it tries.
    busy_timeout_seconds: float = 30.0
    fetch: FetchSettings = field(default_factory=FetchSettings)
    poll: PollSettings = field(default_factory=PollSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    feeds: tuple[FeedEntry, ...] = ()
    source: str = "defaults"  # where the settings came from, for messages


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
    return settings


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
            max_items=reader.integer("poll", "max_items", 5000),
        ),
        http=HttpSettings(
            host=reader.string("http", "host", "127.0.0.1"),
            port=reader.integer("http", "port", 8000, minimum=1, maximum=65535),
            token=reader.optional_string("http", "token"),
            public_reads=reader.boolean("http", "public_reads", True),
            allowed_networks=reader.networks("http", "allowed_networks"),
            base_url=reader.optional_string("http", "base_url"),
            feed_max_items=reader.integer("http", "feed_max_items", 1000, maximum=100_000),
        ),
        feeds=_feeds(data.get("feeds", []), where, base),
        source=where,
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

    def _get(self, section: str, key: str) -> Any:
        table = self._data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{self._where}: [{section}] must be a table")
        return table.get(key)

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


def _resolve_sqlite_path(url: str, base: Path) -> str:
    """A relative SQLite path in a config file is relative to that file."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == "sqlite:///:memory:":
        return url
    path = Path(url.removeprefix(prefix))
    if path.is_absolute():
        return url
    return prefix + str(base / path)
