"""The sign-in limit holds under parallel attempts: guesses sent all at once, over real
HTTP to a threaded server, get no more password checks than the limit allows."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from django.contrib.auth.signals import user_login_failed

from apps.spaces.models import ApiToken, Scope, Space

PARALLEL = 40
LIMIT = 5
_CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def checked_passwords() -> Iterator[list[str]]:
    """The user names whose password Django checked and found wrong, one per check."""
    checked: list[str] = []

    def record(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
        checked.append(credentials.get("username", ""))

    user_login_failed.connect(record, dispatch_uid="test-login-limit")
    yield checked
    user_login_failed.disconnect(dispatch_uid="test-login-limit")


@pytest.fixture
def login_form(live_server: Any) -> tuple[str, str]:
    """The login page's CSRF cookie and form token, as a browser would get them."""
    page = httpx.get(f"{live_server.url}/login/")
    assert page.status_code == 200
    match = _CSRF_FIELD.search(page.text)
    assert match is not None
    return page.cookies["csrftoken"], match.group(1)


def all_at_once(count: int, send: Callable[[int], httpx.Response]) -> list[int]:
    """Sends `count` requests from as many threads, released together; their statuses."""
    start = threading.Barrier(count)

    def one(index: int) -> int:
        start.wait()
        return send(index).status_code

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def sign_in(
    live_server: Any, login_form: tuple[str, str], username: str, address: str = ""
) -> httpx.Response:
    cookie, token = login_form
    return httpx.post(
        f"{live_server.url}/login/",
        data={"username": username, "password": "wrong", "csrfmiddlewaretoken": token},
        cookies={"csrftoken": cookie},
        headers={"X-Forwarded-For": address} if address else {},
        timeout=120,
    )


@pytest.fixture
def limited(settings: Any) -> None:
    settings.LOGIN_RATE_LIMIT = (LIMIT, 60)


def test_it_checks_at_most_the_limit_of_parallel_guesses_at_one_account(
    live_server, login_form, checked_passwords, limited, django_user_model
):
    django_user_model.objects.create_user("maya", password="a long right password")

    statuses = all_at_once(PARALLEL, lambda _: sign_in(live_server, login_form, "maya"))

    assert len(checked_passwords) == LIMIT
    assert Counter(statuses) == {200: LIMIT, 429: PARALLEL - LIMIT}


def test_it_counts_parallel_guesses_per_user_name_across_addresses(
    live_server, login_form, checked_passwords, limited, django_user_model, settings
):
    # Behind a proxy, each guess comes from an address of its own.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    django_user_model.objects.create_user("maya", password="a long right password")

    statuses = all_at_once(
        PARALLEL, lambda i: sign_in(live_server, login_form, "Maya", address=f"10.0.0.{i}")
    )

    assert len(checked_passwords) == LIMIT
    assert Counter(statuses) == {200: LIMIT, 429: PARALLEL - LIMIT}


def test_it_counts_parallel_guesses_per_address_across_user_names(
    live_server, login_form, checked_passwords, limited
):
    statuses = all_at_once(PARALLEL, lambda i: sign_in(live_server, login_form, f"user{i}"))

    assert len(checked_passwords) == LIMIT
    assert Counter(statuses) == {200: LIMIT, 429: PARALLEL - LIMIT}


def test_it_does_not_count_a_successful_sign_in_as_a_failure(
    live_server, login_form, checked_passwords, settings, django_user_model
):
    settings.LOGIN_RATE_LIMIT = (2, 60)
    django_user_model.objects.create_user("maya", password="a long right password")
    cookie, token = login_form

    def attempt(password: str) -> int:
        return httpx.post(
            f"{live_server.url}/login/",
            data={"username": "maya", "password": password, "csrfmiddlewaretoken": token},
            cookies={"csrftoken": cookie},
        ).status_code

    assert attempt("wrong") == 200
    assert attempt("a long right password") == 302
    assert attempt("wrong") == 200  # the success above took no place in the window
    assert attempt("a long right password") == 429
    assert checked_passwords == ["maya", "maya"]


def test_a_refused_attempt_does_not_tell_a_right_password_from_a_wrong_one(
    client, checked_passwords, settings, django_user_model
):
    settings.LOGIN_RATE_LIMIT = (1, 60)
    django_user_model.objects.create_user("maya", password="a long right password")
    assert client.post("/login/", {"username": "maya", "password": "wrong"}).status_code == 200

    right = client.post("/login/", {"username": "maya", "password": "a long right password"})
    wrong = client.post("/login/", {"username": "maya", "password": "wrong again"})

    assert checked_passwords == ["maya"]  # neither refused password was checked
    for refused in (right, wrong):
        assert refused.status_code == 429
        page = refused.content.decode()
        assert "Too many failed sign-ins" in page
        assert "Please enter a correct" not in page
        assert "_auth_user_id" not in client.session


def test_the_api_rate_limit_lets_through_only_its_count_of_parallel_requests(
    live_server, settings, space: Space
):
    # The API's windows are aligned to the clock: a burst that straddled the end of a
    # minute would rightly get two windows' worth. A window of 30 years has no end here.
    settings.API_RATE_LIMIT = (LIMIT, 10**9)
    _, raw = ApiToken.issue(space=space, name="agent", scopes=[Scope.MEMORIES_READ])

    statuses = all_at_once(
        PARALLEL,
        lambda _: httpx.get(
            f"{live_server.url}/api/v1/memories",
            headers={"Authorization": f"Bearer {raw}"},
            timeout=120,
        ),
    )

    assert Counter(statuses) == {200: LIMIT, 429: PARALLEL - LIMIT}
