"""Every API error is JSON ``{"error": "..."}`` with the status that fits.

FastAPI's exception handlers belong to the application, which the API shares with
the web pages (they answer errors in HTML). So the API catches its errors itself,
in its own route class (FastAPI's documented way to wrap one router's handlers):
validation errors, ``HTTPException`` from the auth guards, and aggregator's own
errors, mapped by ``STATUS``. Anything else is a bug: logged with its traceback,
answered 500 without details.

Every API response also says ``nosniff`` and forbids active content, so a browser
that opens a JSON answer full of someone's ``<script>`` renders text, nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException  # FastAPI's is a subclass

from aggregator.api.schemas import ErrorOut
from aggregator.exceptions import (
    AggregatorError,
    AlreadyExistsError,
    BlockedURL,
    FetchError,
    InputError,
    NotFoundError,
    ParseError,
    ReviewError,
    ReviewTooLarge,
    StorageError,
)

log = logging.getLogger("aggregator.api")

# First match wins: subclasses before their parents.
STATUS: tuple[tuple[type[AggregatorError], int], ...] = (
    (NotFoundError, 404),
    (AlreadyExistsError, 409),
    (BlockedURL, 400),  # a URL we refuse to fetch for a remote user
    (InputError, 400),
    (ReviewTooLarge, 413),  # the review in the body, or the page at its URL
    (ReviewError, 422),  # empty or binary review
    (ParseError, 422),
    (FetchError, 502),  # the review page's server failed us
    (StorageError, 503),
)

# A request body larger than this is refused unread (a review is at most 5 MiB of
# UTF-8, which JSON escaping can at most double).
MAX_BODY_BYTES = 12 * 1024 * 1024

# An error names at most this many problems of a request, each place (a body's key
# path) cut to ``_MAX_PLACE`` characters, and the whole message to
# ``MAX_ERROR_CHARS``: errors echo what the client sent, and a 9.5 MB body of 800,000
# unknown keys made an error body of 36.7 MB. One line a person reads needs no more.
MAX_LISTED_PROBLEMS = 10
_MAX_PLACE = 100
MAX_ERROR_CHARS = 2000

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {}  # filled in below, per status


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """``{"error": message}``, the message cut to ``MAX_ERROR_CHARS``."""
    return JSONResponse(
        {"error": _clip(message, MAX_ERROR_CHARS)}, status_code=status, headers=headers
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_for(error: AggregatorError) -> int:
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 500


def describe_validation(errors: Sequence[Any]) -> tuple[int, str]:
    """(status, one line) for FastAPI's validation errors: the first few of them."""
    if any(error.get("type") == "json_invalid" for error in errors):
        return 400, "the request body is not valid JSON"
    parts = []
    for error in errors[:MAX_LISTED_PROBLEMS]:
        where = _clip(".".join(str(p) for p in error.get("loc", ())), _MAX_PLACE)
        what = _clip(str(error.get("msg", "invalid")), _MAX_PLACE)
        parts.append(f"{where}: {what}" if where else what)
    more = len(errors) - len(parts)
    if more > 0:
        parts.append(f"and {more:,} more")
    return 422, "; ".join(parts) or "invalid request"


def _message(error: AggregatorError) -> str:
    return " ".join(str(error).split())  # some causes (libpq's) span lines


class JsonErrorRoute(APIRoute):
    """An APIRoute whose every error comes out as ``{"error": ...}``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            response = await _handle(handler, request)
            response.headers.update(SECURITY_HEADERS)
            return response

        return route


async def _handle(
    handler: Callable[[Request], Coroutine[Any, Any, Response]], request: Request
) -> Response:
    too_big = await _refuse_large_body(request)
    if too_big is not None:
        return too_big
    try:
        return await handler(request)
    except RequestValidationError as e:
        status, message = describe_validation(e.errors())
        return error_response(status, message)
    except HTTPException as e:
        return error_response(e.status_code, str(e.detail), headers=e.headers)
    except (NotFoundError, AlreadyExistsError) as e:  # the caller's: 404, 409
        return error_response(status_for(e), _message(e))
    except StorageError as e:
        log.error("%s %s: %s", request.method, request.url.path, _message(e))
        return error_response(503, "the database failed; the server log has the details")
    except AggregatorError as e:
        return error_response(status_for(e), _message(e))
    except Exception:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(500, "internal error; the server log has the details")


async def _refuse_large_body(request: Request) -> Response | None:
    """Read the body up to the limit (FastAPI reads it again from Starlette's cache)."""
    if request.method in ("GET", "HEAD", "DELETE", "OPTIONS"):
        return None
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return error_response(413, f"the request body is over {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return error_response(413, f"the request body is over {MAX_BODY_BYTES} bytes")
    request._body = bytes(body)  # Starlette's cache of the body: read once, here
    return None


for _status, _what in (
    (400, "The request cannot be used (a refused URL, a search without words)."),
    (401, "The token is missing or wrong."),
    (403, "Writes (or reads) are disabled: no token is configured."),
    (404, "No such feed, series, episode, review or link."),
    (409, "It is there already."),
    (413, "The request body, or the review, is too large."),
    (422, "A parameter or the body is not valid, or the review has no readable text."),
    (429, "Too many wrong tokens from this address: wait Retry-After seconds."),
    (502, "The review page could not be fetched."),
    (503, "The database failed."),
):
    ERROR_RESPONSES[_status] = {"model": ErrorOut, "description": _what}


def resource_router(name: str) -> APIRouter:
    """The router of the resource at ``/api/<name>``: its errors JSON, and documented."""
    return APIRouter(
        prefix=f"/api/{name}",
        tags=[name],
        route_class=JsonErrorRoute,
        responses=ERROR_RESPONSES,
    )
