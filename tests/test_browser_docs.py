"""The API docs (/docs: Swagger UI, /redoc: ReDoc) render in Chromium with no internet.

The service's own HTTP application is served on 127.0.0.1 and every request the
browser makes elsewhere is aborted (``browser_support.Offline``): the docs' scripts
and styles must come from the service itself, and the operations must show.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from aggregator.app import App, make_app
from aggregator.server import create_http_app
from aggregator.settings import HttpSettings, Settings
from tests.browser_support import launched_browser, open_page, screenshot
from tests.test_web import serve

RENDER_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_browser() as launched:
        yield launched


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, str]]:
    path: Path = tmp_path_factory.mktemp("docs") / "docs.db"
    settings = Settings(database_url=f"sqlite:///{path}", http=HttpSettings(token="t"))
    with make_app(settings) as app, serve(create_http_app(app)) as base_url:
        yield app, base_url


def test_swagger_ui_renders_the_operations_offline(
    service: tuple[App, str], browser: Browser
) -> None:
    _, base_url = service
    page, offline = open_page(browser)
    page.goto(base_url + "/docs")
    # Swagger UI draws one block per operation once its script has read the schema.
    operation = page.locator(".opblock-summary-path", has_text="/api/search/episodes")
    expect(operation.first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    # Its stylesheet applied: the operation's method badge has a background colour.
    badge = page.locator(".opblock-summary-method").first
    background = badge.evaluate("b => getComputedStyle(b).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    assert offline.blocked == []
    screenshot(page, "docs-swagger.png")
    page.context.close()


def test_redoc_renders_the_operations_offline(service: tuple[App, str], browser: Browser) -> None:
    _, base_url = service
    page, offline = open_page(browser)
    page.goto(base_url + "/redoc")
    # ReDoc writes a heading per operation, by its summary, once its script has run
    # (and laid out the whole schema: seconds on a busy machine).
    heading = page.locator("h2", has_text="Search episodes").first
    expect(heading).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_role("menuitem", name="episodes", exact=True)).to_be_visible()
    expect(page.locator("h1", has_text="aggregator").first).to_be_visible()
    # Only ReDoc's "API docs by Redocly" credit is an image from its site, which no
    # option turns off; a missing logo is all that changes offline.
    assert [kind for kind, _ in offline.blocked] in ([], ["image"])
    screenshot(page, "docs-redoc.png")
    page.context.close()


def test_the_docs_assets_are_served_by_the_service(service: tuple[App, str]) -> None:
    _, base_url = service
    docs = httpx.get(base_url + "/docs", timeout=10).text
    redoc = httpx.get(base_url + "/redoc", timeout=10).text
    assert "cdn." not in docs and "cdn." not in redoc
    assert "fonts.googleapis" not in redoc
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static/docs/{asset}" in docs
        response = httpx.get(f"{base_url}/static/docs/{asset}", timeout=10)
        assert response.status_code == 200 and len(response.content) > 100_000
    assert "/static/docs/redoc.standalone.js" in redoc
