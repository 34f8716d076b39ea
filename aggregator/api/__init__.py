"""The JSON API: feeds, series, episodes, reviews, links and search under ``/api``,
plus ``/healthz`` and ``/metrics``.

``build_router(app)`` gives one FastAPI router; ``aggregator.server`` includes it in
the application it serves. Errors are ``{"error": "..."}`` with a fitting status
(``_errors``); writes need the token (``auth``); feeds and review pages named
through the API are fetched only from public addresses (``ssrf``).

The router is imported when first built, not with this package, so that the
poller can import ``aggregator.metrics`` without importing the app (which
imports the poller).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter

    from aggregator.app import App

__all__ = ["build_router"]


def build_router(app: App) -> APIRouter:
    """The API's routes, served by the application that includes the router."""
    from aggregator.api._router import build_router as build

    return build(app)
