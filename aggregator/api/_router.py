"""The API's one router: resources under /api, plus /healthz and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.routing import BaseRoute, Route

from aggregator.api import _episodes, _feeds, _links, _reviews, _search, _series, _service
from aggregator.api._context import Api
from aggregator.api._errors import SECURITY_HEADERS, JsonErrorRoute, error_response
from aggregator.api.auth import require_read, require_write
from aggregator.api.throttle import FailureThrottle
from aggregator.app import App

_CATCH_ALL = "/api/{rest:path}"
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def build_router(app: App, throttle: FailureThrottle | None = None) -> APIRouter:
    api = Api.build(app)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            api.close()

    settings = app.settings.http
    if throttle is None:
        throttle = FailureThrottle(settings.auth_failures_per_minute)
    write = Depends(require_write(settings, throttle))
    root = APIRouter(lifespan=lifespan, route_class=JsonErrorRoute)
    root.include_router(_service.health_router(api))

    read = Depends(require_read(settings, throttle))
    resources = [
        _feeds.router(api, write),
        _series.router(api),
        _episodes.router(api),
        _reviews.router(api, write),
        _links.router(api, write),
        _search.router(api),
        _service.metrics_router(api),
    ]
    for resource in resources:
        root.include_router(resource, dependencies=[read])
    served = [route for r in resources for route in r.routes]

    @root.api_route(_CATCH_ALL, methods=_METHODS, include_in_schema=False)
    def unknown(request: Request) -> Response:
        """JSON for a path under /api that no route serves, or a method it does not."""
        allowed = _methods_for(served, request.url.path)
        if allowed:
            response = error_response(
                405, f"{request.method} is not allowed here; try {', '.join(sorted(allowed))}"
            )
            response.headers["Allow"] = ", ".join(sorted(allowed))
        else:
            response = error_response(404, f"no such endpoint: {request.url.path}")
        response.headers.update(SECURITY_HEADERS)
        return response

    return root


def _methods_for(routes: Sequence[BaseRoute], path: str) -> set[str]:
    allowed: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(path):
            allowed |= route.methods
    return allowed
