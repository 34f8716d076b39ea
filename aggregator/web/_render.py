"""Templates to HTML responses: the Jinja2 environment, its filters, the headers.

Autoescaping is on for every template, so any value from a feed or a review is
escaped unless it arrives as ``Markup`` (only highlighted review text and
descriptions passed through ``sanitize_html``). URLs from feeds and reviews are
shown as links only when they are http(s): an escaped ``javascript:`` URL is still
a script.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi.responses import HTMLResponse

from aggregator.labels import host

# Scripts come from our own static files only (the copy buttons), never inline, so
# none may be injected; no other site may frame these pages. Images (artwork, and
# pictures in show notes) and an episode's audio are on the publishers' own hosts,
# which could be any host on the web: proxying them would make this service fetch
# arbitrary URLs for its readers, so the reader's browser loads them directly
# (Referrer-Policy keeps our addresses from those hosts).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src http: https: data:; "
    "media-src http: https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
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


def format_size(length: int | None) -> str:
    """A file's size as a reader wants it; empty when unknown.

    >>> format_size(48_300_000), format_size(900_000), format_size(None)
    ('48 MB', '0.9 MB', '')
    """
    if not length:
        return ""
    megabytes = length / 1_000_000
    return f"{megabytes:.0f} MB" if megabytes >= 10 else f"{megabytes:.1f} MB"


def percent(score: float) -> str:
    """A score in [0, 1] as a whole percentage.

    >>> percent(0.984), percent(1.0)
    ('98%', '100%')
    """
    return f"{round(score * 100)}%"


# The files under static/ that pages load, with their media types.
STATIC_FILES = {
    "style.css": "text/css",
    "copy.js": "text/javascript",
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    media_type: str
    url: str  # with a version that changes with the content, so it can be cached for long


def _static_file(name: str, media_type: str) -> StaticFile:
    body = resources.files("aggregator.web").joinpath(f"static/{name}").read_bytes()
    version = hashlib.sha256(body).hexdigest()[:12]
    return StaticFile(body, media_type, f"/static/{name}?v={version}")


# What the templates may call on a value: {{ episode.published|date }}.
FILTERS: dict[str, Callable[..., str | None]] = {
    "http_url": http_url,
    "host": host,
    "date": format_date,
    "duration": format_duration,
    "percent": percent,
    "size": format_size,
}


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
        self._env.filters.update(FILTERS)
        self.static = {name: _static_file(name, kind) for name, kind in STATIC_FILES.items()}
        self._env.globals["stylesheet_url"] = self.static["style.css"].url
        self._env.globals["script_url"] = self.static["copy.js"].url

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self._env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
