"""The web app as a reader uses it, in headless Chromium with no network beyond
127.0.0.1: search from the header, tell the two "Serial"s apart, see the artwork,
play an episode, copy a feed's address, browse what nobody reviewed and one author's
reviews -- and axe-core finds no serious accessibility problem on any page.

Screenshots go to ``test-artifacts/`` (``browser_support.screenshot``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser_support import (
    DESKTOP,
    PHONE,
    accessibility_problems,
    assert_fits_the_width,
    launched_browser,
    open_page,
    screenshot,
)
from tests.stored import episode_records
from tests.test_web import TOKEN
from tests.webapp_support import ANN, SERIAL_A, SERIAL_B, BrowsingSite, browsing_site


@pytest.fixture(scope="module")
def browse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowsingSite]:
    path: Path = tmp_path_factory.mktemp("webapp") / "site.db"
    with browsing_site(f"sqlite:///{path}") as site:
        yield site


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_browser() as launched:
        yield launched


def loaded_image(page: Page, selector: str) -> int:
    """The natural width of the first image matching ``selector`` once loaded (0: broken)."""
    image = page.locator(selector).first
    expect(image).to_be_visible()
    width = image.evaluate(
        "i => i.complete ? i.naturalWidth"
        " : new Promise(done => i.addEventListener('load', () => done(i.naturalWidth)))"
    )
    return int(width)


def test_search_from_the_header_tell_the_serials_apart_and_play_one(
    browse: BrowsingSite, browser: Browser
) -> None:
    page, offline = open_page(browser, DESKTOP)
    page.goto(browse.base_url + "/")
    screenshot(page, "webapp-home-desktop.png")
    page.get_by_role("searchbox", name="Search series, episodes and reviews").fill("serial")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=serial")
    expect(page.get_by_role("heading", level=1)).to_have_text("Results for “serial”")
    cards = page.locator("#hits-series ~ .series-grid .series-card")
    expect(cards).to_have_count(2)
    expect(cards.nth(0)).to_contain_text(SERIAL_A)
    expect(cards.nth(1)).to_contain_text(SERIAL_B)
    # Each card's artwork came from its feed's host, through the page's policy.
    assert loaded_image(page, f"img[src='{browse.server.url('/a/art.png')}']") == 120
    assert loaded_image(page, f"img[src='{browse.server.url('/b/art.png')}']") == 120
    screenshot(page, "webapp-search.png")

    cards.nth(0).get_by_role("link", name="Serial").click()
    page.wait_for_url(f"**/series/{browse.serial_a}")
    expect(page.locator(".series-head")).to_contain_text(SERIAL_A)
    page.get_by_role("link", name="Episode 01: The Alibi (a)").click()
    page.wait_for_url("**/episodes/*")
    audio = page.locator("audio")
    expect(audio).to_have_attribute("src", browse.server.url("/a/ep1.wav"))
    # The player loads the enclosure from the feed's host: one second of audio.
    duration = audio.evaluate(
        "a => new Promise((done, fail) => {"
        " a.addEventListener('loadedmetadata', () => done(a.duration));"
        " a.addEventListener('error', () => fail(a.error && a.error.message));"
        " a.load(); })"
    )
    assert abs(duration - 1.0) < 0.05
    screenshot(page, "webapp-episode.png")
    assert offline.blocked == []
    page.context.close()


def test_copy_a_feed_address_and_see_what_is_in_the_feed(
    browse: BrowsingSite, browser: Browser
) -> None:
    page, _ = open_page(browser, DESKTOP)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{browse.base_url}/series/{browse.serial_a}")
    address = f"{browse.base_url}/feeds/series/{browse.serial_a}.xml"
    field = page.get_by_label("Every episode, each with its reviews")
    expect(field).to_have_value(address)
    page.locator("button[data-copy='feed-episodes']").click()
    expect(page.locator("#feed-episodes-status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == address

    page.get_by_role("link", name="About these feeds").click()
    page.wait_for_url(f"**/feeds/series/{browse.serial_a}")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Serial: the podcast feed with reviews"
    )
    expect(page.get_by_role("link", name="Episode 02: The Breakup (a)")).to_be_visible()
    expect(page.get_by_role("link", name="The feed itself (RSS)")).to_have_attribute(
        "href", address
    )
    screenshot(page, "webapp-feed-page.png")
    page.context.close()


def test_the_copy_button_waits_for_its_script(browse: BrowsingSite, browser: Browser) -> None:
    """Without scripts the button stays hidden and the address can still be selected."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{browse.base_url}/series/{browse.serial_a}")
    expect(page.locator("button[data-copy='feed-episodes']")).to_be_hidden()
    expect(page.locator("#feed-episodes")).to_be_visible()
    context.close()


