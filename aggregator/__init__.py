"""aggregator: follow podcasts together with what is written about them.

The public surface: build the service with ``make_app(load_settings(...))``, or use a
stage on its own — ``Fetcher`` (HTTP), ``parse_feed`` (feedparser -> typed values),
``open_storage`` (SQLite/PostgreSQL) — with the typed values of ``aggregator.types``
and the errors of ``aggregator.exceptions``.
"""

from aggregator._version import USER_AGENT, __version__
from aggregator.app import App, make_app
from aggregator.exceptions import AggregatorError
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
