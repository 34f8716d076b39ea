"""/healthz (is the database there?) and /metrics (Prometheus text)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response

from aggregator import metrics
from aggregator.api._context import Api
from aggregator.api._errors import ERROR_RESPONSES, JsonErrorRoute, error_response
from aggregator.api.schemas import ErrorOut, HealthOut
from aggregator.exceptions import StorageError

# A database that takes longer than this to answer SELECT 1 is not fit to serve:
# load balancers and Docker's health check get a 503 then, not a request that hangs.
HEALTH_TIMEOUT_SECONDS = 3.0


def health_router(api: Api) -> APIRouter:
    """Open to all, whatever ``public_reads`` says: load balancers do not log in."""
    r = APIRouter(tags=["service"], route_class=JsonErrorRoute)

    @r.get(
        "/healthz",
        response_model=HealthOut,
        responses={503: {"model": ErrorOut, "description": "The database does not answer."}},
        summary="Is the service up, with its database?",
    )
    async def healthz() -> Any:
        # On the event loop, with the database check on threads of its own: it never
        # waits for a thread behind the other requests, however many are running.
        check = api.health_checks.submit(api.app.storage.ping)
        try:
            await asyncio.wait_for(asyncio.wrap_future(check), HEALTH_TIMEOUT_SECONDS)
        except TimeoutError:
            return error_response(
                503, f"the database did not answer within {HEALTH_TIMEOUT_SECONDS:g} s"
            )
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
