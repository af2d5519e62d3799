"""On a 390x844 phone the space's pages fold behind "Menu"; on a wide screen they show."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_the_space_pages_fold_behind_a_menu_on_a_phone(logged_in, live_server, curator_space, shot):
    page = logged_in
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + reverse("dashboard:browse", args=[curator_space.slug]))
    menu = page.locator("details.navmenu")
    review = page.get_by_role("navigation", name="Space").get_by_role("link", name="Review")
    expect(review).to_be_hidden()
    menu.get_by_text("Menu", exact=True).click()
    expect(menu).to_have_attribute("open", "")
    expect(review).to_be_visible()
    shot(page, "menu-open-390")
    review.click()
    expect(page).to_have_url(
        live_server.url + reverse("dashboard:review", args=[curator_space.slug])
    )
    expect(page.locator("details.navmenu")).not_to_have_attribute("open", "")  # folded again


def test_the_space_pages_show_without_a_menu_on_a_wide_screen(
    logged_in, live_server, curator_space
):
    page = logged_in
    page.goto(live_server.url + reverse("dashboard:browse", args=[curator_space.slug]))
    expect(page.locator("details.navmenu").get_by_text("Menu", exact=True)).to_be_hidden()
    nav = page.get_by_role("navigation", name="Space")
    expect(nav.get_by_role("link", name="Review")).to_be_visible()
    nav.get_by_role("link", name="Jobs").click()
    expect(page).to_have_url(live_server.url + reverse("dashboard:jobs", args=[curator_space.slug]))
