"""The icon: linked from every page, and /favicon.ico answers (browsers ask for it
whatever the page says) instead of a 404 in the console."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_favicon_ico_leads_to_the_svg_icon_without_signing_in():
    client = Client()
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.svg"
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert icon["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in b"".join(icon.streaming_content)  # type: ignore[attr-defined]


def test_pages_link_the_icon(viewer, space):
    html = viewer.get("/s/home/map/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    login = Client().get("/login/").content.decode()
    assert 'rel="icon"' in login


def test_favicon_ico_only_answers_reads():
    assert Client().post("/favicon.ico").status_code == 405
