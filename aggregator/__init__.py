"""aggregator: follow podcasts together with what is written about them.

The public surface: build the service with ``make_app(load_settings(...))``, or use a
stage on its own — ``Fetcher`` (HTTP), ``parse_feed`` (feedparser -> typed values),
``open_storage`` (SQLite/PostgreSQL) — with the typed values of ``aggregator.types``
and the errors of ``aggregator.exceptions``.

Every name but the errors is imported on first use (PEP 562): every submodule import
runs this file first, and ``aggregator --help`` should not pay for a database engine,
an HTTP client, or even ``importlib.metadata`` (the version), that it never touches.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aggregator.exceptions import AggregatorError

if TYPE_CHECKING:
    from aggregator._version import USER_AGENT, __version__
    from aggregator.app import App, make_app
    from aggregator.feeds.fetch import Fetcher
    from aggregator.feeds.parse import parse_feed
    from aggregator.settings import Settings, load_settings
    from aggregator.storage import Storage, open_storage

__all__ = [
    "USER_AGENT",
    "AggregatorError",
    "App",
    "Fetcher",
    "Settings",
    "Storage",
    "__version__",
    "load_settings",
    "make_app",
    "open_storage",
    "parse_feed",
]

# Where each lazily imported name lives.
_LAZY = {
    "USER_AGENT": "aggregator._version",
    "__version__": "aggregator._version",
    "App": "aggregator.app",
    "make_app": "aggregator.app",
    "Fetcher": "aggregator.feeds.fetch",
    "parse_feed": "aggregator.feeds.parse",
    "Settings": "aggregator.settings",
    "load_settings": "aggregator.settings",
    "Storage": "aggregator.storage",
    "open_storage": "aggregator.storage",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aggregator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
