"""GET /api/v1/health reports the database, pgvector, the broker and the workers."""

from __future__ import annotations

import shutil

import pytest

from memoryweb import embedded
from tests.conftest import free_port


def test_it_reports_database_pgvector_and_broker_up(client, db):
    response = client.get("/api/v1/health")
    body = response.json()
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["pgvector"]["status"] == "up"
    assert body["checks"]["broker"]["status"] == "up"
    # No worker runs in this test: the server still serves, in a degraded state.
    assert body["checks"]["worker"]["status"] == "down"
    assert body["status"] == "degraded"


def test_it_refuses_other_methods(client, db):
    assert client.post("/api/v1/health").status_code == 405


@pytest.mark.services
def test_it_reports_a_stopped_broker_as_down(client, db, settings):
    directory = embedded.VAR_DIR / f"test-broker-{free_port()}"
    port = free_port()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
    embedded.start_valkey(directory, port, persistent=False)
    try:
        assert client.get("/api/v1/health").json()["checks"]["broker"]["status"] == "up"
    finally:
        embedded.stop_valkey(directory)
        shutil.rmtree(directory, ignore_errors=True)

    response = client.get("/api/v1/health")
    body = response.json()
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["broker"]["error"]
    assert body["checks"]["worker"]["status"] == "unknown"
    assert body["checks"]["database"]["status"] == "up"
    assert body["status"] == "degraded"
    assert response.status_code == 200


@pytest.mark.services
def test_it_reports_a_running_worker(client, celery_worker_process):
    body = client.get("/api/v1/health").json()
    assert body["checks"]["worker"]["status"] == "up"
    assert celery_worker_process in body["checks"]["worker"]["workers"]
    assert body["status"] == "ok"
