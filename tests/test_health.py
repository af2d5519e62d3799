"""GET /api/v1/health: to anyone, whether the server is up; to an admin, the database,
pgvector, the broker and the workers in detail."""

from __future__ import annotations

import json
import shutil
import socket
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client

from apps.core import health
from apps.spaces.models import ApiToken, Scope, Space
from memoryweb import embedded
from memoryweb.celery import app as celery_app
from tests.api.conftest import bearer, error_of
from tests.conftest import free_port


@pytest.fixture
def staff_client(client: Client, django_user_model: Any) -> Client:
    staff = django_user_model.objects.create_user("ops", password="pw-ops-123456", is_staff=True)
    client.force_login(staff)
    return client


def token_client(space: Space, scopes: list[str]) -> Any:
    _token, raw = ApiToken.issue(space=space, name="monitor", scopes=scopes)
    return bearer(raw)


@pytest.fixture
def worker_pings(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Records every worker ping the health check sends (and answers none)."""
    sent: list[dict[str, Any]] = []

    def ping(destination: list[str] | None = None, timeout: float = 1.0, **kwargs: Any) -> list:
        sent.append({"destination": destination, "timeout": timeout, **kwargs})
        return []

    monkeypatch.setattr(celery_app.control, "ping", ping)
    return sent


def assert_only_the_status(response: Any, status: str) -> None:
    assert response.json() == {"status": status}
    text = response.content.decode()
    assert "version" not in text and socket.gethostname() not in text


def test_it_reports_database_pgvector_and_broker_up(staff_client, db):
    response = staff_client.get("/api/v1/health")
    body = response.json()
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["database"]["version"]
    assert body["checks"]["pgvector"]["status"] == "up"
    assert body["checks"]["broker"]["status"] == "up"
    # No worker runs in this test: the server still serves, in a degraded state.
    assert body["checks"]["worker"]["status"] == "down"
    assert body["status"] == "degraded"


def test_it_tells_an_anonymous_caller_only_whether_it_is_up(client, db, worker_pings):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    # The database, pgvector and the broker answer; the workers are not asked.
    assert_only_the_status(response, "ok")
    assert worker_pings == []


def test_it_tells_a_token_without_the_admin_scope_only_whether_it_is_up(space, db, worker_pings):
    writer = token_client(space, [Scope.MEMORIES_READ, Scope.MEMORIES_WRITE])
    response = writer.get("/api/v1/health")
    assert response.status_code == 200
    assert_only_the_status(response, "ok")
    assert worker_pings == []


def test_it_tells_a_signed_in_person_who_is_not_staff_only_whether_it_is_up(
    client, alice, worker_pings
):
    client.force_login(alice)
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert_only_the_status(response, "ok")
    assert worker_pings == []


def test_it_shows_the_details_to_a_token_with_the_admin_scope(space, db, worker_pings):
    admin = token_client(space, [Scope.ADMIN])
    response = admin.get("/api/v1/health")
    body = response.json()
    assert response.status_code == 200
    assert set(body["checks"]) == {"database", "pgvector", "broker", "worker"}
    assert body["checks"]["pgvector"]["version"]
    assert body["checks"]["worker"] == {
        "status": "down",
        "error": "no worker answered",
        "workers": [],
        "latency_ms": body["checks"]["worker"]["latency_ms"],
    }
    assert len(worker_pings) == 1


def test_it_refuses_an_invalid_token_instead_of_answering_as_anonymous(db):
    response = bearer("mw_nope_not-a-real-secret").get("/api/v1/health")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_it_refuses_other_methods(client, db):
    assert client.post("/api/v1/health").status_code == 405


@pytest.mark.services
def test_it_reports_a_stopped_broker_as_down(staff_client, db, settings):
    directory = embedded.VAR_DIR / f"test-broker-{free_port()}"
    port = free_port()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
    embedded.start_valkey(directory, port, persistent=False)
    try:
        assert staff_client.get("/api/v1/health").json()["checks"]["broker"]["status"] == "up"
    finally:
        embedded.stop_valkey(directory)
        shutil.rmtree(directory, ignore_errors=True)

    response = staff_client.get("/api/v1/health")
    body = response.json()
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["broker"]["error"]
    assert body["checks"]["worker"]["status"] == "unknown"
    assert body["checks"]["database"]["status"] == "up"
    assert body["status"] == "degraded"
    assert response.status_code == 200

    anonymous = Client().get("/api/v1/health")
    assert anonymous.status_code == 200
    assert_only_the_status(anonymous, "degraded")


def test_it_answers_503_down_when_the_database_is_away(client, db, monkeypatch):
    def check_database() -> dict[str, Any]:
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(health, "check_database", check_database)
    response = client.get("/api/v1/health")
    assert response.status_code == 503
    assert_only_the_status(response, "down")


@pytest.mark.services
def test_it_reports_a_running_worker(staff_client, celery_worker_process):
    body = staff_client.get("/api/v1/health").json()
    assert body["checks"]["worker"]["status"] == "up"
    assert celery_worker_process in body["checks"]["worker"]["workers"]
    assert body["status"] == "ok"


def test_its_public_answer_carries_no_error_text(client, db, settings):
    # An unreachable broker's error names its address: only admins may read it.
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "degraded"}
