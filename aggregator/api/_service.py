"""/healthz (is the database there?) and /metrics (Prometheus text)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from aggregator import metrics
from aggregator.api._context import Api
from aggregator.api._errors import ERROR_RESPONSES, JsonErrorRoute, error_response
from aggregator.api.schemas import ErrorOut, HealthOut
from aggregator.exceptions import StorageError


def health_router(api: Api) -> APIRouter:
    """Open to all, whatever ``public_reads`` says: load balancers do not log in."""
    r = APIRouter(tags=["service"], route_class=JsonErrorRoute)

    @r.get(
        "/healthz",
        response_model=HealthOut,
        responses={503: {"model": ErrorOut, "description": "The database does not answer."}},
        summary="Is the service up, with its database?",
    )
    def healthz() -> Any:
        try:
            api.app.storage.ping()
        except StorageError as e:
            return error_response(503, f"the database does not answer: {e}")
        return {"status": "ok", "database": "ok", "instance": api.app.owner}

    return r


def metrics_router(api: Api) -> APIRouter:
    r = APIRouter(tags=["service"], route_class=JsonErrorRoute, responses=ERROR_RESPONSES)

    @r.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text."}},
        summary="Prometheus metrics",
    )
    def prometheus() -> Response:
        """Polls, failures and fetch latency since start; reviews linked; links per
        relation, feeds per status, episodes and reviews in the store."""
        body = metrics.render(api.app.storage.stats())
        return Response(body, media_type=metrics.CONTENT_TYPE)

    return r
