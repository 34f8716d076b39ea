"""Debian's headless Chromium driven by Playwright, cut off from everything but 127.0.0.1.

Playwright's bundled browser download does not work here: the system Chromium is
launched by path. Every page is opened in a context that aborts any request to a host
other than 127.0.0.1 (``Offline.blocked`` lists them), so a page that needs a CDN or
a font server fails its test here as it would on a machine with no internet.

``accessibility_problems`` runs axe-core (the copy axe-playwright-python bundles, so
nothing is downloaded) on a page and gives its serious and critical violations.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Route, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000
LOOPBACK = "127.0.0.1"

# axe-core's impact levels that fail a test; "moderate" and "minor" are reported only.
FAILING_IMPACTS = frozenset({"serious", "critical"})


@contextmanager
def launched_browser() -> Iterator[Browser]:
    """Chromium, for a test module's ``browser`` fixture."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Offline:
    """Aborts every request of a page's context to a host other than 127.0.0.1."""

    blocked: list[tuple[str, str]] = field(default_factory=list)  # (resource type, URL)

    def __call__(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and (
            urlsplit(url).hostname != LOOPBACK
        ):
            self.blocked.append((route.request.resource_type, url))
            route.abort("internetdisconnected")
        else:
            route.continue_()


def open_page(
    browser: Browser, viewport: dict[str, int] = DESKTOP, **options: object
) -> tuple[Page, Offline]:
    """A page in a new context whose requests beyond 127.0.0.1 are aborted, and the
    record of those."""
    context = browser.new_context(viewport=viewport, **options)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    offline = Offline()
    context.route("**/*", offline)
    return context.new_page(), offline


def new_page(browser: Browser, viewport: dict[str, int], **options: object) -> Page:
    return open_page(browser, viewport, **options)[0]


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a page, not a blank
    return path


def assert_fits_the_width(page: Page) -> None:
    """Nothing sticks out sideways: a phone reader never scrolls left and right."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def accessibility_problems(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]
