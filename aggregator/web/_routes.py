"""The web pages' routes: read a page, or post a form and be sent back to a page.

Handlers are plain functions (FastAPI runs them in its thread pool) because storage
is synchronous. Forms follow post/redirect/get: a successful post answers 303 to the
review page, so reloading it does not post again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from aggregator.api.throttle import FailureThrottle, Outcome
from aggregator.app import App
from aggregator.exceptions import (
    EpisodeNotFound,
    LinkNotFound,
    NotFoundError,
    ReviewNotFound,
)
from aggregator.types import LinkStatus, Relation
from aggregator.web import _views
from aggregator.web._auth import WebAuth
from aggregator.web._browse import Browse, feed_base_url
from aggregator.web._params import number as _number
from aggregator.web._params import page_number as _page_number
from aggregator.web._params import row_id
from aggregator.web._render import Renderer
from aggregator.web._sessions import Sessions

# Messages after a successful post, chosen by key so no text is reflected from a URL.
_DONE = {
    "confirmed": "Link confirmed.",
    "rejected": "Link rejected: the linker will not propose it again.",
    "added": "Link added.",
    "logout": "Logged out.",
}


def _safe_next(target: str) -> str:
    """Where to go after logging in: a path on this site, never another site."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


class _Pages:
    def __init__(self, app: App, throttle: FailureThrottle, allowed_hosts: Sequence[str]) -> None:
        self._app = app
        self._storage = app.storage
        self._render = Renderer()
        settings = app.settings.http
        sessions = Sessions(app.storage, settings, app.clock)
        self._auth = WebAuth(settings, sessions, throttle, allowed_hosts)

    # --- helpers -------------------------------------------------------------------

    def _page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        done = request.query_params.get("done", "")
        return self._render.page(
            name,
            status,
            request_path=request.url.path,
            logged_in=self._auth.logged_in(request),
            writes_enabled=self._auth.writes_enabled,
            message=_DONE.get(done),
            **context,
        )

    def _error(self, request: Request, status: int, title: str, detail: str) -> Response:
        return self._page(request, "error.html", status, title=title, detail=detail)

    def _not_found(self, request: Request, what: str) -> Response:
        return self._error(request, 404, "Not found", what)

    def unknown(self, request: Request, path: str) -> Response:
        """A page for people, never FastAPI's bare ``{"detail": "Not Found"}`` (the
        API answers its own unknown addresses in its JSON)."""
        return self._not_found(request, "There is no page at this address.")

    def _read_gate(self, request: Request) -> Response | None:
        if self._auth.may_read(request):
            return None
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/login?next={target}", status_code=303)

    def _write_gate(self, request: Request) -> Response | None:
        """A refusal page for a post we must not act on, else None."""
        if not self._auth.same_origin(request):
            return self._error(
                request, 403, "Refused", "This form was not sent from a page of this site."
            )
        if not self._auth.writes_enabled:
            return self._error(
                request,
                403,
                "Changes are disabled",
                "No token is configured (http.token or AGGREGATOR_TOKEN), "
                "so links cannot be changed.",
            )
        if not self._auth.logged_in(request):
            return self._error(request, 403, "Log in first", "Log in to change links.")
        return None

    # --- pages ---------------------------------------------------------------------

    def home(self, request: Request, page: str = "1") -> Response:
        if gate := self._read_gate(request):
            return gate
        number = _page_number(page)
        if number is None:
            return self._not_found(request, f"There is no page {page!r}.")
        return self._page(request, "home.html", view=_views.home(self._storage, number))

    def series(self, request: Request, series_id: str, page: str = "1") -> Response:
        if gate := self._read_gate(request):
            return gate
        sid, number = _number(series_id), _page_number(page)
        if sid is None or number is None:
            return self._not_found(request, "There is no such series or page.")
        try:
            view = _views.series(
                self._storage, sid, number, feed_base_url(self._app.settings.http, request)
            )
        except NotFoundError:
            return self._not_found(request, f"There is no series with id {sid}.")
        return self._page(request, "series.html", view=view)

    def episode(self, request: Request, episode_id: str) -> Response:
        if gate := self._read_gate(request):
            return gate
        try:
            view = _views.episode(self._storage, row_id(episode_id, EpisodeNotFound))
        except NotFoundError:
            return self._not_found(request, "There is no such episode.")
        return self._page(request, "episode.html", view=view)

    def review(self, request: Request, review_id: str, series: str = "") -> Response:
        if gate := self._read_gate(request):
            return gate
        try:
            view = _views.review(
                self._storage,
                row_id(review_id, ReviewNotFound),
                with_forms=self._auth.logged_in(request),
                series_id=_number(series),
            )
        except NotFoundError:
            return self._not_found(request, "There is no such review.")
        return self._page(
            request, "review.html", view=view, relations=list(Relation), target=_views.link_target
        )

    # --- changing links ------------------------------------------------------------

    def set_status(self, request: Request, link_id: str, status: LinkStatus) -> Response:
        if refused := self._write_gate(request):
            return refused
        try:
            lid = row_id(link_id, LinkNotFound)
            link = self._storage.set_link_status(lid, status, self._app.clock())
        except NotFoundError:
            return self._not_found(request, "There is no such link.")
        return RedirectResponse(
            f"/reviews/{link.review_id}?done={status.value}#link-{link.id}", status_code=303
        )

    def confirm(self, request: Request, link_id: str) -> Response:
        return self.set_status(request, link_id, LinkStatus.CONFIRMED)

    def reject(self, request: Request, link_id: str) -> Response:
        return self.set_status(request, link_id, LinkStatus.REJECTED)

    def add_link(
        self,
        request: Request,
        review_id: str,
        series: Annotated[str, Form()] = "",
        episode: Annotated[str, Form()] = "",
        relation: Annotated[str, Form()] = "",
    ) -> Response:
        if refused := self._write_gate(request):
            return refused
        sid = _number(series)
        eid = _number(episode) if episode else None
        if relation not in {r.value for r in Relation} or sid is None or (episode and not eid):
            return self._error(
                request, 400, "Not added", "Choose a series, an episode or none, and a relation."
            )
        try:
            rid = row_id(review_id, ReviewNotFound)
            link = self._storage.add_link(rid, sid, eid, Relation(relation), self._app.clock())
        except NotFoundError as e:
            return self._not_found(request, f"Not added: {e}.")
        return RedirectResponse(f"/reviews/{rid}?done=added#link-{link.id}", status_code=303)

    # --- logging in ----------------------------------------------------------------

    def login_form(self, request: Request, next: str = "/") -> Response:
        return self._page(request, "login.html", next=_safe_next(next), failed=False, throttled=0)

    def login(
        self,
        request: Request,
        token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        if not self._auth.same_origin(request):
            return self._error(
                request, 403, "Refused", "This form was not sent from a page of this site."
            )
        target = _safe_next(next)
        if not self._auth.writes_enabled:  # no token to log in with, nor to guess
            return self._page(request, "login.html", 403, next=target, failed=True, throttled=0)
        attempt = self._auth.try_token(request, token)
        if attempt.outcome is Outcome.REFUSED:
            page = self._page(
                request, "login.html", 429, next=target, failed=False, throttled=attempt.retry_after
            )
            page.headers["Retry-After"] = str(attempt.retry_after)
            return page
        if attempt.outcome is Outcome.FAILED:
            return self._page(request, "login.html", 403, next=target, failed=True, throttled=0)
        response = RedirectResponse(target, status_code=303)
        self._auth.log_in(request, response)
        return response

    def logout(self, request: Request) -> Response:
        if not self._auth.same_origin(request):
            return self._error(
                request, 403, "Refused", "This form was not sent from a page of this site."
            )
        response = RedirectResponse("/?done=logout", status_code=303)
        self._auth.log_out(request, response)
        return response

    def static_file(self, request: Request, name: str) -> Response:
        found = self._render.static.get(name)
        if found is None:
            return self._not_found(request, "There is no such file.")
        return Response(
            found.body,
            media_type=found.media_type,
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )


def build_router(
    app: App,
    *,
    throttle: FailureThrottle | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> APIRouter:
    """The HTML pages (home, series, episode, review, the lists and search, the pages
    beside the combined feeds, login) and their forms.

    ``throttle`` counts failed logins per client (pass the API's, for one budget);
    ``allowed_hosts`` are the hosts forms may be posted from (by default the
    settings' ``http.hosts()``).
    """
    settings = app.settings.http
    if throttle is None:
        throttle = FailureThrottle(settings.auth_failures_per_minute)
    pages = _Pages(app, throttle, settings.hosts() if allowed_hosts is None else allowed_hosts)
    # Pages are for people; the API's OpenAPI schema describes the JSON resources.
    router = APIRouter(include_in_schema=False)
    get, post = ["GET"], ["POST"]
    router.add_api_route("/", pages.home, methods=get)
    router.add_api_route("/series/{series_id}", pages.series, methods=get)
    router.add_api_route("/episodes/{episode_id}", pages.episode, methods=get)
    router.add_api_route("/reviews/{review_id}", pages.review, methods=get)
    router.add_api_route("/reviews/{review_id}/links", pages.add_link, methods=post)
    router.add_api_route("/links/{link_id}/confirm", pages.confirm, methods=post)
    router.add_api_route("/links/{link_id}/reject", pages.reject, methods=post)
    router.add_api_route("/login", pages.login_form, methods=get)
    router.add_api_route("/login", pages.login, methods=post)
    router.add_api_route("/logout", pages.logout, methods=post)
    router.add_api_route("/static/{name}", pages.static_file, methods=get)
    browse = Browse(app.storage, app.settings.http, pages._page, pages._read_gate, pages._not_found)
    browse.add_routes(router)
    return router


def build_fallback_router(app: App) -> APIRouter:
    """Every GET no other route answers: a 404 page (the API's JSON error under
    ``/api``). Included last, after the API, the feeds and the pages."""
    router = APIRouter(include_in_schema=False)
    # It posts nothing and logs nobody in: no shared throttle or hosts needed.
    pages = _Pages(app, FailureThrottle(1), ())
    router.add_api_route("/{path:path}", pages.unknown, methods=["GET"])
    return router
