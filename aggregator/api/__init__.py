"""The JSON API: feeds, series, episodes, reviews, links and search under ``/api``,
plus ``/healthz`` and ``/metrics``.

``build_router(app)`` gives one FastAPI router; ``aggregator.server`` includes it in
the application it serves. Errors are ``{"error": "..."}`` with a fitting status
(``_errors``); writes need the token (``auth``), and wrong tokens are limited per
client (``throttle``); feeds and review pages named through the API are fetched only
from public addresses (``ssrf``).

The router is imported when first built, not with this package, so that the
poller can import ``aggregator.metrics`` without importing the app (which
imports the poller).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter

    from aggregator.api.throttle import FailureThrottle
    from aggregator.app import App

__all__ = ["build_router"]


def build_router(app: App, throttle: FailureThrottle | None = None) -> APIRouter:
    """The API's routes, served by the application that includes the router.

    ``throttle`` counts wrong tokens per client; pass the one the web pages' login
    uses, so that both count against one budget (a new one otherwise).
    """
    from aggregator.api._router import build_router as build

    return build(app, throttle)
