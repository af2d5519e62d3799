"""Readiness of each part the server depends on, for GET /api/v1/health."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from kombu import Connection

from apps.core.pgvector import vector_extension_status
from memoryweb.celery import app as celery_app

Check = dict[str, Any]


def _without_password(text: str) -> str:
    return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", text)


def _timed(probe: Callable[[], Check]) -> Check:
    started = time.perf_counter()
    try:
        result = probe()
    except Exception as exc:  # a health check reports failures, it does not raise them
        result = {"status": "down", "error": _without_password(f"{type(exc).__name__}: {exc}")}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_database() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        (version,) = cursor.fetchone()
    return {"status": "up", "version": version}


def check_pgvector() -> Check:
    available, installed = vector_extension_status(connection)
    if installed is None:
        return {
            "status": "down",
            "error": "the vector extension is not installed",
            "available": available,
        }
    return {"status": "up", "version": installed}


def _broker_connection(url: str) -> Connection:
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    return Connection(url, connect_timeout=timeout, transport_options={"socket_timeout": timeout})


def check_broker(url: str) -> Check:
    with _broker_connection(url) as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.HEALTH_CHECK_TIMEOUT_SECONDS)
        transport = conn.transport_cls
    return {"status": "up", "transport": str(transport)}


def check_workers(url: str) -> Check:
    with _broker_connection(url) as conn:
        replies = celery_app.control.ping(timeout=1.0, connection=conn)
    workers = sorted(name for reply in replies or [] for name in reply)
    if not workers:
        return {"status": "down", "error": "no worker answered", "workers": []}
    return {"status": "up", "workers": workers}


def run_checks(*, ask_workers: bool = True) -> dict[str, Any]:
    """Every check, and the overall status: "ok", "degraded" (storage works, the broker
    or the workers do not) or "down" (no storage). Asking the workers waits a second for
    their answers; without it the status says nothing about them."""
    broker_url = settings.CELERY_BROKER_URL
    checks: dict[str, Check] = {"database": _timed(check_database)}
    if checks["database"]["status"] == "up":
        checks["pgvector"] = _timed(check_pgvector)
    else:
        checks["pgvector"] = {"status": "unknown", "error": "database is down"}
    checks["broker"] = _timed(lambda: check_broker(broker_url))
    if ask_workers:
        checks["worker"] = (
            _timed(lambda: check_workers(broker_url))
            if checks["broker"]["status"] == "up"
            else {"status": "unknown", "error": "broker is down"}
        )
    storage_ok = checks["database"]["status"] == "up" and checks["pgvector"]["status"] == "up"
    everything_ok = all(c["status"] == "up" for c in checks.values())
    overall = "ok" if everything_ok else ("degraded" if storage_ok else "down")
    return {"status": overall, "checks": checks}
