"""Which database a read goes to: the primary, or a read replica (DATABASE_REPLICA_URLS).

Nothing is routed behind the callers' backs. The reads that may be a moment stale —
search (REST, MCP recall, the dashboard's search and browser), the list endpoints, the
map's data, exports, the timeline — ask `for_reading(request)` for an alias and pass it
to `.using()`. Everything else, and every write, uses the primary ("default"):

- after a write, the same person or token reads from the primary for
  REPLICA_STICKY_SECONDS (`StickToPrimaryMiddleware` marks them; the mark is in the
  shared cache, so every web process sees it), so what they just wrote is what they see;
- inside a transaction the primary is used, so a read sees the transaction's writes;
- a replica that does not answer, or whose replay lags more than REPLICA_MAX_LAG_SECONDS,
  is skipped until it is checked again (every CHECK_SECONDS, per process): the primary
  answers instead, so a replica going down costs no failed request.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse

from apps.core.ttl import TtlCache

logger = logging.getLogger(__name__)

PRIMARY = "default"
# How long a replica's health (answering, lag) is trusted before it is checked again.
CHECK_SECONDS = 5.0
# A replica's replay lag in seconds: none when it has replayed everything it received
# (an idle primary sends nothing, so the time since the last replayed commit would
# grow without any lag), else the age of the last transaction it replayed.
_LAG = """
    SELECT pg_is_in_recovery(),
           CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
           END
"""
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# alias -> whether it is usable, checked again after CHECK_SECONDS
_health: TtlCache[str, bool] = TtlCache(CHECK_SECONDS, max_entries=64)


def replica_aliases() -> list[str]:
    return list(settings.REPLICA_DATABASES)


def actor_key(request: HttpRequest | None) -> str:
    """Who is asking, as the sticky mark names them: their token, else their account;
    empty for an anonymous request."""
    if request is None:
        return ""
    token = getattr(request, "auth", None)
    if token is not None and getattr(token, "pk", None) is not None:
        return f"token:{token.pk}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and getattr(user, "pk", None) is not None:
        return f"user:{user.pk}"
    return ""


def _sticky_key(key: str) -> str:
    return f"replicas:wrote:{key}"


def stick_to_primary(request: HttpRequest) -> None:
    """The caller of `request` wrote: their reads use the primary for a while."""
    key = actor_key(request)
    if key and replica_aliases():
        cache.set(_sticky_key(key), 1, timeout=settings.REPLICA_STICKY_SECONDS)


def wrote_recently(request: HttpRequest | None) -> bool:
    key = actor_key(request)
    return bool(key) and cache.get(_sticky_key(key)) is not None


def replica_lag(alias: str) -> float:
    """Seconds the replica's replay is behind; raises DatabaseError when it does not
    answer, ValueError when the alias is not a replica in recovery at all."""
    with connections[alias].cursor() as cursor:
        cursor.execute(_LAG)
        in_recovery, lag = cursor.fetchone()
    if not in_recovery:
        raise ValueError(f"{alias} is not a replica (pg_is_in_recovery() is false)")
    return float(lag)


def is_usable(alias: str) -> bool:
    """Whether `alias` answers and lags no more than REPLICA_MAX_LAG_SECONDS; remembered
    for CHECK_SECONDS."""
    return _health.get(alias, lambda: _check(alias))


def _check(alias: str) -> bool:
    try:
        lag = replica_lag(alias)
    except (DatabaseError, ValueError) as exc:
        logger.warning("replica %s is not usable (%s): reads go to the primary", alias, exc)
        connections[alias].close()
        return False
    if lag > settings.REPLICA_MAX_LAG_SECONDS:
        logger.warning("replica %s lags %.1f s: reads go to the primary", alias, lag)
        return False
    return True


def forget_health() -> None:
    """Check every replica again on its next use (after it was restarted, say)."""
    _health.forget()


def for_reading(request: HttpRequest | None) -> str:
    """The alias for a read that may be a moment stale: a usable replica, or the
    primary when there is none, the caller wrote recently, or a transaction is open."""
    aliases = replica_aliases()
    if not aliases or connections[PRIMARY].in_atomic_block or wrote_recently(request):
        return PRIMARY
    random.shuffle(aliases)
    for alias in aliases:
        if is_usable(alias):
            return alias
    return PRIMARY


def reads_only(request: Any) -> None:
    """Say that this request, though not a GET, writes nothing its caller reads back
    (a search is a POST for its body; its Recall row is not what the caller reads)."""
    # A DRF request wraps the Django request the middleware sees.
    django_request = getattr(request, "_request", request)
    django_request.replicas_reads_only = True


class StickToPrimaryMiddleware:
    """Marks the caller of every successful write request (any method but GET, HEAD,
    OPTIONS, TRACE) so that their next reads go to the primary."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        response = self.get_response(request)
        if (
            request.method not in _SAFE_METHODS
            and response.status_code < 400
            and not getattr(request, "replicas_reads_only", False)
        ):
            stick_to_primary(request)
        return response