def test_browse_what_nobody_reviewed_and_one_authors_reviews(
    browse: BrowsingSite, browser: Browser
) -> None:
    page, _ = open_page(browser, DESKTOP)
    page.goto(browse.base_url + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Episodes").click()
    page.wait_for_url("**/episodes")
    page.get_by_role("link", name="Not reviewed yet").click()
    page.wait_for_url("**/episodes?reviewed=no")
    expect(page.get_by_role("heading", level=1)).to_have_text("Episodes not reviewed yet")
    expect(page.get_by_role("link", name="Not reviewed yet")).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_role("link", name="Episode 01: The Alibi (a)")).to_have_count(0)
    expect(page.get_by_role("link", name="Episode 01: The Alibi (b)")).to_have_count(1)
    screenshot(page, "webapp-unreviewed.png")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reviews").click()
    page.wait_for_url("**/reviews")
    page.get_by_role("link", name=ANN).first.click()
    page.wait_for_url("**/reviews?author=" + quote(ANN))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Reviews by {ANN}")
    expect(page.locator("article.card")).to_have_count(2)
    page.context.close()


def pages_to_check(browse: BrowsingSite) -> list[str]:
    site = browse.site
    episode = min(e.id for e in episode_records(site.app.storage, browse.serial_a))
    return [
        "/",
        "/series",
        f"/series/{browse.serial_a}",
        f"/series/{site.series_id}",
        "/episodes",
        "/episodes?reviewed=no",
        f"/episodes/{episode}",
        "/reviews",
        "/reviews?author=" + quote(ANN),
        f"/reviews/{site.founding_id}",
        "/authors",
        "/search?q=serial",
        "/search",
        "/feeds",
        f"/feeds/series/{browse.serial_a}",
        f"/feeds/reviews?series={browse.serial_a}",
        "/login",
        "/no/such/page",
    ]


def test_no_serious_accessibility_problems(browse: BrowsingSite, browser: Browser) -> None:
    page, _ = open_page(browser, DESKTOP)
    problems = {}
    for path in pages_to_check(browse):
        page.goto(browse.base_url + path)
        found = accessibility_problems(page)
        if found:
            problems[path] = found
    # Logged in, the review page has its forms.
    page.goto(f"{browse.base_url}/login?next=/reviews/{browse.site.founding_id}")
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/reviews/{browse.site.founding_id}")
    if found := accessibility_problems(page):
        problems["/reviews/ID logged in"] = found
    assert problems == {}
    page.context.close()


def test_the_checker_reports_a_serious_problem(browser: Browser) -> None:
    page, _ = open_page(browser, DESKTOP)
    page.set_content('<html lang="en"><body><main><img src="x.png"><a href="/"></a></main></body>')
    found = accessibility_problems(page)
    assert any(line.startswith("image-alt (critical)") for line in found), found
    assert any(line.startswith("link-name (serious)") for line in found), found
    page.context.close()


def test_the_new_pages_fit_a_phone(browse: BrowsingSite, browser: Browser) -> None:
    page, _ = open_page(browser, PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    for path in pages_to_check(browse):
        page.goto(browse.base_url + path)
        assert_fits_the_width(page)
    episode = min(e.id for e in episode_records(browse.site.app.storage, browse.serial_a))
    page.goto(f"{browse.base_url}/episodes/{episode}")
    screenshot(page, "webapp-episode-phone.png")
    page.goto(browse.base_url + "/search?q=serial")
    screenshot(page, "webapp-search-phone.png")
    page.context.close()
