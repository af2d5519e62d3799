"""Playwright driving Debian's Chromium against a live server on the test database.

A missing browser fails these tests (it does not skip them): `make test` installs it.
Screenshots of every page visited go to var/screenshots/ for people to look at.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser, Locator, Page, sync_playwright

from apps.spaces.models import Membership, Role, Space

# Playwright's sync API runs an event loop in this thread; Django's ORM calls in the
# test body are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "a-long-browser-password-1"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run `make browser`"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    # Every page must work under our Content-Security-Policy: a blocked script, style
    # or handler is reported on the console, and fails the test that met it.
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert not blocked, blocked


@pytest.fixture
def shot() -> Callable[[Page, str], None]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def curator_space(transactional_db: Any) -> Space:
    space = Space.objects.create(slug="lab", name="Lab")
    user = get_user_model().objects.create_user("curator", password=PASSWORD)
    Membership.objects.create(space=space, user=user, role=Role.ADMIN)
    return space


@pytest.fixture
def logged_in(page: Page, live_server: Any, curator_space: Space) -> Page:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    return page


def assert_in_one_row(*controls: Locator) -> None:
    """The controls are laid out side by side: every one overlaps the first vertically
    and starts to the right of the one before (a form that falls apart stacks them)."""
    found = [control.bounding_box() for control in controls]
    boxes = [box for box in found if box is not None]
    assert len(boxes) == len(controls), "a control is not visible"
    first = boxes[0]
    for before, box in itertools.pairwise(boxes):
        assert box["y"] < first["y"] + first["height"] and first["y"] < box["y"] + box["height"]
        assert box["x"] >= before["x"] + before["width"]
