"""A real browser (Debian's headless Chromium, driven by Playwright) on the web pages.

Home page -> the founding review -> its evidence highlighted -> its episode, on a
desktop and on a phone-sized viewport, with screenshots saved under
``test-artifacts/`` for a person to look at; then a login and a confirm through the
forms, which also checks that the browser's own Origin header and SameSite cookie
pass our CSRF checks.

The browser is launched as ``tests/browser_support`` says, with no network beyond
127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from aggregator.types import LinkStatus
from tests.browser_support import (
    DESKTOP,
    PHONE,
    assert_fits_the_width,
    launched_browser,
    new_page,
    screenshot,
)
from tests.test_web import FOUNDING_TITLE, TOKEN, Site, running_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    path = tmp_path_factory.mktemp("browser") / "site.db"
    with running_site(f"sqlite:///{path}") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_browser() as launched:
        yield launched


def test_click_from_home_to_the_highlighted_review_and_its_episode(
    site: Site, browser: Browser
) -> None:
    page = new_page(browser, DESKTOP)
    page.goto(site.base_url + "/")
    expect(page).to_have_title("Recent reviews · aggregator")
    screenshot(page, "home-desktop.png")

    page.get_by_role("link", name=FOUNDING_TITLE).click()
    page.wait_for_url(f"**/reviews/{site.founding_id}")
    expect(page.locator("h1")).to_have_text(FOUNDING_TITLE)
    mark = page.locator(".review-text mark", has_text="Challimachi")
    expect(mark).to_have_count(1)
    expect(mark).to_be_visible()
    expect(mark).to_have_attribute(
        "title", "person: host Rukmini Callimachi (ratio 95) → Caliphate"
    )
    # Highlighted for the eye, not only in the markup.
    background = mark.evaluate("m => getComputedStyle(m).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    expect(page.locator(".review-text mark", has_text="Caliphate").first).to_be_visible()
    screenshot(page, "review-desktop.png")

    episode_link = page.locator("#links a[href^='/episodes/']").first
    episode_title = episode_link.inner_text()
    episode_link.click()
    page.wait_for_url("**/episodes/*")
    expect(page.locator("h1")).to_have_text(episode_title)
    expect(page.get_by_role("link", name=FOUNDING_TITLE)).to_be_visible()
    expect(page.locator(".excerpt mark").first).to_be_visible()
    screenshot(page, "episode-desktop.png")
    page.context.close()


def test_pages_fit_a_phone(site: Site, browser: Browser) -> None:
    page = new_page(browser, PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    for path, name in [
        ("/", "home-phone.png"),
        (f"/reviews/{site.founding_id}", "review-phone.png"),
        (f"/series/{site.series_id}", "series-phone.png"),
    ]:
        page.goto(site.base_url + path)
        assert_fits_the_width(page)
        screenshot(page, name)
    # Body text stays readable without zooming.
    size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 16
    page.context.close()


def test_log_in_and_confirm_a_link_in_the_browser(site: Site, browser: Browser) -> None:
    series_link = next(
        link
        for link in site.app.storage.list_links(review_id=site.founding_id)
        if link.episode_id is None
    )
    page = new_page(browser, PHONE, is_mobile=True)
    page.goto(f"{site.base_url}/reviews/{site.founding_id}")
    expect(page.locator("form[action$='/confirm']")).to_have_count(0)
    page.get_by_role("link", name="Log in to change links.").click()
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/reviews/{site.founding_id}")

    item = page.locator(f"#link-{series_link.id}")
    item.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_have_text("Link confirmed.")
    expect(item.locator(".status")).to_have_text("confirmed")
    assert site.app.storage.list_links(review_id=site.founding_id)[0].status is (
        LinkStatus.CONFIRMED
    )
    # The session cookie is out of the page scripts' reach.
    cookies = page.context.cookies()
    assert [c["httpOnly"] for c in cookies] == [True]
    assert [c["sameSite"] for c in cookies] == ["Strict"]
    screenshot(page, "review-logged-in-phone.png")
    page.context.close()
