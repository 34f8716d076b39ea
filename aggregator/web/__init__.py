"""Web pages: server-rendered HTML for people, with the evidence of every link in sight.

``build_router(app)`` gives the pages (``/``, ``/series/{id}``, ``/episodes/{id}``,
``/reviews/{id}``), the lists and search to browse by (``/series``, ``/episodes``,
``/reviews``, ``/authors``, ``/search``: ``_browse``), the pages beside the combined
feeds (``/feeds``...), the forms that confirm, reject and add links (token-protected
via ``/login``, with sessions kept in the database: ``_sessions``) and the static
files (``/static/style.css``, ``/static/copy.js``); ``build_fallback_router(app)``
the 404 page for any other address, to include last. ``highlight`` marks evidence
spans in a review's text.
"""

from aggregator.web._routes import build_fallback_router, build_router

__all__ = ["build_fallback_router", "build_router"]
