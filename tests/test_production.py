"""Production mode: what must come from the environment fails loudly when missing, the
security settings are on, and gunicorn serves the app (static files included) against
the embedded services; security headers and the sign-in limit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from apps.retrieval.embedding import MiniLMBackend, ready_message
from tests.conftest import child_database_url, start_gunicorn, stop_gunicorn
from tests.test_deployment import final_stage

BASE_DIR = Path(settings.BASE_DIR)
GOOD_KEY = "vR7-production-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
PRODUCTION_ENV = {
    "MEMORYWEB_PRODUCTION": "1",
    "SECRET_KEY": GOOD_KEY,
    "ALLOWED_HOSTS": "memory.example.com,127.0.0.1",
}


def environment(**overrides: str | None) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        # The browser tests allow sync database calls under Playwright's event loop;
        # a server must never inherit that.
        if name
        not in (
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DEBUG",
            "MEMORYWEB_PRODUCTION",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        )
    }
    env.update({name: value for name, value in PRODUCTION_ENV.items()})
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def manage(*args: str, **overrides: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=environment(**overrides),
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, "at least 50 characters"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must be set"),
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"MEMORYWEB_PRODUCTION": "maybe"}, "MEMORYWEB_PRODUCTION must be true or false"),
    ],
)
def test_it_refuses_to_start_without_what_production_needs(overrides, message):
    result = manage("check", **overrides)
    assert result.returncode != 0
    assert message in result.stderr


def test_it_passes_djangos_deployment_checks_in_production_mode():
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_it_is_insecure_only_outside_production_mode():
    # The test settings are the development defaults: no HTTPS cookies or HSTS there.
    assert not settings.PRODUCTION and not settings.SESSION_COOKIE_SECURE
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-5:] == ["False", "True", "True", "31536000", "True"]


@pytest.fixture
def gunicorn(db: Any, tmp_path: Path) -> Any:
    """gunicorn serving the app in production mode on the test database, behind a
    proxy that terminates HTTPS (X-Forwarded-Proto), with collected static files."""
    overrides = {
        "MEMORYWEB_STATIC_ROOT": str(tmp_path / "static"),
        "MEMORYWEB_BEHIND_PROXY": "1",
        "MEMORYWEB_PROFILE": "test",
        "DATABASE_URL": child_database_url(),
    }
    collected = manage("collectstatic", "--noinput", **overrides)
    assert collected.returncode == 0, collected.stderr
    process, base = start_gunicorn(environment(**overrides), "--workers", "2", "--timeout", "60")
    try:
        yield base, process
    finally:
        stop_gunicorn(process)


HTTPS = {"X-Forwarded-Proto": "https", "Host": "memory.example.com"}


def container_probe() -> str:
    """The Python script the image's HEALTHCHECK runs."""
    (script,) = [copy for copy in final_stage("COPY") if "memoryweb-healthcheck" in copy]
    return script.split("\n", 1)[1]


@pytest.mark.slow
def test_its_gunicorn_settings_load_the_model_before_the_first_request(
    db: Any, tmp_path: Path
) -> None:
    log_path = tmp_path / "gunicorn.log"
    env = environment(
        MEMORYWEB_PROFILE="test", DATABASE_URL=child_database_url(), GUNICORN_WORKERS="2"
    )
    with log_path.open("wb") as log:
        # As docker/Dockerfile starts it: the worker count comes from the settings file.
        process, _base = start_gunicorn(env, "--config", "python:memoryweb.gunicorn_conf", log=log)
    try:
        # Both workers were started, and the one that answered /api/v1/health (which
        # embeds nothing) had loaded the model before it took that first request.
        log_text = log_path.read_text()
        assert log_text.count("Booting worker") == 2
        assert log_text.count(ready_message(MiniLMBackend.name)) >= 1
    finally:
        stop_gunicorn(process)


@pytest.mark.slow
def test_it_serves_the_app_with_gunicorn_in_production_mode(gunicorn):
    base, _ = gunicorn
    # Asked without credentials, as load balancers ask: the status, nothing more.
    health = httpx.get(f"{base}/api/v1/health", headers={"Host": "127.0.0.1"})
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    # The container's own probe (docker/Dockerfile) finds it healthy.
    probe = subprocess.run(
        [sys.executable, "-c", container_probe().replace("http://127.0.0.1:8000", base)],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert probe.returncode == 0, probe.stderr

    plain = httpx.get(f"{base}/login/", headers={"Host": "memory.example.com"})
    assert plain.status_code == 301
    assert plain.headers["location"] == "https://memory.example.com/login/"

    page = httpx.get(f"{base}/login/", headers=HTTPS)
    assert page.status_code == 200
    assert page.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"]
    assert "csrftoken=" in cookie and "Secure" in cookie

    # Static files come from the collected, hashed copies, never from a CDN.
    link = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    assert link is not None
    stylesheet = link[1]
    assert re.fullmatch(r"/static/css/memoryweb\.[0-9a-f]{12}\.css", stylesheet), stylesheet
    css = httpx.get(f"{base}{stylesheet}", headers=HTTPS)
    assert css.status_code == 200 and "max-age" in css.headers["cache-control"]

    unknown_host = httpx.get(f"{base}/login/", headers={**HTTPS, "Host": "evil.example"})
    assert unknown_host.status_code == 400


def test_it_sends_security_headers_on_pages_and_the_api(client, db):
    for path in ("/login/", "/api/v1/health"):
        response = client.get(path)
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "object-src 'none'" in policy
        assert "http" not in policy  # no other origin may serve scripts or styles
        assert "camera=()" in response["Permissions-Policy"]


@pytest.fixture
def fresh_login_counters() -> Any:
    cache.clear()
    yield
    cache.clear()


def test_it_limits_failed_sign_ins(db, django_user_model, settings, fresh_login_counters):
    settings.LOGIN_RATE_LIMIT = (3, 60)
    django_user_model.objects.create_user("maya", password="a long right password")
    client = Client()
    for _ in range(3):
        wrong = client.post("/login/", {"username": "maya", "password": "wrong"})
        assert wrong.status_code == 200 and "_auth_user_id" not in client.session

    refused = client.post("/login/", {"username": "maya", "password": "a long right password"})
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.content.decode()
    assert "_auth_user_id" not in client.session

    # Another address guessing at the same account is refused too.
    elsewhere = Client(REMOTE_ADDR="10.0.0.9")
    again = elsewhere.post("/login/", {"username": "MAYA", "password": "a long right password"})
    assert again.status_code == 429


def test_it_signs_in_after_fewer_failures_than_the_limit(
    db, django_user_model, settings, fresh_login_counters
):
    settings.LOGIN_RATE_LIMIT = (3, 60)
    django_user_model.objects.create_user("maya", password="a long right password")
    client = Client()
    client.post("/login/", {"username": "maya", "password": "wrong"})
    ok = client.post("/login/", {"username": "maya", "password": "a long right password"})
    assert ok.status_code == 302 and "_auth_user_id" in client.session


def test_every_form_carries_a_csrf_token(client, db):
    enforcing = Client(enforce_csrf_checks=True)
    response = enforcing.post("/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403  # no token, refused
    page = client.get("/login/").content.decode()
    # Dialog forms only close their dialog; every form that posts carries the token.
    assert page.count('method="post"') >= 1
    assert page.count('method="post"') == page.count('name="csrfmiddlewaretoken"')
