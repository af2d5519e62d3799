"""What a page reports as going wrong: console errors (such as a 404 for the icon)
and uncaught exceptions, collected from the moment a test starts listening."""

from __future__ import annotations

from playwright.sync_api import Page


def console_errors(page: Page) -> list[str]:
    """A list that fills with every error the page reports from now on."""
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def at_both_widths(page: Page, shot, name: str) -> None:
    """Screenshots at 1280 wide and at a phone's 390 by 844, then back to 1280."""
    shot(page, f"{name}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)  # plotly redraws at the new width
    shot(page, f"{name}-390")
    page.set_viewport_size({"width": 1280, "height": 900})
