"""Templates to HTML responses: the Jinja2 environment, its filters, the headers.

Autoescaping is on for every template, so any value from a feed or a review is
escaped unless it arrives as ``Markup`` (only highlighted review text and
descriptions passed through ``sanitize_html``). URLs from feeds and reviews are
shown as links only when they are http(s): an escaped ``javascript:`` URL is still
a script.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi.responses import HTMLResponse

# No script runs on these pages, none may be injected, and no other site may frame
# them; images in show notes come from anywhere on the web.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src http: https: data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Our own forms carry a Referer (the CSRF check may need it); other sites get none.
    "Referrer-Policy": "same-origin",
}


def http_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL, else None (never a link then).

    >>> http_url("https://example.com/a"), http_url(" JavaScript:alert(1)"), http_url("/x")
    ('https://example.com/a', None, None)
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def host(url: str | None) -> str:
    """The site a URL is on, for a link's text: "www.example.com" -> "example.com".

    >>> host("https://www.example.com/reviews/1"), host(None)
    ('example.com', '')
    """
    if not url:
        return ""
    try:
        name = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    return name.removeprefix("www.")


def format_date(value: datetime | None) -> str:
    """Day, month and year, as a reader says them.

    >>> from datetime import UTC
    >>> format_date(datetime(2018, 7, 1, 9, 30, tzinfo=UTC)), format_date(None)
    ('1 Jul 2018', 'undated')
    """
    if value is None:
        return "undated"
    return f"{value.day} {value:%b %Y}"


def format_duration(seconds: int | None) -> str:
    """H:MM:SS, or M:SS under an hour; empty when unknown.

    >>> format_duration(3723), format_duration(125), format_duration(None)
    ('1:02:03', '2:05', '')
    """
    if seconds is None:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def percent(score: float) -> str:
    """A score in [0, 1] as a whole percentage.

    >>> percent(0.984), percent(1.0)
    ('98%', '100%')
    """
    return f"{round(score * 100)}%"


class Renderer:
    """Renders the package's templates to HTML responses with our security headers."""

    def __init__(self) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("aggregator.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters.update(
            http_url=http_url,
            host=host,
            date=format_date,
            duration=format_duration,
            percent=percent,
        )
        self.stylesheet = (
            resources.files("aggregator.web").joinpath("static/style.css").read_bytes()
        )
        # The stylesheet's URL changes with its content, so it can be cached for long.
        version = hashlib.sha256(self.stylesheet).hexdigest()[:12]
        self._env.globals["stylesheet_url"] = f"/static/style.css?v={version}"

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self._env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
